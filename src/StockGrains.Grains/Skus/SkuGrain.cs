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

    public async Task<SkuDefinition> DefineAsync(DefineSku command)
    {
        var s = state.State;
        var unchanged = state.RecordExists && s.BaseUnit == command.BaseUnit && s.NegativeStock == command.NegativeStock
            && s.Packs.Count == command.Packs.Count && s.Packs.All(p => command.Packs.TryGetValue(p.Key, out var v) && v == p.Value);
        if (unchanged)
        {
            return View();
        }

        var policyChanged = command.NegativeStock is not null && command.NegativeStock != s.NegativeStock;
        state.State = new SkuState
        {
            BaseUnit = command.BaseUnit,
            Packs = new Dictionary<string, long>(command.Packs, StringComparer.Ordinal),
            NegativeStock = command.NegativeStock,
            Version = s.Version + 1,
        };
        await state.WriteStateAsync();
        if (policyChanged)
        {
            await PushPolicyAsync(command.Actor);
        }

        return View();
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
