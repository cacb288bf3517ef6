using System.Globalization;
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
    /// <summary>What the reader should know that is no violation: a part of the check that could not run, say.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>The first error a caller saw, so that a run with errors says why.</summary>
    public string? FirstError { get; init; }

    /// <summary>
    /// Entries per ledger transaction: the writer folds the appends of many lines, and several appends of one line, into
    /// one commit, so this is the batch that one fsync pays for.
    /// </summary>
    public double EntriesPerTransaction { get; init; }

    /// <summary>Bytes the process allocated per answered request while the workload was measured.</summary>
    public double BytesPerRequest { get; init; }

    /// <summary>The process's GC pauses, in all, while the workload was measured.</summary>
    public double GcPauseMs { get; init; }

    /// <summary>Collections of generation 0, 1 and 2 while the workload was measured.</summary>
    public IReadOnlyList<int> Collections { get; init; } = [];

    /// <summary>The longest of those pauses, and the generation it collected (see <see cref="GcPauses"/>).</summary>
    public double LongestGcPauseMs { get; init; }

    public int LongestGcPauseGeneration { get; init; } = -1;

    /// <summary>
    /// Processor time per answered request: this process's (the generator, and an embedded server with its SQLite), and
    /// the database server's when it runs on this machine, named by <see cref="ServerCpuName"/>.
    /// </summary>
    public double CpuMicrosPerRequest { get; init; }

    public double? ServerCpuMicrosPerRequest { get; init; }

    public string? ServerCpuName { get; init; }

    public static Report From(string target, Recorder recorder, double seconds, double entriesPerAppend, IReadOnlyList<string> violations,
        IReadOnlyList<string>? notes = null)
    {
        var h = recorder.Histogram;
        double Ms(double percentile) => h.TotalCount == 0 ? 0 : h.GetValueAtPercentile(percentile) / (double)TimeSpan.TicksPerMillisecond;
        var answered = recorder.Succeeded + recorder.Refused + recorder.Failed;
        return new Report(target, recorder.Succeeded, recorder.Refused, recorder.Failed, seconds, recorder.Succeeded / seconds,
            Ms(50), Ms(90), Ms(99), Ms(99.9), entriesPerAppend, violations)
        {
            Notes = notes ?? [],
            FirstError = recorder.FirstError,
            BytesPerRequest = answered == 0 ? 0 : recorder.Gc.AllocatedBytes / (double)answered,
            GcPauseMs = recorder.Gc.Pause.TotalMilliseconds,
            Collections = [recorder.Gc.Gen0, recorder.Gc.Gen1, recorder.Gc.Gen2],
            LongestGcPauseMs = recorder.LongestGcPause.Pause.TotalMilliseconds,
            LongestGcPauseGeneration = recorder.LongestGcPause.Generation,
            CpuMicrosPerRequest = answered == 0 ? 0 : recorder.Gc.ProcessorTime.TotalMicroseconds / answered,
            ServerCpuMicrosPerRequest = answered == 0 || recorder.ServerCpu is not { } server ? null : server.Time.TotalMicroseconds / answered,
            ServerCpuName = recorder.ServerCpu?.Name,
        };
    }

    public override string ToString() =>
        $"{Target,-36} {PerSecond,10:N0}/s  ok {Succeeded,9:N0}  refused {Refused,9:N0}  failed {Failed,5:N0}  " +
        $"p50 {P50Ms,6:F2} ms  p90 {P90Ms,6:F2}  p99 {P99Ms,6:F2}  p999 {P999Ms,7:F2}" +
        (EntriesPerAppend > 0 ? $"  entries/append {EntriesPerAppend:F1}" : "") +
        (EntriesPerTransaction > 0 ? $"  entries/tx {EntriesPerTransaction:F1}" : "") +
        (BytesPerRequest > 0 ? $"  alloc/req {BytesPerRequest:N0} B  gc pause {GcPauseMs:N0} ms ({string.Join('/', Collections)})" : "") +
        (LongestGcPauseGeneration >= 0 ? $", longest {LongestGcPauseMs:N1} ms (gen{LongestGcPauseGeneration})" : "") +
        (CpuMicrosPerRequest > 0 ? $"  cpu/req {CpuMicrosPerRequest:N1} µs" : "") +
        (ServerCpuMicrosPerRequest is { } serverCpu ? $" + {ServerCpuName} {serverCpu:N1} µs" : "") +
        (Violations.Count == 0 ? "  invariants: OK" : $"  INVARIANTS VIOLATED: {string.Join("; ", Violations)}") +
        (FirstError is null ? "" : $"{Environment.NewLine}  first error: {FirstError}") +
        string.Concat(Notes.Select(n => $"{Environment.NewLine}  note: {n}"));
}

/// <summary>
/// Counts outcomes and records latencies (ticks) of many callers at once: over the whole run, and per interval for the
/// progress line.
/// </summary>
public sealed class Recorder
{
    /// <summary>
    /// The longest latency the histograms hold. Orleans and HttpClient give up on a call after 30 s, so a longer one
    /// is recorded as this, rather than failing the recorder.
    /// </summary>
    private const long MaxTicks = TimeSpan.TicksPerMinute;

    private long _succeeded;
    private long _refused;
    private long _failed;
    private long _intervalSucceeded;
    private long _intervalRefused;
    private long _intervalFailed;
    private string? _firstError;
    private readonly HdrHistogram.Recorder _interval = HistogramFactory.With64BitBucketSize().WithValuesFrom(1).WithValuesUpTo(MaxTicks)
        .WithPrecisionOf(3).WithThreadSafeWrites().WithThreadSafeReads().Create();

