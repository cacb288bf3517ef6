namespace StockGrains.Grains;

/// <summary>
/// A definition request that carried an idempotency key, stored with its definition (a SKU, a trade policy): the
/// request's fingerprint and the answer it got, which a retry with the key gets again.
/// </summary>
public sealed class RememberedKey<TAnswer>
    where TAnswer : class
{
    public string Key { get; set; } = "";

    public string Fingerprint { get; set; } = "";

    public TAnswer? Answer { get; set; }
}

/// <summary>The keys a definition remembers, and what a request with one of them gets.</summary>
public static class RememberedKeys
{
    /// <summary>
    /// Keys one definition remembers. A SKU or a trade policy is redefined now and then by an operator, not thousands of
    /// times a second, so the latest few cover every retry still coming; an older key is taken as new.
    /// </summary>
    public const int Limit = 64;

    /// <summary>
    /// The answer to a request with <paramref name="key"/> seen before: its first answer when the request is the same,
    /// <see cref="DefinitionOutcome.OperationIdReused"/> when it is not; null for a new key, or none. A retry is never
    /// applied again: that would undo any definition made since.
    /// </summary>
    public static (DefinitionOutcome Outcome, TAnswer? Answer)? Earlier<TAnswer>(List<RememberedKey<TAnswer>> keys, string? key, string fingerprint)
        where TAnswer : class =>
        key is not null && keys.Find(k => k.Key == key) is { } earlier
            ? earlier.Fingerprint == fingerprint ? (DefinitionOutcome.Replayed, earlier.Answer) : (DefinitionOutcome.OperationIdReused, null)
            : null;

    /// <summary>The latest keys with <paramref name="key"/> (when there is one) and its answer added, at most <see cref="Limit"/>.</summary>
    public static List<RememberedKey<TAnswer>> With<TAnswer>(List<RememberedKey<TAnswer>> keys, string? key, string fingerprint, TAnswer answer)
        where TAnswer : class
    {
        List<RememberedKey<TAnswer>> kept = [.. keys.Skip(Math.Max(0, keys.Count - (Limit - 1)))];
        if (key is not null)
        {
            kept.Add(new RememberedKey<TAnswer> { Key = key, Fingerprint = fingerprint, Answer = answer });
        }

        return kept;
    }
}
