namespace StockGrains.Grains;

/// <summary>Writes of a grain's whole state that either land or leave the grain as it was.</summary>
public static class PersistentStates
{
    /// <summary>
    /// Writes <paramref name="next"/> as the grain's state, or, when the write fails, puts the stored state back and
    /// throws: a grain that went on with a state never stored would answer a retry as already done.
    /// </summary>
    public static async Task WriteOrKeepAsync<T>(this IPersistentState<T> state, T next)
    {
        var previous = state.State;
        state.State = next;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            state.State = previous;
            throw;
        }
    }
}
