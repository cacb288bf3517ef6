using StockGrains.Grains.Storage;

namespace StockGrains.Tests.Infrastructure;

/// <summary>Waits on a store's writers, for tests that hold them up.</summary>
public static class LedgerWriters
{
    /// <summary>Waits, at most ten seconds, until a writer of <paramref name="store"/> has taken a transaction: what is appended now waits for the next one.</summary>
    public static async Task BusyAsync(ILedgerStore store)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (store.Counters.WritesInTransaction == 0)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10), "the writer never took the first append");
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }
}