    public LongConcurrentHistogram Histogram { get; } = new(1, MaxTicks, 3);

    /// <summary>
    /// What the whole process did with memory while the workload was measured: bytes allocated, the time the GC paused
    /// it, and collections of each generation. The process holds the generator and an embedded server alike, so these
    /// are the cost of a request on both sides, and they say whether a tail is the collector's.
    /// </summary>
    public GcSpan Gc { get; private set; }

    /// <summary>The longest GC pause in the measured span, and the generation it collected.</summary>
    public (TimeSpan Pause, int Generation) LongestGcPause { get; private set; } = (TimeSpan.Zero, -1);

    /// <summary>The processor time the target's database server used while the workload was measured, when it runs here.</summary>
    public (string Name, TimeSpan Time)? ServerCpu { get; private set; }

    /// <summary>Starts the measured span of <see cref="Gc"/> and, when there is one, of the server's <see cref="ServerCpu"/>.</summary>
    public void StartGcSpan(ServerCpu? server = null)
    {
        _pauses = new GcPauses();
        _server = server;
        _serverStart = server?.Read();
        _gcStart = GcSpan.Now();
    }

    /// <summary>Ends the measured span of <see cref="Gc"/>.</summary>
    public void EndGcSpan()
    {
        Gc = GcSpan.Now() - _gcStart;
        if (_server is { } server && _serverStart is { } start && server.Read() is { } end)
        {
            ServerCpu = (server.Name, end - start);
        }

        if (_pauses is { } pauses)
        {
            LongestGcPause = pauses.Longest;
            pauses.Dispose();
            _pauses = null;
        }
    }

    private GcSpan _gcStart;
    private GcPauses? _pauses;
    private ServerCpu? _server;
    private TimeSpan? _serverStart;

    public long Succeeded => Interlocked.Read(ref _succeeded);

    public long Refused => Interlocked.Read(ref _refused);

    public long Failed => Interlocked.Read(ref _failed);

    public string? FirstError => Volatile.Read(ref _firstError);

    public void Record(long ticks, bool? succeeded)
    {
        var value = Math.Clamp(ticks, 1, MaxTicks);
        Histogram.RecordValue(value);
        _interval.RecordValue(value);
        _ = succeeded switch
        {
            true => Interlocked.Increment(ref _succeeded) + Interlocked.Increment(ref _intervalSucceeded),
            false => Interlocked.Increment(ref _refused) + Interlocked.Increment(ref _intervalRefused),
            null => Interlocked.Increment(ref _failed) + Interlocked.Increment(ref _intervalFailed),
        };
    }

    /// <summary>Records a call that failed, keeping the first reason for the report.</summary>
    public void RecordError(long ticks, Exception error)
    {
        Interlocked.CompareExchange(ref _firstError, $"{error.GetType().Name}: {error.Message}", null);
        Record(ticks, null);
    }

    /// <summary>The outcomes and the 99th percentile since the previous call, for the progress line.</summary>
    public (long Succeeded, long Refused, long Failed, double P99Ms) TakeInterval()
    {
        var histogram = _interval.GetIntervalHistogram();
        var p99 = histogram.TotalCount == 0 ? 0 : histogram.GetValueAtPercentile(99) / (double)TimeSpan.TicksPerMillisecond;
        return (Interlocked.Exchange(ref _intervalSucceeded, 0), Interlocked.Exchange(ref _intervalRefused, 0),
            Interlocked.Exchange(ref _intervalFailed, 0), p99);
    }

    /// <summary>
    /// Prints one line a second to <paramref name="progress"/> until <paramref name="cancellationToken"/> fires: that
    /// second's successes, 99th percentile, refusals and errors.
    /// </summary>
    public async Task ShowProgressAsync(TextWriter progress, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        var started = DateTime.UtcNow;
        var last = started;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var now = DateTime.UtcNow;
                var (ok, refused, failed, p99) = TakeInterval();

                // A tick can come late on a busy machine: divide by the time that passed, not by one second.
                var seconds = Math.Max((now - last).TotalSeconds, 0.001);
                last = now;
                progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(now - started).TotalSeconds,4:F0}s  {ok / seconds,7:N0} ok/s  p99 {p99:N0} ms  refused {refused:N0}  errors {failed:N0}"));
            }
        }
        catch (OperationCanceledException)
        {
            // The run ended: stop quietly.
        }
    }
}

/// <summary>
/// The process's allocation and collection counters and its processor time, or the difference between two readings of
/// them.
/// </summary>
public readonly record struct GcSpan(long AllocatedBytes, TimeSpan Pause, int Gen0, int Gen1, int Gen2, TimeSpan ProcessorTime)
{
    public static GcSpan Now() =>
        new(GC.GetTotalAllocatedBytes(precise: false), GC.GetTotalPauseDuration(), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
            Environment.CpuUsage.TotalTime);

    public static GcSpan operator -(GcSpan end, GcSpan start) =>
        new(end.AllocatedBytes - start.AllocatedBytes, end.Pause - start.Pause, end.Gen0 - start.Gen0, end.Gen1 - start.Gen1, end.Gen2 - start.Gen2,
            end.ProcessorTime - start.ProcessorTime);
}
