using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StockGrains.CheckoutSample;
using StockGrains.Reservations;
using StockGrains.Stock;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Reservations;

/// <summary>A checkout service on the Orleans client, with only the wire contract, reserves through the gateway.</summary>
[Collection(nameof(ServerCollection))]
public sealed class CheckoutClientTests(ServerFixture fixture)
{
    // Proves the checkout sample (Abstractions + Microsoft.Orleans.Client only) reserves, replays and releases through a real gateway connection.
    [Fact]
    public async Task A_checkout_service_reserves_through_the_orleans_client()
    {
        var warehouse = Fresh.Id("w");
        var sku = Fresh.Id("sku");
        await fixture.Host.Grains.GetGrain<IStockLineGrain>($"{warehouse}/{sku}").ReceiveAsync(new ReceiveCommand("in", 3, "op"));

        using var clientHost = Host.CreateDefaultBuilder()
            .UseOrleansClient(client => client.UseLocalhostClustering(fixture.Host.GatewayPort, serviceId: "stockgrains", clusterId: fixture.Host.ClusterId))
            .Build();
        await clientHost.StartAsync(TestContext.Current.CancellationToken);
        var checkout = new CheckoutClient(clientHost.Services.GetRequiredService<IClusterClient>());

        var id = Fresh.Id("o");
        var placed = await checkout.ReserveAsync(id, [new ReservationLineRequest(sku, warehouse, 2)]);
        Assert.Equal(ReservationOutcome.Placed, placed.Outcome);
        Assert.Equal(ReservationOutcome.AlreadyPlaced, (await checkout.ReserveAsync(id, [new ReservationLineRequest(sku, warehouse, 2)])).Outcome);
        Assert.Equal(ReservationOutcome.InsufficientStock,
            (await checkout.ReserveAsync(Fresh.Id("o"), [new ReservationLineRequest(sku, warehouse, 2)])).Outcome);
        Assert.Equal(ReservationOutcome.Released, (await checkout.ReleaseAsync(id)).Outcome);
        Assert.Equal(3, (await fixture.Host.Grains.GetGrain<IStockLineGrain>($"{warehouse}/{sku}").GetAsync()).Available);
        await clientHost.StopAsync(TestContext.Current.CancellationToken);
    }
}
