using StockGrains.Stock;

namespace StockGrains.Reservations;

[GenerateSerializer, Alias("sg.ReservationStatus")]
public enum ReservationStatus
{
    /// <summary>The lines are being held; the outcome is not known yet.</summary>
    Placing = 0,
    Pending = 1,
    Committed = 2,
    Shipped = 3,
    Released = 4,
    Expired = 5,

    /// <summary>A line was short, so no line is held. The id is spent; a retry gets the same refusal.</summary>
    Refused = 6,
}

/// <summary>Every answer the order reservation can give.</summary>
[GenerateSerializer, Alias("sg.ReservationOutcome")]
public enum ReservationOutcome
{
    Placed = 0,
    AlreadyPlaced = 1,
    ReservationIdReused = 2,
    InsufficientStock = 3,
    NotFound = 4,
    Committed = 5,
    Shipped = 6,
    Released = 7,

    /// <summary>The transition was already made; the reservation is returned unchanged.</summary>
    Unchanged = 8,

    /// <summary>The reservation's status does not allow the transition (ship before commit, commit after release).</summary>
    InvalidTransition = 9,

    /// <summary>A line names no warehouse and the order names no known trade policy to allocate it.</summary>
    UnknownTradePolicy = 10,

    /// <summary>The reservation belongs to another client; nothing was read or changed.</summary>
    Forbidden = 11,

    /// <summary>A line was refused because the client already keeps as many pending holds there as its cap allows.</summary>
    HoldLimitReached = 12,

    /// <summary>A line asks for more units, or the order for a longer hold, than this client may; nothing is stored.</summary>
    LimitExceeded = 13,

    /// <summary>
    /// The order is malformed: no lines or too many, an id that is not canonical, a quantity below one, a hold time out
    /// of range, or two lines that would share one hold (the same SKU twice at one warehouse, or both named and left to
    /// the trade policy). Nothing is stored.
    /// </summary>
    InvalidRequest = 14,
}

[GenerateSerializer, Immutable, Alias("sg.ReservationLineRequest")]
public sealed record ReservationLineRequest(
    [property: Id(0)] string Sku,
    [property: Id(1)] string? Warehouse,
    [property: Id(2)] long Quantity,
    [property: Id(3)] EnteredQuantity? Entered = null);

/// <summary>Reserve every line or none.</summary>
[GenerateSerializer, Immutable, Alias("sg.PlaceReservation")]
public sealed record PlaceReservation(
    [property: Id(0)] IReadOnlyList<ReservationLineRequest> Lines,
    [property: Id(1)] int TtlSeconds,
    [property: Id(2)] string Actor,
    [property: Id(3)] string? TradePolicy = null);

[GenerateSerializer, Immutable, Alias("sg.ReservationLine")]
public sealed record ReservationLine(
    [property: Id(0)] string Sku,
    [property: Id(1)] string Warehouse,
    [property: Id(2)] long Quantity,
    [property: Id(3)] EnteredQuantity? Entered = null);

/// <summary>
/// A line that could not be held, with what was available when it was refused: the warehouse's, or for a line the
/// trade policy allocated (no warehouse), the policy's total.
/// </summary>
[GenerateSerializer, Immutable, Alias("sg.ShortLine")]
public sealed record ShortLine(
    [property: Id(0)] string Sku,
    [property: Id(1)] string? Warehouse,
    [property: Id(2)] long Requested,
    [property: Id(3)] long Available);

[GenerateSerializer, Immutable, Alias("sg.ReservationView")]
public sealed record ReservationView(
    [property: Id(0)] string ReservationId,
    [property: Id(1)] ReservationStatus Status,
    [property: Id(2)] DateTimeOffset ExpiresAt,
    [property: Id(3)] IReadOnlyList<ReservationLine> Lines,
    [property: Id(4)] IReadOnlyList<ShortLine> ShortLines);

[GenerateSerializer, Immutable, Alias("sg.ReservationResult")]
public sealed record ReservationResult(
    [property: Id(0)] ReservationOutcome Outcome,
    [property: Id(1)] ReservationView? Reservation);

/// <summary>
/// An order reservation (key: reservation id): holds every line or none, and moves all lines through
/// commit, ship, release and expiry together.
/// </summary>
[Alias("sg.IReservationGrain")]
public interface IReservationGrain : IGrainWithStringKey
{
    [Alias("Place")]
    Task<ReservationResult> PlaceAsync(PlaceReservation request);

    [Alias("Get")]
    Task<ReservationResult> GetAsync();

    [Alias("Commit")]
    Task<ReservationResult> CommitAsync(string actor);

    [Alias("Ship")]
    Task<ReservationResult> ShipAsync(string actor);

    [Alias("Release")]
    Task<ReservationResult> ReleaseAsync(string actor);
}
