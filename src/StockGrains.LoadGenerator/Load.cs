using System.Diagnostics;

namespace StockGrains.LoadGenerator;

/// <summary>
/// Fires a workload: closed loop (every caller sends its next request when the last one is answered), or open loop
/// at <see cref="LoadOptions.Rate"/> arrivals per second with latency from each arrival's scheduled time. The same
/// for StockGrains and every baseline, so their figures compare.
/// </summary>
public static class Load
{
    /// <summary>
    /// One request: given the caller, its request number and its own random source, true when it succeeded, false
    /// when it was refused; an exception counts as an error.
    /// </summary>
    public delegate Task<bool> Call(int caller, int number, LoadRandom random);

    /// <summary>
    /// Request numbers of the warm-up start here, far from the measured run's, so that no id of one is reused by the
    /// other: a reused reservation id would be a replay, not a new reservation.
    /// </summary>
    private const int WarmupNumbers = 1_000_000_000;

    public static async Task<(Recorder Recorder, double Seconds)> FireAsync(LoadOptions options, TextWriter? progress, ServerCpu? server, Call call,
        CancellationToken cancellationToken)
    {
        if (options.Warmup > TimeSpan.Zero)
        {
            // The same workload, unrecorded: the JIT's tiers and the caches settle before anything is measured. What it
            // reserves is real and goes through the same call, so the invariant check counts it too.
            await FireAsync(options with { Duration = options.Warmup }, new Recorder(), call, WarmupNumbers, cancellationToken);
        }

        var recorder = new Recorder();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var shown = progress is null ? Task.CompletedTask : recorder.ShowProgressAsync(progress, stop.Token);
        recorder.StartGcSpan(server);
        try
        {
            return (recorder, await FireAsync(options, recorder, call, 0, cancellationToken));
        }
        finally
        {
            recorder.EndGcSpan();
            await stop.CancelAsync();
            await shown;
        }
    }

    /// <summary>The open or the closed loop, as the options say; request numbers start at <paramref name="first"/>.</summary>
    private static Task<double> FireAsync(LoadOptions options, Recorder recorder, Call call, int first, CancellationToken cancellationToken) =>
        options.Rate > 0
            ? FireOpenAsync(options, recorder, call, first, cancellationToken)
            : FireClosedAsync(options, recorder, call, first, cancellationToken);

