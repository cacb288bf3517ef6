using System.Globalization;

namespace StockGrains.Chaos;

/// <summary>What one chaos run does. Every number has a bound.</summary>
public sealed record ChaosOptions
{
    public int Seed { get; init; } = Environment.TickCount & 0x7fffffff;

    public int Silos { get; init; } = 3;

    public int Workers { get; init; } = 6;

    /// <summary>How long the workload runs; the fault schedule fits inside it.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The faults to inject, in seeded order: kill, pause, postgres, rolling. Empty: none.</summary>
    public IReadOnlyList<string> Faults { get; init; } = ["kill", "pause", "postgres", "rolling"];

    /// <summary>The share of answers the client "loses" on the way back and must retry (network loss, simulated).</summary>
    public double LoseResponses { get; init; } = 0.02;

    /// <summary>Negative control: the server answers before the append is durable. The checker must catch it.</summary>
    public bool BrokenAcknowledgeBeforeDurable { get; init; }

    /// <summary>Negative control: the client retries with a fresh id. The checker must catch it.</summary>
    public bool BrokenFreshRetryIds { get; init; }

    public string? HistoryPath { get; init; }

    public const string Help = """
        StockGrains chaos run: a seeded workload and fault schedule against PostgreSQL and real silo processes, a history
        of every operation, and a checker over the final ledgers.

        Usage: dotnet run --project tests/StockGrains.Chaos -c Release -- [options]

          --seed N                         replays the same workload choices and fault schedule    (random, printed)
          --silos N                        silo processes, 1-7                                      (3)
          --workers N                      concurrent clients, 1-64                                 (6)
          --duration SECONDS               workload time, 10-3600                                   (60)
          --faults LIST                    comma-separated from kill,pause,postgres,rolling; none   (all four)
          --lose-responses P               share of answers dropped on the way back, 0-0.5          (0.02)
          --history PATH                   write the history as JSON lines
          --broken-ack-before-durable      negative control: the server answers before durability
          --broken-fresh-retry-ids         negative control: the client retries with fresh ids
          --help                           this text

        Exit code: 0 when every count is 0, 1 when one is not, 2 for bad arguments.
        """;

    public static ChaosOptions Parse(string[] args)
    {
        var options = new ChaosOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            options = args[i] switch
            {
                "--seed" => options with { Seed = Bounded(Next(), 0, int.MaxValue, "--seed") },
                "--silos" => options with { Silos = Bounded(Next(), 1, 7, "--silos") },
                "--workers" => options with { Workers = Bounded(Next(), 1, 64, "--workers") },
                "--duration" => options with { Duration = TimeSpan.FromSeconds(Bounded(Next(), 10, 3600, "--duration")) },
                "--faults" => options with { Faults = ParseFaults(Next()) },
                "--lose-responses" => options with { LoseResponses = Share(Next()) },
                "--history" => options with { HistoryPath = Next() },
                "--broken-ack-before-durable" => options with { BrokenAcknowledgeBeforeDurable = true },
                "--broken-fresh-retry-ids" => options with { BrokenFreshRetryIds = true },
                _ => throw new ArgumentException($"Unknown option {args[i]}; see --help."),
            };
        }

        return options;
    }

    private static IReadOnlyList<string> ParseFaults(string text)
    {
        if (text == "none")
        {
            return [];
        }

        var faults = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var unknown = faults.Except(["kill", "pause", "postgres", "rolling"]).ToList();
        return unknown.Count == 0 ? faults : throw new ArgumentException($"--faults: unknown {string.Join(", ", unknown)}.");
    }

    private static int Bounded(string text, int min, int max, string name) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"{name} must be a whole number from {min} to {max}.");

    private static double Share(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value is >= 0 and <= 0.5
            ? value
            : throw new ArgumentException("--lose-responses must be from 0 to 0.5.");
}
