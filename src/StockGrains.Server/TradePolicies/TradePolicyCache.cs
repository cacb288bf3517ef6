using System.Collections.Concurrent;
using StockGrains.Grains;
using StockGrains.TradePolicies;

namespace StockGrains.Server.TradePolicies;

/// <summary>
/// Trade policy definitions as availability reads see them, kept on this silo for <see cref="Lifetime"/>. A policy is
/// one grain in the whole cluster, so without this every product page's availability read, on every silo, called that
/// one activation first: a cluster-wide hot spot during a sale, and a network hop per read on every silo but its own.
/// Availability is a read model already (DESIGN.md, "aggregates never decide"), so a definition changed on another
/// silo shows here within a second; one changed through this silo shows at once. Orders read the policy's grain
/// itself, never this: an order allocates by the definition as it is.
/// </summary>
public sealed class TradePolicyCache(IGrainFactory grains, StockGrainsTime time)
{
    /// <summary>How long a definition (or its absence) is kept before it is read again.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(1);

    /// <summary>Most policies kept; past it the cache starts again empty, which costs one read per policy.</summary>
    public const int MaxPolicies = 10_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _reads;

    /// <summary>How many times the cache has read a policy's grain: what the cache saved is what it did not read.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    public Task<TradePolicyDefinition?> GetAsync(string tradePolicy)
    {
        var now = time.GetUtcNow();
        if (_entries.TryGetValue(tradePolicy, out var entry) && now - entry.ReadAt < Lifetime && !entry.Definition.IsFaulted)
        {
            return entry.Definition;
        }

        if (_entries.Count >= MaxPolicies)
        {
            _entries.Clear();
        }

        // Callers that miss together each read once, and the last to ask is kept; a read that failed is read again.
        Interlocked.Increment(ref _reads);
        var read = grains.Reference<ITradePolicyGrain>(tradePolicy).GetAsync();
        _entries[tradePolicy] = new Entry(read, now);
        return read;
    }

    /// <summary>Drops what this silo keeps of a policy, so that a definition made through it is read at once.</summary>
    public void Forget(string tradePolicy) => _entries.TryRemove(tradePolicy, out _);

    private sealed record Entry(Task<TradePolicyDefinition?> Definition, DateTimeOffset ReadAt);
}
