using StockGrains.Stock;
using StockGrains.Transfers;

namespace StockGrains.Grains.Transfers;

public sealed class TransferState
{
    public string Sku { get; set; } = "";

    public string FromWarehouse { get; set; } = "";

    public string ToWarehouse { get; set; } = "";

    public long Quantity { get; set; }

    public string Actor { get; set; } = "";

    public TransferStatus Status { get; set; }

    /// <summary>Why the source refused, when it did.</summary>
    public TransferOutcome? Refusal { get; set; }

    /// <summary>
    /// The operation id both lines record the transfer under: the transfer id with a suffix no client id can carry
    /// (<see cref="TransferGrain.LineOperationId"/>). Null for a transfer stored before it was kept, whose lines
    /// recorded the bare transfer id; it keeps that id, so its retries are still recognised.
    /// </summary>
    public string? LineOperationId { get; set; }
}

/// <summary>
/// A transfer between warehouses. The request is stored first; then the source gives the units (the transfer's
/// operation id makes a retry take them once), then the destination receives them the same way. Each step can be
/// repeated safely, so an interrupted transfer is finished by the next call.
/// </summary>
public sealed class TransferGrain(
    [PersistentState("transfer", StorageNames.Snapshots)] IPersistentState<TransferState> state) : Grain, ITransferGrain
{
    private string Id => this.GetPrimaryKeyString();

    public async Task<TransferResult> CreateAsync(CreateTransfer command)
    {
        var s = state.State;
        if (state.RecordExists)
        {
            var same = s.Sku == command.Sku && s.FromWarehouse == command.FromWarehouse && s.ToWarehouse == command.ToWarehouse
                && s.Quantity == command.Quantity;
            if (!same)
            {
                return new TransferResult(TransferOutcome.TransferIdReused, View());
            }

            await DispatchAsync();
            return new TransferResult(state.State.Refusal ?? TransferOutcome.AlreadyDispatched, View());
        }

        state.State = new TransferState
        {
            Sku = command.Sku,
            FromWarehouse = command.FromWarehouse,
            ToWarehouse = command.ToWarehouse,
            Quantity = command.Quantity,
            Actor = command.Actor,
            Status = TransferStatus.Dispatching,
            LineOperationId = LineOperationId(Id),
        };
        await state.WriteStateAsync();
        await DispatchAsync();
        return new TransferResult(state.State.Refusal ?? TransferOutcome.Dispatched, View());
    }

    public async Task<TransferResult> ReceiveAsync(string actor)
    {
        if (!state.RecordExists || state.State.Status == TransferStatus.Refused)
        {
            return new TransferResult(TransferOutcome.NotFound, null);
        }

        await DispatchAsync();
        if (state.State.Status == TransferStatus.Refused)
        {
            // The units never left the source (its answer came only now, to this retry of the dispatch): there is
            // nothing to receive, and receiving anyway would make units out of nothing.
            return new TransferResult(TransferOutcome.NotFound, null);
        }

        if (state.State.Status == TransferStatus.Received)
        {
            return new TransferResult(TransferOutcome.Unchanged, View());
        }

        var s = state.State;
        var result = await Line(s.ToWarehouse).TransferInAsync(new TransferCommand(s.LineOperationId ?? Id, s.Quantity, s.FromWarehouse, actor));
        if (result.Outcome is not (StockLineOutcome.TransferredIn or StockLineOutcome.AlreadyTransferred))
        {
            throw new InvalidOperationException($"Transfer {Id}: the destination answered {result.Outcome}.");
        }

        s.Status = TransferStatus.Received;
        await state.WriteStateAsync();
        return new TransferResult(TransferOutcome.Received, View());
    }

    public Task<TransferResult> GetAsync() =>
        Task.FromResult(state.RecordExists && state.State.Status != TransferStatus.Refused
            ? new TransferResult(TransferOutcome.Unchanged, View())
            : new TransferResult(TransferOutcome.NotFound, null));

    /// <summary>Takes the units from the source if that has not happened yet. Idempotent by the transfer id.</summary>
    private async Task DispatchAsync()
    {
        var s = state.State;
        if (s.Status != TransferStatus.Dispatching)
        {
            return;
        }

        var result = await Line(s.FromWarehouse).TransferOutAsync(new TransferCommand(s.LineOperationId ?? Id, s.Quantity, s.ToWarehouse, s.Actor));
        (s.Status, s.Refusal) = result.Outcome switch
        {
            StockLineOutcome.TransferredOut or StockLineOutcome.AlreadyTransferred => (TransferStatus.InTransit, (TransferOutcome?)null),
            StockLineOutcome.UnitsReserved => (TransferStatus.Refused, TransferOutcome.UnitsReserved),
            StockLineOutcome.InsufficientOnHand => (TransferStatus.Refused, TransferOutcome.InsufficientOnHand),
            _ => throw new InvalidOperationException($"Transfer {Id}: the source answered {result.Outcome}."),
        };
        await state.WriteStateAsync();
    }

    /// <summary>
    /// A line has one space of operation ids, which receipts' idempotency keys and reservations' ids share with
    /// transfers. A transfer recorded under its bare id would clash with a receipt or a hold of the same id at its
    /// destination, after its units had left the source: they could never arrive. A colon is in no client's id.
    /// </summary>
    internal static string LineOperationId(string transferId) => transferId + ":transfer";

    private IStockLineGrain Line(string warehouse) =>
        GrainFactory.GetGrain<IStockLineGrain>(StockKey.Create(warehouse, state.State.Sku).ToString());

    private TransferView View() =>
        new(Id, state.State.Sku, state.State.FromWarehouse, state.State.ToWarehouse, state.State.Quantity, state.State.Status);
}
