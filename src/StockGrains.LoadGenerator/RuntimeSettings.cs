using System.Collections;

namespace StockGrains.LoadGenerator;

/// <summary>
/// The settings from the environment that a run reports with its figures. The GC's and the JIT's change the figures
/// more than most code changes do (the tail latency, the warm-up), and some are read only from the environment; the
/// embedded server's tuning may be given that way too.
/// </summary>
public static class RuntimeSettings
{
    /// <summary>
    /// The prefixes reported. Only named settings of the server: others under <c>StockGrains__</c> hold connection
    /// strings, signing keys and key hashes, and a run's output is pasted into the benchmark notes.
    /// </summary>
    private static readonly string[] Reported =
    [
        "DOTNET_gc", "DOTNET_GC", "DOTNET_TC_", "DOTNET_Tiered", "DOTNET_ThreadPool", "DOTNET_ReadyToRun",
        "StockGrains__LedgerWriters", "StockGrains__StockLine__", "StockGrains__Reservations__",
    ];

    /// <summary>Each reported variable as <c>NAME=value</c>, in name order.</summary>
    public static string[] From(IDictionary environment) =>
        environment.Keys.Cast<string>()
            .Where(name => Reported.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal)
            .Select(name => $"{name}={environment[name]}")
            .ToArray();
}
