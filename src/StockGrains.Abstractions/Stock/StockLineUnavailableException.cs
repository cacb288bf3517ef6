namespace StockGrains.Stock;

/// <summary>
/// The line could not make a change durable, so the outcome is unknown: the caller retries with the same id, and
/// exactly-once makes the retry safe.
/// </summary>
[GenerateSerializer, Alias("sg.StockLineUnavailableException")]
public sealed class StockLineUnavailableException : Exception
{
    public StockLineUnavailableException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
