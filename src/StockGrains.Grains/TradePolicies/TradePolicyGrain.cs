using StockGrains.TradePolicies;

namespace StockGrains.Grains.TradePolicies;

public sealed class TradePolicyState
{
    public List<string> Warehouses { get; set; } = [];

    public AllocationStrategy Allocation { get; set; }

    public int Version { get; set; }

    /// <summary>The latest definitions asked for with an idempotency key, oldest first, at most <see cref="TradePolicyGrain.RememberedKeys"/>.</summary>
    public List<TradePolicyPut> Puts { get; set; } = [];
}

/// <summary>A definition asked for with an idempotency key, and what it was answered: what a retry with the key gets again.</summary>
public sealed class TradePolicyPut
{
    public string Key { get; set; } = "";

    public string Fingerprint { get; set; } = "";

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
    /// Idempotency keys a policy remembers. A policy is redefined now and then by an operator, not thousands of times a
    /// second, so the latest few cover every retry that is still coming; an older key is taken as new.
    /// </summary>
    public const int RememberedKeys = 64;

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

        var fingerprint = $"{string.Join(',', warehouses)}|{allocation}";
        if (command.OperationId is { } key && state.State.Puts.Find(p => p.Key == key) is { } earlier)
        {
            // A retry gets what the request got the first time, even if the policy has been redefined since: answering
            // it by applying it again would undo the newer definition.
            return earlier.Fingerprint == fingerprint
                ? new TradePolicyResult(DefinitionOutcome.Replayed, new(this.GetPrimaryKeyString(), earlier.Warehouses, earlier.Allocation, earlier.Version))
                : new TradePolicyResult(DefinitionOutcome.OperationIdReused, null);
        }

        var unchanged = state.RecordExists && state.State.Warehouses.SequenceEqual(warehouses) && state.State.Allocation == allocation;
        if (unchanged && command.OperationId is null)
        {
            return new TradePolicyResult(DefinitionOutcome.Unchanged, View());
        }

        var previous = state.State;
        var next = unchanged
            ? new TradePolicyState { Warehouses = previous.Warehouses, Allocation = previous.Allocation, Version = previous.Version }
            : new TradePolicyState { Warehouses = [.. warehouses], Allocation = allocation, Version = previous.Version + 1 };
        next.Puts = [.. previous.Puts.Skip(Math.Max(0, previous.Puts.Count - (RememberedKeys - 1)))];
        if (command.OperationId is { } newKey)
        {
            next.Puts.Add(new TradePolicyPut
            {
                Key = newKey, Fingerprint = fingerprint, Warehouses = next.Warehouses, Allocation = next.Allocation, Version = next.Version,
            });
        }

        state.State = next;
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
        return new TradePolicyResult(unchanged ? DefinitionOutcome.Unchanged : DefinitionOutcome.Defined, _stored);
    }

    private TradePolicyDefinition View() =>
        new(this.GetPrimaryKeyString(), state.State.Warehouses, state.State.Allocation, state.State.Version);
}
