using StockGrains.Stock;

namespace StockGrains.Grains.Storage;

/// <summary>
/// How ledger values are written in the database: kinds and policies as stable snake_case words (never enum
/// numbers), times as UTC ticks so that a round trip is exact.
/// </summary>
public static class LedgerFormat
{
    public static string Kind(LedgerEntryKind kind) => kind switch
    {
        LedgerEntryKind.Received => "received",
        LedgerEntryKind.Reserved => "reserved",
        LedgerEntryKind.Committed => "committed",
        LedgerEntryKind.Shipped => "shipped",
        LedgerEntryKind.Released => "released",
        LedgerEntryKind.Expired => "expired",
        LedgerEntryKind.Refused => "refused",
        LedgerEntryKind.PolicyChanged => "policy_changed",
        LedgerEntryKind.Adjusted => "adjusted",
        LedgerEntryKind.ApprovalRequested => "approval_requested",
        LedgerEntryKind.ApprovalRejected => "approval_rejected",
        LedgerEntryKind.Counted => "counted",
        LedgerEntryKind.Returned => "returned",
        LedgerEntryKind.TransferredOut => "transferred_out",
        LedgerEntryKind.TransferredIn => "transferred_in",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static LedgerEntryKind ParseKind(string text) => text switch
    {
        "received" => LedgerEntryKind.Received,
        "reserved" => LedgerEntryKind.Reserved,
        "committed" => LedgerEntryKind.Committed,
        "shipped" => LedgerEntryKind.Shipped,
        "released" => LedgerEntryKind.Released,
        "expired" => LedgerEntryKind.Expired,
        "refused" => LedgerEntryKind.Refused,
        "policy_changed" => LedgerEntryKind.PolicyChanged,
        "adjusted" => LedgerEntryKind.Adjusted,
        "approval_requested" => LedgerEntryKind.ApprovalRequested,
        "approval_rejected" => LedgerEntryKind.ApprovalRejected,
        "counted" => LedgerEntryKind.Counted,
        "returned" => LedgerEntryKind.Returned,
        "transferred_out" => LedgerEntryKind.TransferredOut,
        "transferred_in" => LedgerEntryKind.TransferredIn,
        _ => throw new FormatException($"Unknown ledger kind '{text}'."),
    };

    public static string Policy(NegativeStockPolicy policy) => policy switch
    {
        NegativeStockPolicy.Block => "block",
        NegativeStockPolicy.Approval => "approval",
        NegativeStockPolicy.Allow => "allow",
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, null),
    };

    public static bool TryParsePolicy(string? text, out NegativeStockPolicy policy)
    {
        (var ok, policy) = text switch
        {
            "block" => (true, NegativeStockPolicy.Block),
            "approval" => (true, NegativeStockPolicy.Approval),
            "allow" => (true, NegativeStockPolicy.Allow),
            _ => (false, NegativeStockPolicy.Block),
        };
        return ok;
    }

    public static NegativeStockPolicy ParsePolicy(string text) =>
        TryParsePolicy(text, out var policy) ? policy : throw new FormatException($"Unknown negative-stock policy '{text}'.");

    public static long Ticks(DateTimeOffset at) => at.UtcTicks;

    public static DateTimeOffset Time(long ticks) => new(ticks, TimeSpan.Zero);
}
