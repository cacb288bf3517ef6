namespace StockGrains.Transfers;

[GenerateSerializer, Alias("sg.TransferStatus")]
public enum TransferStatus
{
    /// <summary>Stored, units not yet taken from the source.</summary>
    Dispatching = 0,

    /// <summary>Units left the source line and have not arrived.</summary>
    InTransit = 1,
    Received = 2,

    /// <summary>The source could not give the units (they are held, or not there). The id is spent.</summary>
    Refused = 3,
}

[GenerateSerializer, Alias("sg.TransferOutcome")]
public enum TransferOutcome
{
    Dispatched = 0,
    AlreadyDispatched = 1,
    TransferIdReused = 2,
    UnitsReserved = 3,
    InsufficientOnHand = 4,
    NotFound = 5,
    Received = 6,
    Unchanged = 7,
}

[GenerateSerializer, Immutable, Alias("sg.CreateTransfer")]
public sealed record CreateTransfer(
    [property: Id(0)] string Sku,
    [property: Id(1)] string FromWarehouse,
    [property: Id(2)] string ToWarehouse,
    [property: Id(3)] long Quantity,
    [property: Id(4)] string Actor);

[GenerateSerializer, Immutable, Alias("sg.TransferView")]
public sealed record TransferView(
    [property: Id(0)] string TransferId,
    [property: Id(1)] string Sku,
    [property: Id(2)] string FromWarehouse,
    [property: Id(3)] string ToWarehouse,
    [property: Id(4)] long Quantity,
    [property: Id(5)] TransferStatus Status);

[GenerateSerializer, Immutable, Alias("sg.TransferResult")]
public sealed record TransferResult(
    [property: Id(0)] TransferOutcome Outcome,
    [property: Id(1)] TransferView? Transfer);

/// <summary>
/// A transfer between two warehouses (key: transfer id): units leave the source exactly once, are in transit, and
/// arrive at the destination exactly once. The transfer id is the operation id on both lines.
/// </summary>
[Alias("sg.ITransferGrain")]
public interface ITransferGrain : IGrainWithStringKey
{
    [Alias("Create")]
    Task<TransferResult> CreateAsync(CreateTransfer command);

    [Alias("Receive")]
    Task<TransferResult> ReceiveAsync(string actor);

    [Alias("Get")]
    Task<TransferResult> GetAsync();
}
