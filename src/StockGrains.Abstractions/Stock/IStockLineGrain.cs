namespace StockGrains.Stock;

/// <summary>
/// One SKU at one warehouse (key: <see cref="StockKey"/> as <c>warehouse/sku</c>). Every change to the line is
/// decided here, one at a time, and acknowledged only once its ledger entry is durable.
/// </summary>
[Alias("sg.IStockLineGrain")]
public interface IStockLineGrain : IGrainWithStringKey
{
    [Alias("Get")]
    Task<StockLineView> GetAsync();

    [Alias("Receive")]
    Task<StockLineResult> ReceiveAsync(ReceiveCommand command);

    [Alias("Reserve")]
    Task<StockLineResult> ReserveAsync(ReserveCommand command);

    [Alias("Commit")]
    Task<StockLineResult> CommitAsync(HoldCommand command);

    [Alias("Ship")]
    Task<StockLineResult> ShipAsync(HoldCommand command);

    [Alias("Release")]
    Task<StockLineResult> ReleaseAsync(HoldCommand command);

    /// <summary>Expire a pending hold now, on behalf of the order it belongs to.</summary>
    [Alias("Expire")]
    Task<StockLineResult> ExpireAsync(HoldCommand command);

    [Alias("SetPolicy")]
    Task<StockLineResult> SetPolicyAsync(SetPolicyCommand command);

    [Alias("Adjust")]
    Task<StockLineResult> AdjustAsync(AdjustCommand command);

    [Alias("Count")]
    Task<StockLineResult> CountAsync(CountCommand command);

    [Alias("ResolveApproval")]
    Task<StockLineResult> ResolveApprovalAsync(ResolveApprovalCommand command);

    [Alias("Return")]
    Task<StockLineResult> ReturnAsync(ReturnCommand command);

    [Alias("TransferOut")]
    Task<StockLineResult> TransferOutAsync(TransferCommand command);

    [Alias("TransferIn")]
    Task<StockLineResult> TransferInAsync(TransferCommand command);

    [Alias("GetApprovals")]
    Task<IReadOnlyList<ApprovalView>> GetApprovalsAsync();

    [Alias("GetHold")]
    Task<HoldView?> GetHoldAsync(string reservationId);

    [Alias("GetLedger")]
    Task<LedgerPage> GetLedgerAsync(long afterSequence, int limit);

    /// <summary>Expire every hold whose time has come. Called by the line's timer and reminder; safe to repeat.</summary>
    [Alias("ExpireDue")]
    Task ExpireDueHoldsAsync();
}
