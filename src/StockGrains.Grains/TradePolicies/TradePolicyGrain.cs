using StockGrains.TradePolicies;

namespace StockGrains.Grains.TradePolicies;

public sealed class TradePolicyState
{
    public List<string> Warehouses { get; set; } = [];

    public AllocationStrategy Allocation { get; set; }

    public int Version { get; set; }
}

/// <summary>A trade policy: the ordered warehouses a sales channel sells from, and its allocation strategy.</summary>
public sealed class TradePolicyGrain(
    [PersistentState("tradePolicy", StorageNames.Snapshots)] IPersistentState<TradePolicyState> state) : Grain, ITradePolicyGrain
{
    public Task<TradePolicyDefinition?> GetAsync() => Task.FromResult(state.RecordExists ? View() : null);

    public async Task<TradePolicyDefinition> DefineAsync(IReadOnlyList<string> warehouses, AllocationStrategy allocation)
    {
        if (state.RecordExists && state.State.Warehouses.SequenceEqual(warehouses) && state.State.Allocation == allocation)
        {
            return View();
        }

        state.State = new TradePolicyState { Warehouses = [.. warehouses], Allocation = allocation, Version = state.State.Version + 1 };
        await state.WriteStateAsync();
        return View();
    }

    private TradePolicyDefinition View() =>
        new(this.GetPrimaryKeyString(), state.State.Warehouses, state.State.Allocation, state.State.Version);
}
