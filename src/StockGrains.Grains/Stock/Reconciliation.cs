using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using StockGrains.Grains.Storage;
using StockGrains.Stock;

namespace StockGrains.Grains.Stock;

/// <summary>A line below zero: it holds more than it has, or has less than nothing.</summary>
public sealed record NegativeLine(string Warehouse, string Sku, long OnHand, long Reserved, long? AlertCause, long Sequence);

/// <summary>A line whose stored balances differ from a replay of its ledger. There should never be one.</summary>
public sealed record MismatchedLine(string Warehouse, string Sku, string Problem);

public sealed record ReconciliationResult(
    IReadOnlyList<NegativeLine> NegativeLines, IReadOnlyList<MismatchedLine> MismatchedLines, int ScannedLines, string? Next);

/// <summary>
/// Replays each line's ledger from the first entry and checks it against the balances the store holds for the line:
/// every entry's recorded balances, and the stored snapshot. It reads only the store, never activates a line, and
/// scans a bounded page of lines per call.
/// </summary>
public sealed class Reconciliation(ILedgerStore store, IGrainFactory grains, IServiceProvider services)
{
    /// <summary>Most lines one report scans; the caller pages on with <see cref="ReconciliationResult.Next"/>.</summary>
    public const int MaxLinesPerReport = 1_000;

    private const int PageSize = 1_000;

    public async Task<ReconciliationResult> RunAsync(string afterLine, int limit, CancellationToken cancellationToken = default)
    {
        limit = Math.Clamp(limit, 1, MaxLinesPerReport);
        var storage = services.GetRequiredKeyedService<IGrainStorage>(StorageNames.Snapshots);
        var lines = await store.LinesAsync(afterLine, limit, cancellationToken);
        var negative = new List<NegativeLine>();
        var mismatched = new List<MismatchedLine>();
        foreach (var line in lines)
        {
            var key = StockKey.Parse(line);
            var snapshot = new GrainState<StockLineSnapshot>();
            await storage.ReadStateAsync("line", grains.GetGrain<IStockLineGrain>(line).GetGrainId(), snapshot);
            var problem = await ReplayAsync(key, snapshot.RecordExists ? snapshot.State : null, cancellationToken);
            if (problem.Problem is { } text)
            {
                mismatched.Add(new MismatchedLine(key.Warehouse, key.Sku, text));
            }
            else if (StockLineRules.IsNegative(problem.Rules.OnHand, problem.Rules.Reserved, problem.Rules.Policy))
            {
                var r = problem.Rules;
                negative.Add(new NegativeLine(key.Warehouse, key.Sku, r.OnHand, r.Reserved, r.AlertCause, r.Sequence));
            }
        }

        return new ReconciliationResult(negative, mismatched, lines.Count, lines.Count == limit ? lines[^1] : null);
    }

    private async Task<(StockLineRules Rules, string? Problem)> ReplayAsync(StockKey key, StockLineSnapshot? snapshot, CancellationToken cancellationToken)
    {
        var rules = new StockLineRules(key, int.MaxValue);
        var line = key.ToString();
        try
        {
            while (true)
            {
                var page = await store.ReadAsync(line, rules.Sequence, PageSize, cancellationToken);
                foreach (var entry in page)
                {
                    rules.Apply(entry);
                    if (snapshot is not null && entry.Sequence == snapshot.Sequence && Differs(rules, snapshot) is { } difference)
                    {
                        return (rules, $"snapshot at sequence {snapshot.Sequence} differs from the ledger: {difference}");
                    }
                }

                if (page.Count < PageSize)
                {
                    break;
                }
            }
        }
        catch (LedgerMismatchException ex)
        {
            return (rules, ex.Message);
        }

        if (snapshot is not null && snapshot.Sequence > rules.Sequence)
        {
            return (rules, $"snapshot at sequence {snapshot.Sequence} is ahead of the ledger at {rules.Sequence}");
        }

        return (rules, null);
    }

    private static string? Differs(StockLineRules rules, StockLineSnapshot snapshot)
    {
        var replayed = (rules.OnHand, rules.Reserved, rules.Committed, rules.SafetyStock);
        var stored = (snapshot.OnHand, snapshot.Reserved, snapshot.Committed, snapshot.SafetyStock);
        var openHolds = snapshot.Holds.Where(h => h.Status is HoldStatus.Pending or HoldStatus.Committed).Sum(h => h.Quantity);
        if (replayed != stored)
        {
            return $"stored (on hand, reserved, committed, safety) {stored}, replayed {replayed}";
        }

        return openHolds != snapshot.Reserved ? $"stored holds add up to {openHolds}, stored reserved is {snapshot.Reserved}" : null;
    }
}
