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
    /// <summary>Most warehouses one policy names; the HTTP API allows the same.</summary>
    public const int MaxWarehouses = 50;

    /// <summary>
    /// The definition as stored, which is what reads answer. Reads interleave with a definition being written, and
    /// must not see it before it is durable, nor after its write failed.
    /// </summary>
    private TradePolicyDefinition? _stored;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _stored = state.RecordExists ? View() : null;
        return Task.CompletedTask;
    }

    public Task<TradePolicyDefinition?> GetAsync() => Task.FromResult(_stored);

    public async Task<TradePolicyDefinition> DefineAsync(IReadOnlyList<string> warehouses, AllocationStrategy allocation)
    {
        // The HTTP API checks the same; a trusted Orleans client calls the grain directly. A warehouse named twice would
        // be counted twice, and an order allocated by the policy could plan two holds on one stock line.
        if (warehouses is not { Count: >= 1 and <= MaxWarehouses } || warehouses.Any(w => !Ids.IsValid(w))
            || warehouses.Distinct(StringComparer.Ordinal).Count() != warehouses.Count)
        {
            throw new ArgumentException($"A trade policy names 1 to {MaxWarehouses} warehouses, each once, by canonical id.", nameof(warehouses));
        }

        if (!Enum.IsDefined(allocation))
        {
            throw new ArgumentOutOfRangeException(nameof(allocation), allocation, "Not an allocation strategy.");
        }

        if (state.RecordExists && state.State.Warehouses.SequenceEqual(warehouses) && state.State.Allocation == allocation)
        {
            return View();
        }

        var previous = state.State;
        state.State = new TradePolicyState { Warehouses = [.. warehouses], Allocation = allocation, Version = previous.Version + 1 };
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Not stored: the grain goes on with the definition that is, or a retry of this one would be answered
            // as already made without ever being written.
            state.State = previous;
            throw;
        }

        _stored = View();
        return _stored;
    }

    private TradePolicyDefinition View() =>
        new(this.GetPrimaryKeyString(), state.State.Warehouses, state.State.Allocation, state.State.Version);
}
