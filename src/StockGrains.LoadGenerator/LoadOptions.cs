namespace StockGrains.LoadGenerator;

/// <summary>What one run does. Parsed from the command line; every number has a bound.</summary>
public sealed record LoadOptions
{
    public string Scenario { get; init; } = "flash-sale";

    /// <summary>Simultaneous callers (closed loop: each sends its next order when the last one is answered).</summary>
    public int Callers { get; init; } = 64;

    /// <summary>
    /// Open loop: this many arrivals per second whatever the answers, latency measured from each request's scheduled
    /// start (so a stall is not hidden by coordinated omission). Zero means closed loop.
    /// </summary>
    public int Rate { get; init; }

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Units of the hot SKU in a flash sale; of each SKU in the uniform scenario.</summary>
    public long Stock { get; init; } = 1_000_000;

    /// <summary>SKUs in the uniform scenario.</summary>
    public int Skus { get; init; } = 10_000;

    /// <summary><c>sqlite</c> (embedded) or <c>postgres</c> (needs <see cref="Connection"/>).</summary>
    public string Store { get; init; } = "sqlite";

    public string? Connection { get; init; }

    /// <summary>Also run the same workload against PostgreSQL's conditional UPDATE (needs <see cref="Connection"/>).</summary>
    public bool PostgresBaseline { get; init; }

    public string? JsonPath { get; init; }

    /// <summary>Run a deliberately broken server that skips the stock check: the invariant check must fail.</summary>
    public bool BrokenSkipStockCheck { get; init; }

    public const string Help = """
        StockGrains load generator: simultaneous orders, baselines side by side, an invariant check after every run.

        Usage: dotnet run --project src/StockGrains.LoadGenerator -c Release -- [options]

          --scenario flash-sale|uniform|orders
                                          one hot SKU; reservations over --skus SKUs; or orders of
                                          1-3 lines allocated by a trade policy over 3 warehouses  (flash-sale)
          --callers N                     simultaneous callers, closed loop, 1-4096                (64)
          --rate N                        open loop instead: N arrivals per second, 1-1000000
          --duration SECONDS              how long to fire, 1-3600                                 (10)
          --stock N                       units of the hot SKU, or of each SKU                     (1000000)
          --skus N                        SKUs in the uniform scenario, 1-1000000                  (10000)
          --store sqlite|postgres         the embedded server's store                              (sqlite)
          --connection STRING             PostgreSQL connection string (store and baseline)
          --postgres-baseline             also run the workload as a conditional UPDATE on PostgreSQL
          --json PATH                     write the report as JSON too
          --broken-skip-stock-check       a deliberately broken server; the check must catch it
          --help                          this text

        Exit code: 0 when every invariant holds, 1 when one is violated, 2 for bad arguments.
        """;

    public static LoadOptions Parse(string[] args)
    {
        var options = new LoadOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            options = args[i] switch
            {
                "--scenario" => options with { Scenario = OneOf(Next(), "--scenario", "flash-sale", "uniform", "orders") },
                "--callers" => options with { Callers = Bounded(Next(), 1, 4096, "--callers") },
                "--rate" => options with { Rate = Bounded(Next(), 1, 1_000_000, "--rate") },
                "--duration" => options with { Duration = TimeSpan.FromSeconds(Bounded(Next(), 1, 3600, "--duration")) },
                "--stock" => options with { Stock = Bounded(Next(), 1, 1_000_000_000, "--stock") },
                "--skus" => options with { Skus = Bounded(Next(), 1, 1_000_000, "--skus") },
                "--store" => options with { Store = OneOf(Next(), "--store", "sqlite", "postgres") },
                "--connection" => options with { Connection = Next() },
                "--postgres-baseline" => options with { PostgresBaseline = true },
                "--json" => options with { JsonPath = Next() },
                "--broken-skip-stock-check" => options with { BrokenSkipStockCheck = true },
                _ => throw new ArgumentException($"Unknown option {args[i]}; see --help."),
            };
        }

        if ((options.Store == "postgres" || options.PostgresBaseline) && string.IsNullOrWhiteSpace(options.Connection))
        {
            throw new ArgumentException("--store postgres and --postgres-baseline need --connection.");
        }

        return options;
    }

    private static string OneOf(string value, string name, params string[] allowed) =>
        allowed.Contains(value) ? value : throw new ArgumentException($"{name} is one of {string.Join(", ", allowed)}.");

    private static int Bounded(string text, int min, int max, string name) =>
        int.TryParse(text, out var value) && value >= min && value <= max ? value : throw new ArgumentException($"{name} is a whole number from {min} to {max}.");
}
