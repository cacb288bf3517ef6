namespace StockGrains;

/// <summary>What a request to define something (a SKU, a trade policy) did.</summary>
[GenerateSerializer, Alias("sg.DefinitionOutcome")]
public enum DefinitionOutcome
{
    /// <summary>The definition was stored, new or changed.</summary>
    Defined = 0,

    /// <summary>The definition was already exactly this; nothing changed.</summary>
    Unchanged = 1,

    /// <summary>A retry of an earlier request with the same idempotency key: its original answer, and no second effect.</summary>
    Replayed = 2,

    /// <summary>The idempotency key was used with a different request; nothing changed.</summary>
    OperationIdReused = 3,
}
