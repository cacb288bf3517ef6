using Microsoft.Extensions.Logging;
using StockGrains.Grains.Storage;
using StockGrains.Skus;
using StockGrains.Stock;

namespace StockGrains.Grains.Skus;

/// <summary>The stored definition of a SKU.</summary>
public sealed class SkuState
{
    public string BaseUnit { get; set; } = "";

    public Dictionary<string, long> Packs { get; set; } = [];

    public NegativeStockPolicy? NegativeStock { get; set; }

    public int Version { get; set; }

    /// <summary>The latest definitions asked for with an idempotency key, and their answers (<see cref="RememberedKeys"/>).</summary>
    public List<RememberedKey<SkuDefinition>> Puts { get; set; } = [];
}

/// <summary>
/// A SKU's definition: its base unit, its packs, and the negative-stock policy its lines inherit. A policy change is
/// pushed to every line of the SKU as a ledger entry; a line whose own policy was set keeps it.
/// </summary>
public sealed partial class SkuGrain(
    [PersistentState("sku", StorageNames.Snapshots)] IPersistentState<SkuState> state,
    ILedgerStore store,
    ILogger<SkuGrain> logger) : Grain, ISkuGrain
{
    /// <summary>Most lines one SKU-wide policy change reaches: one per warehouse, so this is generous.</summary>
    public const int MaxLinesPerSku = 10_000;

    public Task<SkuDefinition?> GetAsync() => Task.FromResult(state.RecordExists ? View() : null);

    public async Task<SkuDefinition> DefineAsync(DefineSku command) =>
        (await DefineOnceAsync(command)).Definition
        ?? throw new ArgumentException($"The idempotency key '{command.OperationId}' was used for another definition of this SKU.", nameof(command));

    public async Task<SkuResult> DefineOnceAsync(DefineSku command)
    {
        var s = state.State;
        var fingerprint = Fingerprint(command.BaseUnit, command.Packs, command.NegativeStock);
        if (RememberedKeys.Earlier(s.Puts, command.OperationId, fingerprint) is { } earlier)
        {
            // A pack's size decides every quantity entered in it: a late retry applied again would undo a newer one.
            return new SkuResult(earlier.Outcome, earlier.Answer);
        }

        var unchanged = state.RecordExists && Fingerprint(s.BaseUnit, s.Packs, s.NegativeStock) == fingerprint;
        if (unchanged && command.OperationId is null)
        {
            return new SkuResult(DefinitionOutcome.Unchanged, View());
        }

        var policyChanged = !unchanged && command.NegativeStock is not null && command.NegativeStock != s.NegativeStock;
        var next = unchanged
            ? new SkuState { BaseUnit = s.BaseUnit, Packs = s.Packs, NegativeStock = s.NegativeStock, Version = s.Version }
            : new SkuState
            {
                BaseUnit = command.BaseUnit,
                Packs = new Dictionary<string, long>(command.Packs, StringComparer.Ordinal),
                NegativeStock = command.NegativeStock,
                Version = s.Version + 1,
            };
        next.Puts = RememberedKeys.With(s.Puts, command.OperationId, fingerprint, View(next));
        await state.WriteOrKeepAsync(next);

        if (policyChanged)
        {
            await PushPolicyAsync(command.Actor);
        }

        return new SkuResult(unchanged ? DefinitionOutcome.Unchanged : DefinitionOutcome.Defined, View());
    }

    /// <summary>
    /// Sends the SKU's policy to each of its lines. The operation id names the definition version, so a repeat of the
    /// same push (after a crash, or a retried request) applies once per line.
    /// </summary>
    private async Task PushPolicyAsync(string actor)
    {
        var sku = this.GetPrimaryKeyString();
        var policy = state.State.NegativeStock!.Value;
        var lines = await store.LinesOfSkuAsync(sku, MaxLinesPerSku);
        var command = new SetPolicyCommand($"sku:{sku}:v{state.State.Version}", policy, 0, actor, PolicySource.Sku);
        await Task.WhenAll(lines.Select(line => GrainFactory.GetGrain<IStockLineGrain>(line).SetPolicyAsync(command)));
        LogPolicyPushed(sku, policy, lines.Count);
    }

    private SkuDefinition View() => View(state.State);

    private SkuDefinition View(SkuState sku) => new(this.GetPrimaryKeyString(), sku.BaseUnit, sku.Packs, sku.NegativeStock, sku.Version);

    /// <summary>What makes two definitions the same: the base unit, the packs in name order, the policy.</summary>
    private static string Fingerprint(string baseUnit, IReadOnlyDictionary<string, long> packs, NegativeStockPolicy? policy) =>
        $"{baseUnit}|{string.Join(',', packs.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"))}|{policy}";

    [LoggerMessage(Level = LogLevel.Information, Message = "SKU {Sku}: negative-stock policy {Policy} pushed to {Lines} lines.")]
    private partial void LogPolicyPushed(string sku, NegativeStockPolicy policy, int lines);
}
