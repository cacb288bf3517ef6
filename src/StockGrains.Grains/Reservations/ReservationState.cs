using StockGrains.Reservations;

namespace StockGrains.Grains.Reservations;

/// <summary>
/// The stored state of an order reservation. Written before the first line is touched (status
/// <see cref="ReservationStatus.Placing"/>) so that an interrupted placement is finished, never forgotten.
/// Its JSON shape is a persisted format, guarded by a golden-file test.
/// </summary>
public sealed class ReservationState
{
    public string Fingerprint { get; set; } = "";

    public ReservationStatus Status { get; set; }

    public DateTimeOffset PlacedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public string Actor { get; set; } = "";

    public List<ReservationLine> Lines { get; set; } = [];

    public List<ShortLine> ShortLines { get; set; } = [];
}