    private static async Task<double> FireOpenAsync(LoadOptions options, Recorder recorder, Call call, int first, CancellationToken cancellationToken)
    {
        // Arrivals beyond this many unanswered requests are counted as failed rather than queued without bound.
        const int MaxOutstanding = 100_000;
        var started = Stopwatch.GetTimestamp();
        var interval = Stopwatch.Frequency / (double)options.Rate;

        // Requests are counted, not kept: a list of every request's task grew without bound, hundreds of thousands of
        // finished tasks kept until the run ended. The pacer holds one count of its own until it stops, so the count
        // reaches zero only once every request has been answered.
        var inFlight = 1;
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // The arrivals are paced by a thread of their own (a long-running task) that sleeps between them. An awaited
        // delay resumes on the thread pool, which under load ran it up to three and a half milliseconds late; every
        // arrival due meanwhile then went out in one burst, and the lag counted as the system's latency. A sleeping
        // thread wakes within about a millisecond, whatever the pool is doing.
        await Task.Factory.StartNew(Pace, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Answered();
        await drained.Task;
        cancellationToken.ThrowIfCancellationRequested();
        return Stopwatch.GetElapsedTime(started).TotalSeconds;

        void Answered()
        {
            if (Interlocked.Decrement(ref inFlight) == 0)
            {
                drained.TrySetResult();
            }
        }

        void Pace()
        {
            var random = new LoadRandom(1);
            Action answered = Answered;
            for (var n = 0; Stopwatch.GetElapsedTime(started) < options.Duration && !cancellationToken.IsCancellationRequested; n++)
            {
                var scheduled = started + (long)(n * interval);
                while (Stopwatch.GetTimestamp() < scheduled)
                {
                    Thread.Sleep(1);
                }

                if (Volatile.Read(ref inFlight) > MaxOutstanding)
                {
                    recorder.RecordError(Stopwatch.GetElapsedTime(scheduled).Ticks, new TimeoutException($"more than {MaxOutstanding:N0} requests unanswered"));
                    continue;
                }

                Interlocked.Increment(ref inFlight);
                // A work item of its own, not Task.Run: the closure, the two tasks and the unwrapping that came
                // with Task.Run were about a twentieth of what an arrival allocated, in the silo's own process.
                ThreadPool.UnsafeQueueUserWorkItem(
                    new Arrival(call, (first + n) % options.Callers, first + n, random.NextSeed(), scheduled, recorder, answered, cancellationToken),
                    preferLocal: false);
            }
        }
    }

    /// <summary>One arrival of the open loop, sent from the thread pool, its latency counted from when it was due.</summary>
    private sealed class Arrival(Call call, int caller, int number, ulong seed, long scheduled, Recorder recorder, Action answered,
        CancellationToken cancellationToken) : IThreadPoolWorkItem
    {
        public void Execute() => _ = SendAsync();

        private async Task SendAsync()
        {
            try
            {
                var outcome = await call(caller, number, new LoadRandom(seed));
                recorder.Record(Stopwatch.GetElapsedTime(scheduled).Ticks, outcome);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                recorder.RecordError(Stopwatch.GetElapsedTime(scheduled).Ticks, ex);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                // The run was cancelled: the caller hears it once, from the end of the loop.
            }
            finally
            {
                answered();
            }
        }
    }

    private static async Task<double> FireClosedAsync(LoadOptions options, Recorder recorder, Call call, int first, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, options.Callers).Select(caller => Task.Run(async () =>
        {
            var random = new LoadRandom((ulong)caller);
            for (var n = 0; Stopwatch.GetElapsedTime(started) < options.Duration && !cancellationToken.IsCancellationRequested; n++)
            {
                var before = Stopwatch.GetTimestamp();
                try
                {
                    var outcome = await call(caller, first + n, random);
                    recorder.Record(Stopwatch.GetElapsedTime(before).Ticks, outcome);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    recorder.RecordError(Stopwatch.GetElapsedTime(before).Ticks, ex);
                }
            }
        }, cancellationToken)));
        return Stopwatch.GetElapsedTime(started).TotalSeconds;
    }
}

/// <summary>
/// The load's own random source: SplitMix64, seeded per caller (closed loop) or per arrival (open loop), so that a run
/// picks the same SKUs every time. A seeded <see cref="Random"/> keeps a table of 56 numbers, about 300 bytes made for
/// every arrival; this keeps one.
/// </summary>
public sealed class LoadRandom(ulong seed)
{
    private ulong _state = seed;

    /// <summary>A non-negative number below 2³¹.</summary>
    public int Next() => (int)(NextUInt64() >> 33);

    /// <summary>A number from 0 up to, not including, <paramref name="maxExclusive"/>.</summary>
    public int Next(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        return (int)(((NextUInt64() >> 32) * (ulong)maxExclusive) >> 32);
    }

    /// <summary>A number from <paramref name="minInclusive"/> up to, not including, <paramref name="maxExclusive"/>.</summary>
    public int Next(int minInclusive, int maxExclusive) => minInclusive + Next(maxExclusive - minInclusive);

    /// <summary>
    /// Fills <paramref name="picked"/> with distinct numbers below <paramref name="maxExclusive"/>, in the order drawn.
    /// A draw that repeats an earlier pick is drawn again, which stays cheap while the picks are few against the range:
    /// an order's SKUs used to come from sorting all 10,000 SKUs by a random key, which cost every order 120 KB and
    /// more processor time than the silo spent on it.
    /// </summary>
    public void NextDistinct(int maxExclusive, Span<int> picked)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(picked.Length, maxExclusive);
        for (var i = 0; i < picked.Length; i++)
        {
            int candidate;
            do
            {
                candidate = Next(maxExclusive);
            }
            while (picked[..i].Contains(candidate));

            picked[i] = candidate;
        }
    }

    /// <summary>A seed for another source, drawn from this one.</summary>
    public ulong NextSeed() => NextUInt64();

    private ulong NextUInt64()
    {
        var z = _state += 0x9E37_79B9_7F4A_7C15;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB;
        return z ^ (z >> 31);
    }
}
