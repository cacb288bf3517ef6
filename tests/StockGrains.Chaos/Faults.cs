using System.Diagnostics;

namespace StockGrains.Chaos;

/// <summary>
/// The seeded fault schedule: which faults, in which order, against which silo, at which moment. The same seed gives
/// the same schedule; <see cref="Describe"/> prints it.
/// </summary>
public sealed class Faults(Cluster cluster, History history, Stopwatch clock)
{
    /// <summary>Longer than failure detection in the test cluster (probes of 1 s, two missed), so the silo is declared dead.</summary>
    public static readonly TimeSpan PauseLength = TimeSpan.FromSeconds(8);

    public sealed record Planned(string Fault, int Silo, TimeSpan At);

    public static IReadOnlyList<Planned> Plan(ChaosOptions options)
    {
        var random = new Random(options.Seed);
        var order = options.Faults.OrderBy(_ => random.Next()).ToList();
        if (order.Count == 0)
        {
            return [];
        }

        // Faults start after a calm first tenth and are spread over the first 70% of the run, leaving time to recover.
        var window = options.Duration * 0.7;
        var step = window / order.Count;
        return order.Select((fault, i) => new Planned(fault, random.Next(options.Silos), options.Duration * 0.1 + step * i)).ToList();
    }

    public static string Describe(IReadOnlyList<Planned> plan) =>
        plan.Count == 0 ? "no faults" : string.Join(", ", plan.Select(p => $"{p.Fault}(silo {p.Silo + 1}) at {p.At.TotalSeconds:F0}s"));

    public async Task RunAsync(IReadOnlyList<Planned> plan, CancellationToken cancellationToken)
    {
        foreach (var planned in plan)
        {
            var wait = planned.At - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            var started = clock.Elapsed.TotalMilliseconds;
            await InjectAsync(planned);
            history.Record(new FaultEvent(planned.Fault, planned.Silo + 1, started, clock.Elapsed.TotalMilliseconds));
        }
    }

    private async Task InjectAsync(Planned planned)
    {
        switch (planned.Fault)
        {
            case "kill":
                cluster[planned.Silo]?.Kill();
                await Task.Delay(TimeSpan.FromSeconds(2));
                await cluster.RestartAsync(planned.Silo);
                break;
            case "pause":
                if (cluster[planned.Silo] is { } paused)
                {
                    await paused.PauseAsync();
                    await Task.Delay(PauseLength);
                    await paused.ResumeAsync();

                    // A silo that was declared dead stops itself once it learns so; give it the time, then replace it.
                    await Task.Delay(TimeSpan.FromSeconds(5));
                    if (paused.HasExited)
                    {
                        await cluster.RestartAsync(planned.Silo);
                    }
                }

                break;
            case "postgres":
                await cluster.Postgres.RestartImmediatelyAsync();
                break;
            case "rolling":
                for (var slot = 0; slot < cluster.Size; slot++)
                {
                    if (cluster[slot] is { } silo)
                    {
                        await silo.StopAsync();
                    }

                    await cluster.RestartAsync(slot);
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(planned), planned.Fault, "Unknown fault.");
        }
    }
}
