using System.Diagnostics.Tracing;

namespace StockGrains.LoadGenerator;

/// <summary>
/// The longest time the garbage collector stopped the process while the workload was measured, and the generation it
/// collected then. The total pause says how much the collector cost; the longest one says which requests' tail it is:
/// a 99th percentile of 40 ms under a total of 500 ms is a few long pauses, not many short ones.
/// </summary>
/// <remarks>
/// It listens to the runtime's own GC events in process: a pause runs from the suspension of the managed threads to
/// their restart. Events arrive on a thread of their own a moment after the fact, so a pause in the last moment of a
/// run may be left out.
/// </remarks>
public sealed class GcPauses : EventListener
{
    // The runtime's event ids: the suspension begins, a collection starts (its generation is the payload's second
    // field), the threads are restarted.
    private const int SuspendBegin = 9;
    private const int GcStart = 1;
    private const int RestartEnd = 3;
    private const EventKeywords GcKeyword = (EventKeywords)0x1;

    private readonly Lock _lock = new();
    private DateTime _suspended;
    private int _generation = -1;

    /// <summary>The longest pause seen so far, and the generation it collected (-1 when no collection was seen).</summary>
    public (TimeSpan Pause, int Generation) Longest
    {
        get
        {
            lock (_lock)
            {
                return (_longest, _longestGeneration);
            }
        }
    }

    private TimeSpan _longest;
    private int _longestGeneration = -1;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Informational, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        lock (_lock)
        {
            switch (eventData.EventId)
            {
                case SuspendBegin:
                    _suspended = eventData.TimeStamp;
                    _generation = -1;
                    break;
                case GcStart when eventData.Payload is { Count: > 1 } payload:
                    _generation = Convert.ToInt32(payload[1], System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case RestartEnd when _suspended != default && _generation >= 0 && eventData.TimeStamp - _suspended > _longest:
                    (_longest, _longestGeneration) = (eventData.TimeStamp - _suspended, _generation);
                    break;
            }
        }
    }
}
