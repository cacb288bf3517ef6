using StockGrains.Grains.Storage;
using StockGrains.Stock;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Storage;

/// <summary>One writer per line: the conditional append is the fence against a second activation.</summary>
[Collection(nameof(ServerCollection))]
public sealed class FenceTests(ServerFixture fixture)
{
    private static readonly DateTimeOffset At = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static LedgerEntry Receipt(long sequence, string operationId, long onHandAfter) =>
        new(sequence, LedgerEntryKind.Received, 1, null, null, operationId, "op", null, At, onHandAfter, 0, 0, 0, NegativeStockPolicy.Block, null, "receive|1|");

    // Proves a stale activation cannot write: when another writer moved the line, the grain's append fails, its caller is told to retry, and the reloaded line includes the other writer's entry.
    [Fact]
    public Task A_line_whose_ledger_moved_under_it_fails_the_append_and_reloads() => StaleActivationAsync(fixture.Host);

    // Proves the same fence on PostgreSQL.
    [Fact]
    public async Task On_postgres_a_line_whose_ledger_moved_under_it_fails_the_append_and_reloads()
    {
        await using var host = await ServerHost.StartAsync(null, null,
            "--StockGrains:Store=PostgreSql", $"--StockGrains:ConnectionString={await PostgresTestDatabase.CreateAsync()}");
        await StaleActivationAsync(host);
    }

    private static async Task StaleActivationAsync(ServerHost host)
    {
        var key = StockKey.Create(Fresh.Id("w"), "stale").ToString();
        var grain = host.Grains.GetGrain<IStockLineGrain>(key);
        await grain.ReceiveAsync(new ReceiveCommand("first", 5, "op"));

        // Another writer (a duplicate activation elsewhere) appends sequence 2 behind this activation's back.
        await host.Store.AppendAsync(key, 1, [Receipt(2, "elsewhere", 6) with { Quantity = 1 }]);

        await Assert.ThrowsAsync<StockLineUnavailableException>(() => grain.ReceiveAsync(new ReceiveCommand("second", 10, "op")));

        StockLineResult? retried = null;
        for (var attempt = 0; attempt < 50 && retried is null; attempt++)
        {
            try
            {
                retried = await grain.ReceiveAsync(new ReceiveCommand("second", 10, "op"));
            }
            catch (StockLineUnavailableException)
            {
                await Task.Delay(100);
            }
        }

        Assert.NotNull(retried);
        Assert.Equal(StockLineOutcome.Received, retried.Outcome);
        var view = await grain.GetAsync();
        Assert.Equal((16L, 3L), (view.OnHand, view.Sequence));
    }
}
