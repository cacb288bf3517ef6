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

    /// <summary>The latest definitions asked for with an idempotency key, oldest first, at most <see cref="SkuGrain.RememberedKeys"/>.</summary>
    public List<SkuPut> Puts { get; set; } = [];
}

/// <summary>A definition asked for with an idempotency key, and what it was answered: what a retry with the key gets again.</summary>
public sealed class SkuPut
{
    public string Key { get; set; } = "";

    public string Fingerprint { get; set; } = "";

    public string BaseUnit { get; set; } = "";

    public Dictionary<string, long> Packs { get; set; } = [];

    public NegativeStockPolicy? NegativeStock { get; set; }

    public int Version { get; set; }
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

    /// <summary>
    /// Idempotency keys a SKU remembers. A SKU is redefined now and then by an operator, so the latest few cover every
    /// retry that is still coming; an older key is taken as new.
    /// </summary>
    public const int RememberedKeys = 64;

    public Task<SkuDefinition?> GetAsync() => Task.FromResult(state.RecordExists ? View() : null);

    public async Task<SkuDefinition> DefineAsync(DefineSku command) =>
        (await DefineOnceAsync(command)).Definition
        ?? throw new ArgumentException($"The idempotency key '{command.OperationId}' was used for another definition of this SKU.", nameof(command));

    public async Task<SkuResult> DefineOnceAsync(DefineSku command)
    {
        var s = state.State;
        var fingerprint = $"{command.BaseUnit}|{string.Join(',', command.Packs.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"))}|{command.NegativeStock}";
        if (command.OperationId is { } key && s.Puts.Find(p => p.Key == key) is { } earlier)
        {
            // A retry gets what the request got the first time, even if the SKU has been redefined since: applying it
            // again would undo the newer definition, and a pack's size decides every quantity entered in it.
            return earlier.Fingerprint == fingerprint
                ? new SkuResult(DefinitionOutcome.Replayed, new(this.GetPrimaryKeyString(), earlier.BaseUnit, earlier.Packs, earlier.NegativeStock, earlier.Version))
                : new SkuResult(DefinitionOutcome.OperationIdReused, null);
        }

        var unchanged = state.RecordExists && s.BaseUnit == command.BaseUnit && s.NegativeStock == command.NegativeStock
            && s.Packs.Count == command.Packs.Count && s.Packs.All(p => command.Packs.TryGetValue(p.Key, out var v) && v == p.Value);
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
        next.Puts = [.. s.Puts.Skip(Math.Max(0, s.Puts.Count - (RememberedKeys - 1)))];
        if (command.OperationId is { } newKey)
        {
            next.Puts.Add(new SkuPut
            {
                Key = newKey, Fingerprint = fingerprint, BaseUnit = next.BaseUnit, Packs = next.Packs, NegativeStock = next.NegativeStock, Version = next.Version,
            });
        }

        state.State = next;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Not stored: the grain goes on with the definition that is.
            state.State = s;
            throw;
        }

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

    private SkuDefinition View() =>
        new(this.GetPrimaryKeyString(), state.State.BaseUnit, state.State.Packs, state.State.NegativeStock, state.State.Version);

    [LoggerMessage(Level = LogLevel.Information, Message = "SKU {Sku}: negative-stock policy {Policy} pushed to {Lines} lines.")]
    private partial void LogPolicyPushed(string sku, NegativeStockPolicy policy, int lines);
}
