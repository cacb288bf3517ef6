using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace StockGrains.Chaos;

public enum Outcome
{
    /// <summary>A 2xx answer: the client was told the operation happened.</summary>
    Ok,

    /// <summary>A definite refusal (4xx): the client was told it did not happen.</summary>
    Fail,

    /// <summary>No answer, a timeout, a 5xx, or an answer lost on the way: it may or may not have happened.</summary>
    Unknown,
}

/// <summary>
/// One attempt of one logical operation. A logical operation (<see cref="Op"/>) is retried until it gets a definite
/// answer; an honest client retries with the same <see cref="Id"/>.
/// </summary>
public sealed record Attempt(
    int Op,
    int Try,
    string Kind,
    string Line,
    string Id,
    long Quantity,
    string Worker,
    double InvokedMs,
    double CompletedMs,
    Outcome Outcome,
    int Status,
    string? Code);

/// <summary>A fault the schedule injected, and when.</summary>
public sealed record FaultEvent(string Fault, int Silo, double AtMs, double EndedMs);

/// <summary>Every attempt and fault of a run, in the order they completed; written as JSON lines.</summary>
public sealed class History
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    private readonly ConcurrentQueue<Attempt> _attempts = new();
    private readonly ConcurrentQueue<FaultEvent> _faults = new();
    private int _nextOp;

    public IReadOnlyCollection<Attempt> Attempts => _attempts;

    public IReadOnlyCollection<FaultEvent> Faults => _faults;

    public int NextOp() => Interlocked.Increment(ref _nextOp);

    public void Record(Attempt attempt) => _attempts.Enqueue(attempt);

    public void Record(FaultEvent fault) => _faults.Enqueue(fault);

    public async Task WriteAsync(string path)
    {
        await using var writer = new StreamWriter(path);
        foreach (var fault in _faults)
        {
            await writer.WriteLineAsync(JsonSerializer.Serialize(new { type = "fault", fault.Fault, fault.Silo, fault.AtMs, fault.EndedMs }, Json));
        }

        foreach (var attempt in _attempts)
        {
            await writer.WriteLineAsync(JsonSerializer.Serialize(attempt, Json));
        }
    }
}
