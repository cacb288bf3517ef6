using System.Threading.Channels;

namespace StockGrains.Grains.Storage;

/// <summary>
/// Answers many small reads with few queries: each caller queues its key and waits, and a few loops each take what has
/// queued (up to a limit) and answer it all with one query, while the next keys gather behind it. Under load one query
/// then serves dozens of callers, where one each would cost the database a statement and the caller a round trip; a
/// lone caller waits no longer than for its own query.
/// </summary>
internal sealed class QueryGatherer<TKey, TAnswer>
{
    private readonly Channel<(TKey Key, TaskCompletionSource<TAnswer> Answer)> _queue;
    private readonly Func<IReadOnlyList<TKey>, Task<IReadOnlyList<TAnswer>>> _query;
    private readonly Action<int>? _answered;
    private readonly int _maxPerQuery;
    private readonly Lazy<Task[]> _loops;

    /// <param name="capacity">Keys queued beyond this make callers wait: a bound on memory under overload.</param>
    /// <param name="maxPerQuery">Most keys one query asks for.</param>
    /// <param name="loops">Queries running at once: one gathers the keys that arrive while another is answered.</param>
    /// <param name="query">Answers a batch of keys, one answer for each, in the order asked.</param>
    /// <param name="answered">Told how many keys each query answered, for the store's counters.</param>
    public QueryGatherer(int capacity, int maxPerQuery, int loops, Func<IReadOnlyList<TKey>, Task<IReadOnlyList<TAnswer>>> query, Action<int>? answered = null)
    {
        _queue = Channel.CreateBounded<(TKey, TaskCompletionSource<TAnswer>)>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.Wait });
        _query = query;
        _answered = answered;
        _maxPerQuery = maxPerQuery;
        // The loops start on first use, exactly once however many callers arrive together.
        _loops = new Lazy<Task[]>(() => Enumerable.Range(0, loops).Select(_ => Task.Run(LoopAsync)).ToArray(), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public async Task<TAnswer> AskAsync(TKey key, CancellationToken cancellationToken)
    {
        _ = _loops.Value;
        var answer = new TaskCompletionSource<TAnswer>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _queue.Writer.WriteAsync((key, answer), cancellationToken);
        return await answer.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Takes no more keys and waits for the queries already running and the keys already queued.</summary>
    public async Task CompleteAsync()
    {
        _queue.Writer.TryComplete();
        if (_loops.IsValueCreated)
        {
            await Task.WhenAll(_loops.Value);
        }
    }

    private async Task LoopAsync()
    {
        var batch = new List<(TKey Key, TaskCompletionSource<TAnswer> Answer)>(_maxPerQuery);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < _maxPerQuery && _queue.Reader.TryRead(out var request))
            {
                batch.Add(request);
            }

            if (batch.Count == 0)
            {
                // Another loop took them.
                continue;
            }

            try
            {
                var answers = await _query(batch.ConvertAll(b => b.Key));
                _answered?.Invoke(batch.Count);
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Answer.TrySetResult(answers[i]);
                }
            }
            catch (Exception ex)
            {
                foreach (var (_, answer) in batch)
                {
                    answer.TrySetException(ex);
                }
            }
        }
    }
}
