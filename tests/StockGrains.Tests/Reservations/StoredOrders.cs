using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using StockGrains.Grains;
using StockGrains.Grains.Reservations;
using StockGrains.Reservations;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Reservations;

/// <summary>Orders as an earlier call left them: stored straight into the grain storage, before anything activates them.</summary>
internal static class StoredOrders
{
    /// <summary>
    /// Stores order <paramref name="reservationId"/> in <paramref name="status"/> with <paramref name="attempts"/> (by
    /// default one not yet answered per line of the request), and returns the state stored.
    /// </summary>
    public static async Task<ReservationState> WriteAsync(ServerHost host, string reservationId, PlaceReservation request, ReservationStatus status,
        List<LineAttempt>? attempts = null, string storedIn = StorageNames.Orders)
    {
        var now = host.Clock.GetUtcNow();
        var state = new ReservationState
        {
            Fingerprint = ReservationGrain.Fingerprint(request),
            Status = status,
            PlacedAt = now,
            ExpiresAt = now.AddSeconds(request.TtlSeconds),
            Actor = request.Actor,
            Requested = [.. request.Lines],
            Attempts = attempts ?? request.Lines.Select(l => new LineAttempt { Sku = l.Sku, Warehouse = l.Warehouse!, Quantity = l.Quantity }).ToList(),
        };
        var storage = host.App.Services.GetRequiredKeyedService<IGrainStorage>(storedIn);
        await storage.WriteStateAsync("reservation", host.Grains.GetGrain<IReservationGrain>(reservationId).GetGrainId(), new GrainState<ReservationState> { State = state });
        return state;
    }
}
