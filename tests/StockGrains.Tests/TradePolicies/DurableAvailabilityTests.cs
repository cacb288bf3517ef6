using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StockGrains.Grains.Storage;
using StockGrains.Stock;
using StockGrains.Tests.Infrastructure;
using StockGrains.TradePolicies;

namespace StockGrains.Tests.TradePolicies;

/// <summary>The read model is fed only what is durable: a line with changes still in flight publishes its ledger's balances, not its live ones.</summary>
public sealed class DurableAvailabilityTests
{
    // Proves the read model never shows a hold whose entry is not yet durable, while an earlier append of the same line has already become durable.
    [Fact]
    public async Task A_line_publishes_only_what_its_ledger_holds_while_a_later_append_is_in_flight()
    {
        await using var host = await ServerHost.StartAsync(null, null, "--StockGrains:Store=PostgreSql",
            $"--StockGrains:ConnectionString={await PostgresTestDatabase.CreateAsync()}");
        var (warehouse, sku) = (Fresh.Id("w"), Fresh.Id("sku"));
        var key = StockKey.Create(warehouse, sku).ToString();
        var line = host.Grains.GetGrain<IStockLineGrain>(key);
        var expires = host.Clock.GetUtcNow().AddHours(1);
        await line.ReceiveAsync(new ReceiveCommand("in", 10, "op"));
        var store = host.App.Services.GetRequiredService<ILedgerStore>();

        // Another session holds the row the line's third entry will take, uncommitted, and holds every writer back
        // until the line has decided both holds: the first append then commits, and the second waits on that row.
        await using var blocker = await host.App.Services.GetRequiredService<PostgresDatabase>().DataSource.OpenConnectionAsync(TestContext.Current.CancellationToken);
        await using var transaction = await blocker.BeginTransactionAsync(TestContext.Current.CancellationToken);
        await ExecuteAsync(blocker, transaction,
            "INSERT INTO stock_ledger (line, sequence, kind, quantity, operation_id, actor, at_ticks, on_hand_after, reserved_after, committed_after, " +
            "safety_stock_after, policy_after, fingerprint) VALUES ($1, 3, 'received', 1, 'blocker', 'test', 0, 11, 1, 0, 0, 'block', 'x')", key);
        await transaction.SaveAsync("writers", TestContext.Current.CancellationToken);
        await ExecuteAsync(blocker, transaction, "LOCK TABLE stock_ledger IN SHARE MODE");

        var first = line.ReserveAsync(new ReserveCommand("first", 1, expires, "checkout"));
        await LedgerWriters.BusyAsync(store);

        var second = line.ReserveAsync(new ReserveCommand("second", 2, expires, "checkout"));
        await Task.Delay(100, TestContext.Current.CancellationToken);
        await transaction.RollbackAsync("writers", TestContext.Current.CancellationToken);
        Assert.Equal(StockLineOutcome.Reserved, (await first.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken)).Outcome);

        // The first hold reaches the read model; the second, still waiting for its row, does not.
        Assert.Equal(1, await ReservedAsync(host, warehouse, sku, until: 1));
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.Equal(1, await ReservedAsync(host, warehouse, sku, until: 1));
        Assert.False(second.IsCompleted);

        await transaction.RollbackAsync(TestContext.Current.CancellationToken);
        Assert.Equal(StockLineOutcome.Reserved, (await second.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken)).Outcome);
        Assert.Equal(3, await ReservedAsync(host, warehouse, sku, until: 3));
    }

    /// <summary>The units the read model shows reserved at the warehouse, once it shows <paramref name="until"/> (or after ten seconds).</summary>
    private static async Task<long> ReservedAsync(ServerHost host, string warehouse, string sku, long until)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var reserved = (await host.Grains.AvailabilityAsync(sku, [warehouse])).SingleOrDefault(a => a.Warehouse == warehouse)?.Reserved ?? 0;
            if (reserved == until || waited.Elapsed > TimeSpan.FromSeconds(10))
            {
                return reserved;
            }

            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, params object[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }
}
