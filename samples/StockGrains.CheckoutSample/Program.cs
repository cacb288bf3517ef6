using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StockGrains.CheckoutSample;
using StockGrains.Reservations;

// Usage: dotnet run --project samples/StockGrains.CheckoutSample -- [gatewayPort] [reservationId] [warehouse] [sku] [quantity]
// Connects to a StockGrains server on this machine (default gateway port 30000) and reserves one line.
var gatewayPort = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 30_000;
var reservationId = args.Length > 1 ? args[1] : $"sample-{Guid.NewGuid():N}";
var warehouse = args.Length > 2 ? args[2] : "w1";
var sku = args.Length > 3 ? args[3] : "mug";
var quantity = args.Length > 4 ? long.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : 1;

using var host = Host.CreateDefaultBuilder()
    .UseOrleansClient(client => client.UseLocalhostClustering(gatewayPort, serviceId: "stockgrains", clusterId: "stockgrains-dev"))
    .Build();
await host.StartAsync();

var checkout = new CheckoutClient(host.Services.GetRequiredService<IClusterClient>());
var result = await checkout.ReserveAsync(reservationId, [new ReservationLineRequest(sku, warehouse, quantity)]);
Console.WriteLine($"{reservationId}: {result.Outcome} {result.Reservation?.Status}");
await host.StopAsync();
