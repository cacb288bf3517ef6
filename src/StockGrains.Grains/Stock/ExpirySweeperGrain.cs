using Microsoft.Extensions.Logging;
using StockGrains.Grains.Storage;
using StockGrains.Stock;

namespace StockGrains.Grains.Stock;

/// <summary>Wakes lines whose holds are due to expire while they are not active.</summary>
[Alias("sg.IExpirySweeperGrain")]
public interface IExpirySweeperGrain : IGrainWithIntegerKey
{
    /// <summary>Registers the sweeper's reminder (idempotent; every silo calls it at start) and sweeps once.</summary>
    [Alias("StartAsync")]
    Task StartAsync();

    /// <summary>Wakes every line the expiry index says is due; returns how many were woken.</summary>
    [Alias("SweepAsync")]
    Task<int> SweepAsync();
}

/// <summary>
/// One durable reminder for the whole cluster instead of one per line. Each line stores its earliest pending expiry
/// with its entries; every minute the sweeper asks the store which lines are due and wakes them, and each line
/// expires its own holds. An active line does not need it (its timer is exact); a line that was deactivated, or whose
/// silo died, is woken within about a minute of its expiry.
/// </summary>
public sealed partial class ExpirySweeperGrain(ILedgerStore store, StockGrainsTime time, ILogger<ExpirySweeperGrain> logger)
    : Grain, IExpirySweeperGrain, IRemindable
{
    private const string Reminder = "sweep";

    /// <summary>Lines read per query, and woken at once; a sweep stops after this many rounds and resumes next tick.</summary>
    private const int BatchSize = 500;
    private const int Concurrency = 32;
    private const int MaxRounds = 20;

    public async Task StartAsync()
    {
        await this.RegisterOrUpdateReminder(Reminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        await SweepAsync();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == Reminder)
        {
            await SweepAsync();
        }
    }

    public async Task<int> SweepAsync()
    {
        var now = time.GetUtcNow();
        var woken = 0;
        for (var round = 0; round < MaxRounds; round++)
        {
            var due = await store.DueLinesAsync(now, BatchSize);
            foreach (var chunk in due.Chunk(Concurrency))
            {
                await Task.WhenAll(chunk.Select(WakeAsync));
            }

            woken += due.Count;
            if (due.Count < BatchSize)
            {
                break;
            }
        }

        return woken;
    }

    private async Task WakeAsync(string line)
    {
        try
        {
            await GrainFactory.GetGrain<IStockLineGrain>(line).ExpireDueHoldsAsync();
        }
        catch (Exception ex)
        {
            // One line that cannot load must not stop the others; it stays due and is tried again next tick.
            LogWakeFailed(ex, line);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The expiry sweeper could not wake {Line}; it tries again next minute.")]
    private partial void LogWakeFailed(Exception exception, string line);
}
