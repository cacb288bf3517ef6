using StockGrains.Reservations;
using StockGrains.Stock;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Stock;

[Collection(nameof(ServerCollection))]
public sealed class GrainReferencesTests(ServerFixture fixture)
{
    // Proves a reference made from the cached types names the same grain and interface as Orleans' own, and reaches that grain.
    [Fact]
    public async Task A_cached_reference_is_the_grain_orleans_names_and_reaches_it()
    {
        var grains = fixture.Host.Grains;
        var key = StockKey.Create(Fresh.Id("w"), Fresh.Id("mug")).ToString();
        var usual = grains.GetGrain<IStockLineGrain>(key);
        var cached = grains.Reference<IStockLineGrain>(key);
        Assert.Equal(usual, cached);
        Assert.Equal(((GrainReference)usual).InterfaceType, ((GrainReference)cached).InterfaceType);

        await usual.ReceiveAsync(new ReceiveCommand("in", 7, "op"));
        Assert.Equal(7, (await cached.GetAsync()).OnHand);

        // Each interface keeps its own types: an order's reference is not a line's.
        var order = grains.Reference<IReservationGrain>(Fresh.Id("order"));
        Assert.Equal(grains.GetGrain<IReservationGrain>(order.GetPrimaryKeyString()).GetGrainId(), order.GetGrainId());
        Assert.NotEqual(usual.GetGrainId().Type, order.GetGrainId().Type);
    }
}
