using StockGrains.Grains.TradePolicies;
using StockGrains.Stock;
using StockGrains.TradePolicies;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.TradePolicies;

/// <summary>The read model repairs itself from the store when a line's push never arrived.</summary>
[Collection(nameof(ServerCollection))]
public sealed class AvailabilityRefreshTests(ServerFixture fixture)
{
    private ServerHost Host => fixture.Host;

    // Proves a change whose push was lost (made durable by a silo that stopped before its next send) still reaches the
    // read model: a SKU read more than a minute after its last rebuild is read from the store again, and until then
    // the read is answered from memory.
    [Fact]
    public async Task A_change_whose_push_was_lost_reaches_the_read_model_a_minute_after_the_last_rebuild()
    {
        var sku = Fresh.Id("sku");
        string seen = Fresh.Id("w"), lost = Fresh.Id("w");
        await Host.Grains.GetGrain<IStockLineGrain>(StockKey.Create(seen, sku).ToString()).ReceiveAsync(new ReceiveCommand("in", 5, "op"));
        Assert.Equal(5, await AvailableWhenAsync(sku, seen, [seen, lost], 5));

        // The other warehouse's receipt is durable, but no line is active to push it: only the store knows.
        var at = Host.Clock.GetUtcNow();
        await Host.Store.AppendAsync(StockKey.Create(lost, sku).ToString(), 0,
            [new LedgerEntry(1, LedgerEntryKind.Received, 7, null, null, Fresh.Id("op"), "op", null, at, 7, 0, 0, 0, NegativeStockPolicy.Block, null, "receive|7|")]);
        Assert.Equal(0, await AvailableAsync(sku, lost, [seen, lost]));

        Host.Clock.Advance(AvailabilityShardGrain.RefreshAfter);
        Assert.Equal(7, await AvailableWhenAsync(sku, lost, [seen, lost], 7));
        Assert.Equal(5, await AvailableAsync(sku, seen, [seen, lost]));
    }

    private async Task<long> AvailableAsync(string sku, string warehouse, string[] warehouses) =>
        (await Host.Grains.AvailabilityAsync(sku, warehouses)).Single(w => w.Warehouse == warehouse).Available;

    /// <summary>Reads until the warehouse shows <paramref name="expected"/>, at most 5 s, and returns the last answer.</summary>
    private async Task<long> AvailableWhenAsync(string sku, string warehouse, string[] warehouses, long expected)
    {
        var available = long.MinValue;
        for (var attempt = 0; attempt < 50 && available != expected; attempt++)
        {
            available = await AvailableAsync(sku, warehouse, warehouses);
            if (available != expected)
            {
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
        }

        return available;
    }
}
