using HdrHistogram;

namespace StockGrains.LoadGenerator;

/// <summary>What one target did under the workload: throughput, latency percentiles, and the invariant check.</summary>
public sealed record Report(
    string Target,
    long Succeeded,
    long Refused,
    long Failed,
    double Seconds,
    double PerSecond,
    double P50Ms,
    double P90Ms,
    double P99Ms,
    double P999Ms,
    double EntriesPerAppend,
    IReadOnlyList<string> Violations)
{
    public static Report From(string target, Recorder recorder, double seconds, double entriesPerAppend, IReadOnlyList<string> violations)
    {
        var h = recorder.Histogram;
        double Ms(double percentile) => h.TotalCount == 0 ? 0 : h.GetValueAtPercentile(percentile) / (double)TimeSpan.TicksPerMillisecond;
        return new Report(target, recorder.Succeeded, recorder.Refused, recorder.Failed, seconds, recorder.Succeeded / seconds,
            Ms(50), Ms(90), Ms(99), Ms(99.9), entriesPerAppend, violations);
    }

    public override string ToString() =>
        $"{Target,-28} {PerSecond,10:N0}/s  ok {Succeeded,9:N0}  refused {Refused,9:N0}  failed {Failed,5:N0}  " +
        $"p50 {P50Ms,6:F2} ms  p90 {P90Ms,6:F2}  p99 {P99Ms,6:F2}  p999 {P999Ms,7:F2}" +
        (EntriesPerAppend > 0 ? $"  entries/append {EntriesPerAppend:F1}" : "") +
        (Violations.Count == 0 ? "  invariants: OK" : $"  INVARIANTS VIOLATED: {string.Join("; ", Violations)}");
}

/// <summary>Counts outcomes and records latencies (ticks) of many callers at once.</summary>
public sealed class Recorder
{
    private long _succeeded;
    private long _refused;
    private long _failed;

    public LongConcurrentHistogram Histogram { get; } = new(1, TimeSpan.TicksPerMinute, 3);

    public long Succeeded => Interlocked.Read(ref _succeeded);

    public long Refused => Interlocked.Read(ref _refused);

    public long Failed => Interlocked.Read(ref _failed);

    public void Record(long ticks, bool? succeeded)
    {
        Histogram.RecordValue(Math.Max(1, ticks));
        _ = succeeded switch
        {
            true => Interlocked.Increment(ref _succeeded),
            false => Interlocked.Increment(ref _refused),
            null => Interlocked.Increment(ref _failed),
        };
    }
}
