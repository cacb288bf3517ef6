using StockGrains.TradePolicies;

namespace StockGrains.Grains.TradePolicies;

public sealed class TradePolicyState
{
    public List<string> Warehouses { get; set; } = [];

    public AllocationStrategy Allocation { get; set; }

    public int Version { get; set; }

    /// <summary>The latest definitions asked for with an idempotency key, and their answers (<see cref="RememberedKeys"/>).</summary>
    public List<RememberedKey<TradePolicyDefinition>> Puts { get; set; } = [];
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

    public async Task<TradePolicyDefinition> DefineAsync(IReadOnlyList<string> warehouses, AllocationStrategy allocation) =>
        (await DefineOnceAsync(new DefineTradePolicy(warehouses, allocation))).Definition!;

    public async Task<TradePolicyResult> DefineOnceAsync(DefineTradePolicy command)
    {
        var (warehouses, allocation) = (command.Warehouses, command.Allocation);

        // The HTTP API checks the same; a trusted Orleans client calls the grain directly. A warehouse named twice would
        // be counted twice, and an order allocated by the policy could plan two holds on one stock line.
        if (warehouses is not { Count: >= 1 and <= MaxWarehouses } || warehouses.Any(w => !Ids.IsValid(w))
            || warehouses.Distinct(StringComparer.Ordinal).Count() != warehouses.Count)
        {
            throw new ArgumentException($"A trade policy names 1 to {MaxWarehouses} warehouses, each once, by canonical id.", nameof(command));
        }

        if (!Enum.IsDefined(allocation))
        {
            throw new ArgumentOutOfRangeException(nameof(command), allocation, "Not an allocation strategy.");
        }

        var fingerprint = Fingerprint(warehouses, allocation);
        if (RememberedKeys.Earlier(state.State.Puts, command.OperationId, fingerprint) is { } earlier)
        {
            return new TradePolicyResult(earlier.Outcome, earlier.Answer);
        }

        var unchanged = state.RecordExists && Fingerprint(state.State.Warehouses, state.State.Allocation) == fingerprint;
        if (unchanged && command.OperationId is null)
        {
            return new TradePolicyResult(DefinitionOutcome.Unchanged, View());
        }

        var previous = state.State;
        var next = unchanged
            ? new TradePolicyState { Warehouses = previous.Warehouses, Allocation = previous.Allocation, Version = previous.Version }
            : new TradePolicyState { Warehouses = [.. warehouses], Allocation = allocation, Version = previous.Version + 1 };
        next.Puts = RememberedKeys.With(previous.Puts, command.OperationId, fingerprint, View(next));
        await state.WriteOrKeepAsync(next);

        _stored = View();
        return new TradePolicyResult(unchanged ? DefinitionOutcome.Unchanged : DefinitionOutcome.Defined, _stored);
    }

    private TradePolicyDefinition View() => View(state.State);

    private TradePolicyDefinition View(TradePolicyState policy) =>
        new(this.GetPrimaryKeyString(), policy.Warehouses, policy.Allocation, policy.Version);

    /// <summary>What makes two definitions the same: the warehouses in order and the allocation.</summary>
    private static string Fingerprint(IEnumerable<string> warehouses, AllocationStrategy allocation) => $"{string.Join(',', warehouses)}|{allocation}";
}
