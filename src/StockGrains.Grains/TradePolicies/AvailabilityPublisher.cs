using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StockGrains.Stock;
using StockGrains.TradePolicies;

namespace StockGrains.Grains.TradePolicies;

/// <summary>
/// Carries the balances of a silo's lines to the availability read model. A line hands over its latest view after each
/// durable change and goes on; every <see cref="Interval"/> the publisher sends each line's latest view, one message
/// per shard for all the lines of that shard. Under load spread over 10,000 SKUs one message per change, the way lines
/// published before, was a second grain call for every reservation. A line that changes many times inside one interval
/// is sent once, with its last balances.
/// </summary>
public sealed partial class AvailabilityPublisher : BackgroundService
{
    /// <summary>How long a change may wait to be sent: the read model lags the lines by about this much.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    /// <summary>Most lines in one message; a shard with more changed lines gets several.</summary>
    public const int MaxLinesPerMessage = 1_000;

    private readonly ConcurrentDictionary<string, StockLineView> _latest = new(StringComparer.Ordinal);
    private readonly Func<int, StockLineView[], Task> _send;
    private readonly ILogger<AvailabilityPublisher> _logger;

    public AvailabilityPublisher(IGrainFactory grains, ILogger<AvailabilityPublisher> logger)
        : this((shard, lines) => grains.Shard(shard).PublishAsync(lines), logger)
    {
    }

    /// <summary>A publisher that hands each message to <paramref name="send"/>: the read model's shard, and the lines for it.</summary>
    public AvailabilityPublisher(Func<int, StockLineView[], Task> send, ILogger<AvailabilityPublisher> logger)
    {
        _send = send;
        _logger = logger;
    }

    /// <summary>
    /// Lines with a view waiting to be sent. It never exceeds the lines that changed since the last send: a line waits
    /// with its latest view only, whatever it changed in between.
    /// </summary>
    public int Waiting => _latest.Count;

    /// <summary>Takes <paramref name="view"/> as the latest of <paramref name="line"/>, to be sent with the next message for its shard.</summary>
    public void Publish(string line, StockLineView view) => _latest[line] = view;

    /// <summary>Sends every waiting view, grouped by shard; returns the number of messages sent.</summary>
    public int Flush()
    {
        if (_latest.IsEmpty)
        {
            return 0;
        }

        var byShard = new Dictionary<int, List<StockLineView>>();
        // Enumerating the dictionary itself takes none of its locks (its Keys would take all of them and stall every
        // line's Publish while it copied them).
        foreach (var (line, _) in _latest)
        {
            // A view published after the key was read and before it is taken is the newer one, and it is the one sent.
            if (_latest.TryRemove(line, out var view))
            {
                var shard = Availability.ShardOf(view.Sku);
                if (!byShard.TryGetValue(shard, out var views))
                {
                    byShard.Add(shard, views = []);
                }

                views.Add(view);
            }
        }

        var messages = 0;
        foreach (var (shard, views) in byShard)
        {
            foreach (var chunk in views.Chunk(MaxLinesPerMessage))
            {
                Send(shard, chunk);
                messages++;
            }
        }

        return messages;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Flush();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping; what is still waiting goes out below.
        }

        Flush();
    }

    /// <summary>
    /// The message is one-way: the read model never decides anything, so a lost message only delays it until the line's
    /// next change, or until the shard reads the SKU from the store again (<see cref="AvailabilityShardGrain.RefreshAfter"/>).
    /// </summary>
    private void Send(int shard, StockLineView[] lines)
    {
        try
        {
            var sent = _send(shard, lines);
            if (!sent.IsCompletedSuccessfully)
            {
                _ = sent.ContinueWith(static (t, state) =>
                {
                    var (publisher, shard, count) = ((AvailabilityPublisher, int, int))state!;
                    LogSendFailed(publisher._logger, t.Exception, shard, count);
                }, (this, shard, lines.Length), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }
        }
        catch (Exception ex)
        {
            LogSendFailed(_logger, ex, shard, lines.Length);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sending {Count} lines' availability to shard {Shard} failed; they are sent again at their next change, or read from the store within a minute.")]
    private static partial void LogSendFailed(ILogger logger, Exception? exception, int shard, int count);
}
