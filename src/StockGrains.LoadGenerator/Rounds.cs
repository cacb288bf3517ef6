using System.Text.Json;

namespace StockGrains.LoadGenerator;

/// <summary>
/// One round: StockGrains' report (and its open loop at half of that peak, when asked), then each baseline's, the ratios
/// taken between them, and the half-peak run's p99.
/// </summary>
public sealed record Round(int Number, IReadOnlyList<Report> Reports, IReadOnlyDictionary<string, double> Ratios, double? HalfPeakP99Ms = null);

/// <summary>One figure over all rounds (a ratio, or a p99): the median, and the lowest and highest round.</summary>
public sealed record FigureSummary(double Median, double Min, double Max, int Rounds);

/// <summary>
/// Runs StockGrains and its baselines in turn, round after round, each round with runs and names of its own. The
/// machines these figures come from are shared, and a noisy minute can slow one run of a pair and not the other. Taking
/// the ratio within a round, where the two ran minutes apart at most, and the median over rounds, keeps such a minute
/// from deciding the figure; the lowest and highest round show how far the noise reached.
/// </summary>
public static class Rounds
{
    /// <summary>How each ratio's name reads in the summary.</summary>
    private static readonly Dictionary<string, string> Labels = new(StringComparer.Ordinal)
    {
        ["postgresRowLock"] = "StockGrains / PostgreSQL row lock",
        ["redisLua"] = "StockGrains / Redis Lua",
        ["postgresSelect"] = "StockGrains / PostgreSQL SELECT",
        ["redisMget"] = "StockGrains / Redis MGET",
    };

    /// <summary>How the ratio called <paramref name="name"/> reads in a summary.</summary>
    public static string Label(string name) => Labels.GetValueOrDefault(name, name);

    public static async Task<IReadOnlyList<Round>> RunAsync(LoadOptions options, TextWriter output, TextWriter? progress,
        CancellationToken cancellationToken = default)
    {
        var rounds = new List<Round>(options.Rounds);
        for (var number = 1; number <= options.Rounds; number++)
        {
            if (options.Rounds > 1)
            {
                output.WriteLine($"round {number} of {options.Rounds}:");
            }

            // A runner of its own for every round gives it fresh SKU names: an external server keeps what each round
            // left, and a round on another's names would find that stock already sold.
            var runner = new Runner(options, output, progress);
            var reports = await runner.RunAsync(cancellationToken);
            rounds.Add(new Round(number, reports, runner.Ratios, runner.HalfPeak?.P99Ms));
        }

        if (options.Rounds > 1)
        {
            foreach (var (name, summary) in Summarize(rounds.ConvertAll(r => r.Ratios)))
            {
                output.WriteLine($"over {summary.Rounds} rounds, {Label(name)}: median {summary.Median:F1}x " +
                    $"(lowest {summary.Min:F1}x, highest {summary.Max:F1}x)");
            }

            if (HalfPeakSummary(rounds) is { } p99)
            {
                output.WriteLine($"over {p99.Rounds} rounds, p99 at half of peak: median {p99.Median:F2} ms (lowest {p99.Min:F2}, highest {p99.Max:F2})");
            }
        }

        return rounds;
    }

    /// <summary>Each ratio's median and range over the rounds that have it, by name, in the order the names first appear.</summary>
    public static IReadOnlyDictionary<string, FigureSummary> Summarize(IReadOnlyList<IReadOnlyDictionary<string, double>> rounds) =>
        rounds.SelectMany(r => r.Keys).Distinct().ToDictionary(name => name,
            name => Summary(rounds.Where(r => r.ContainsKey(name)).Select(r => r[name]))!, StringComparer.Ordinal);

    /// <summary>The half-peak p99 over the rounds that measured one, or null when none did.</summary>
    public static FigureSummary? HalfPeakSummary(IReadOnlyList<Round> rounds) =>
        Summary(rounds.Where(r => r.HalfPeakP99Ms is not null).Select(r => r.HalfPeakP99Ms!.Value));

    /// <summary>The median, lowest and highest of some rounds' figures; null for none.</summary>
    private static FigureSummary? Summary(IEnumerable<double> figures)
    {
        var values = figures.Order().ToArray();
        if (values.Length == 0)
        {
            return null;
        }

        var middle = values.Length / 2;
        var median = values.Length % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
        return new FigureSummary(median, values[0], values[^1], values.Length);
    }

    /// <summary>
    /// The whole invocation as JSON: the options that shaped it, every report, each ratio's median over the rounds (with
    /// one round, that round's own) and range, the half-peak p99's likewise, and every round's own figures, so a reader
    /// can see the spread a median hides.
    /// </summary>
    public static string Json(LoadOptions options, IReadOnlyList<Round> rounds)
    {
        var summaries = Summarize(rounds.Select(r => r.Ratios).ToList());
        return JsonSerializer.Serialize(new
        {
            options.Scenario,
            options.Callers,
            options.Rate,
            DurationSeconds = options.Duration.TotalSeconds,
            options.Stock,
            options.Store,
            options.Target,
            Via = options.EffectiveVia,
            options.Then,
            options.HalfPeak,
            RoundCount = options.Rounds,
            Reports = rounds.SelectMany(r => r.Reports),
            Ratios = summaries.ToDictionary(s => s.Key, s => s.Value.Median),
            RatioRanges = summaries,
            HalfPeakP99Ms = HalfPeakSummary(rounds),
            Rounds = rounds.Select(r => new { r.Number, r.Ratios, r.HalfPeakP99Ms }),
        }, JsonOptions);
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}
