using StockGrains.Reservations;

namespace StockGrains.Server.Reservations;

public sealed record ReservationLineRequestBody(string? Sku, long? Quantity, string? Unit, string? Warehouse);

public sealed record ReservationRequest(string? ReservationId, string? TradePolicy, List<ReservationLineRequestBody?>? Lines, int? TtlSeconds);

public sealed record ReservationLineResponse(string Sku, string Warehouse, long Quantity);

public sealed record ReservationResponse(string ReservationId, string Status, DateTimeOffset ExpiresAt, IReadOnlyList<ReservationLineResponse> Lines)
{
    public static ReservationResponse From(ReservationView v) =>
        new(v.ReservationId, StatusName(v.Status), v.ExpiresAt, v.Lines.Select(l => new ReservationLineResponse(l.Sku, l.Warehouse, l.Quantity)).ToList());

    public static string StatusName(ReservationStatus status) => status switch
    {
        ReservationStatus.Placing => "placing",
        ReservationStatus.Pending => "pending",
        ReservationStatus.Committed => "committed",
        ReservationStatus.Shipped => "shipped",
        ReservationStatus.Released => "released",
        ReservationStatus.Expired => "expired",
        ReservationStatus.Refused => "refused",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };
}
