using StockGrains.Reservations;

namespace StockGrains.CheckoutSample;

/// <summary>
/// How a checkout service reserves stock through the Orleans client: one call to the order's reservation grain,
/// retried with the same reservation id when the outcome is unknown, so a retry never holds twice.
/// </summary>
public sealed class CheckoutClient(IClusterClient client)
{
    /// <summary>Attempts per call before the caller is told the outcome is still unknown.</summary>
    public const int MaxAttempts = 5;

    public async Task<ReservationResult> ReserveAsync(string reservationId, IReadOnlyList<ReservationLineRequest> lines, string? tradePolicy = null,
        int ttlSeconds = 900, CancellationToken cancellationToken = default)
    {
        var order = client.GetGrain<IReservationGrain>(reservationId);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await order.PlaceAsync(new PlaceReservation(lines, ttlSeconds, "checkout", tradePolicy));
            }
            catch (TimeoutException) when (attempt < MaxAttempts)
            {
                // The outcome is unknown: ask again with the same id, which returns the original outcome.
                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), cancellationToken);
            }
        }
    }

    public Task<ReservationResult> CommitAsync(string reservationId) => client.GetGrain<IReservationGrain>(reservationId).CommitAsync("checkout");

    public Task<ReservationResult> ReleaseAsync(string reservationId) => client.GetGrain<IReservationGrain>(reservationId).ReleaseAsync("checkout");
}
