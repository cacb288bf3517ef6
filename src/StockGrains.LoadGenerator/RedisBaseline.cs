using StackExchange.Redis;

namespace StockGrains.LoadGenerator;

/// <summary>
/// The workload against Redis: one Lua script per reservation that checks the key's count and decrements it in one
/// atomic step, the way a shop keeps stock in Redis. Durable only when Redis runs with <c>appendfsync always</c>
/// (as <c>deploy/redis-local.sh</c> starts it), which the run reads back and reports.
/// </summary>
public static class RedisBaseline
{
    public const string Name = "Redis Lua check-and-decrement";

    public const string ReadsName = "Redis MGET";

    /// <summary>
    /// KEYS[1] is the SKU's count, ARGV[1] the quantity. Redis runs a script alone, so nothing can come between the
    /// check and the decrement. Answers 1 when the units were taken, 0 when there were too few.
    /// </summary>
    public const string Script = """
        local count = tonumber(redis.call('GET', KEYS[1]))
        local quantity = tonumber(ARGV[1])
        if count == nil or count < quantity then
          return 0
        end
        redis.call('DECRBY', KEYS[1], quantity)
        return 1
        """;

    /// <summary>
    /// With <c>--then ship</c>: KEYS[1] is the SKU's committed count, KEYS[2] its shipped count; one unit moves from the
    /// first to the second in one atomic step, as a checkout's shipment does.
    /// </summary>
    public const string ShipScript = """
        redis.call('DECRBY', KEYS[1], 1)
        redis.call('INCRBY', KEYS[2], 1)
        return 1
        """;

    /// <summary>Keys per MSET, MGET or DEL: large enough to load 10,000 SKUs in a few round trips, small enough to never block Redis.</summary>
    private const int Batch = 1_000;

    /// <summary>Violations listed one by one before the rest are only counted, so a broken run's report stays readable.</summary>
    private const int MaxListed = 10;

    public static async Task<Report> RunAsync(LoadOptions options, string run, string[] skus, TextWriter? progress, CancellationToken cancellationToken)
    {
        await using var redis = await ConnectAsync(options);
        var db = redis.GetDatabase();
        var notes = new List<string>();
        await CheckDurabilityAsync(redis, notes);
        await CompactAppendOnlyFileAsync(redis, MaxAppendOnlyFileBytes, notes, cancellationToken);

        // Keys of this run only, so that nothing else in that Redis is read, counted or deleted.
        var keys = skus.Select(sku => (RedisKey)$"stockgrains-load:{run}:{sku}").ToArray();
        foreach (var chunk in keys.Chunk(Batch))
        {
            await db.StringSetAsync(chunk.Select(k => new KeyValuePair<RedisKey, RedisValue>(k, options.Stock)).ToArray());
        }

        // A checkout's later steps (--then) keep their own counts: units committed, and units shipped.
        var committedKeys = keys.Select(k => (RedisKey)$"{k}:committed").ToArray();
        var shippedKeys = keys.Select(k => (RedisKey)$"{k}:shipped").ToArray();

        // Loaded once, then called by its hash: each call sends 40 bytes of hash rather than the script's text.
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        var hash = await server.ScriptLoadAsync(Script);
        var shipHash = await server.ScriptLoadAsync(ShipScript);
        var taken = new long[keys.Length];
        var (recorder, seconds) = await Load.FireAsync(options, progress, await ServerCpu.RedisAsync(redis), async (_, _, random) =>
        {
            var index = random.Next(keys.Length);
            var answer = (long)await db.ScriptEvaluateAsync(hash, [keys[index]], [1]);
            if (answer == 1)
            {
                Interlocked.Increment(ref taken[index]);
                if (options.Commits)
                {
                    await db.StringIncrementAsync(committedKeys[index]);
                }

                if (options.Ships)
                {
                    await db.ScriptEvaluateAsync(shipHash, [committedKeys[index], shippedKeys[index]]);
                }
            }

            return answer == 1;
        }, cancellationToken);

        var violations = new List<string>();
        var found = 0;
        for (var start = 0; start < keys.Length; start += Batch)
        {
            var end = Math.Min(keys.Length, start + Batch);
            var counts = await db.StringGetAsync(keys[start..end]);
            var committed = await db.StringGetAsync(committedKeys[start..end]);
            var shipped = await db.StringGetAsync(shippedKeys[start..end]);
            for (var i = 0; i < counts.Length; i++)
            {
                var index = start + i;
                var sku = skus[index];
                var problems = new List<string>();
                var (wantCommitted, wantShipped) = options.Then switch
                {
                    "commit" => (taken[index], 0L),
                    "ship" => (0L, taken[index]),
                    _ => (0L, 0L),
                };
                if ((long)committed[i] != wantCommitted || (long)shipped[i] != wantShipped)
                {
                    problems.Add($"{sku}: {(long)committed[i]} committed and {(long)shipped[i]} shipped, but {taken[index]} acknowledged");
                }

                if (!counts[i].TryParse(out long left))
                {
                    problems.Add($"{sku} has no count");
                }
                else
                {
                    if (taken[index] > options.Stock)
                    {
                        problems.Add($"oversell on {sku}: {taken[index]} decrements for {options.Stock} units");
                    }

                    if (left < 0)
                    {
                        problems.Add($"{sku} went below zero ({left})");
                    }

                    if (left != options.Stock - taken[index])
                    {
                        problems.Add($"{sku}: {left} left, but {options.Stock} − {taken[index]} acknowledged = {options.Stock - taken[index]}");
                    }
                }

                found += problems.Count;
                violations.AddRange(problems.Take(Math.Max(0, MaxListed - violations.Count)));
            }
        }

        if (found > violations.Count)
        {
            violations.Add($"and {found - violations.Count} more");
        }

        foreach (var chunk in keys.Concat(committedKeys).Concat(shippedKeys).Chunk(Batch))
        {
            await db.KeyDeleteAsync(chunk);
        }

        return Report.From(Name, recorder, seconds, 0, violations, notes);
    }

    /// <summary>
    /// The reads' baseline: a SKU's count in each warehouse as a key of its own, read with one <c>MGET</c> and summed
    /// (a count below zero as none), the way a shop that keeps stock in Redis shows a product page's availability.
    /// </summary>
    public static async Task<Report> RunReadsAsync(LoadOptions options, string run, string sku, IReadOnlyList<string> warehouses, TextWriter? progress,
        CancellationToken cancellationToken)
    {
        await using var redis = await ConnectAsync(options);
        var db = redis.GetDatabase();
        var keys = warehouses.Select(w => (RedisKey)$"stockgrains-load:{run}:{w}:{sku}").ToArray();
        await db.StringSetAsync(keys.Select(k => new KeyValuePair<RedisKey, RedisValue>(k, options.Stock)).ToArray());
        var expected = options.Stock * keys.Length;
        long wrong = 0;
        Recorder recorder;
        double seconds;
        try
        {
            (recorder, seconds) = await Load.FireAsync(options, progress, await ServerCpu.RedisAsync(redis), async (_, _, _) =>
            {
                var counts = await db.StringGetAsync(keys);
                var available = counts.Sum(c => Math.Max(0, (long)c));
                if (available == expected)
                {
                    return true;
                }

                Interlocked.Increment(ref wrong);
                return false;
            }, cancellationToken);
        }
        finally
        {
            // A cancelled run leaves nothing of its own in a Redis that others may share.
            await db.KeyDeleteAsync(keys);
        }

        return Report.From(ReadsName, recorder, seconds, 0, wrong == 0 ? [] : [$"{wrong} reads answered other than {expected}"]);
    }

    /// <summary>
    /// Above this the run rewrites Redis's append-only file before it starts. Every decrement appends to it, a run adds
    /// tens of megabytes, and with automatic rewrites off (as a benchmark wants them) nothing else would bound it.
    /// </summary>
    internal const long MaxAppendOnlyFileBytes = 256L << 20;

    /// <summary>How long the run waits for that rewrite before it goes on without it, and says so.</summary>
    private static readonly TimeSpan RewriteTimeout = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Rewrites the append-only file down to the keys Redis holds, before the measured run, when it has grown past
    /// <paramref name="maxBytes"/>; waits for the rewrite to end, so that its fork and its writes are not measured.
    /// </summary>
    internal static async Task CompactAppendOnlyFileAsync(ConnectionMultiplexer redis, long maxBytes, List<string> notes, CancellationToken cancellationToken)
    {
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        try
        {
            if (Number(await PersistenceAsync(server), "aof_current_size") is not { } size || size <= maxBytes)
            {
                return;
            }

            var deadline = DateTime.UtcNow + RewriteTimeout;
            try
            {
                await server.ExecuteAsync("BGREWRITEAOF");
            }
            catch (RedisServerException)
            {
                // One already running (Redis refuses a second): wait for that one.
            }

            while (await PersistenceAsync(server) is var info
                && (Number(info, "aof_rewrite_in_progress") == 1 || Number(info, "aof_rewrite_scheduled") == 1))
            {
                if (DateTime.UtcNow > deadline)
                {
                    notes.Add($"Redis's append-only file ({size:N0} bytes) was still being rewritten after {RewriteTimeout.TotalSeconds:N0} s; the run went on during it");
                    return;
                }

                await Task.Delay(100, cancellationToken);
            }
        }
        catch (RedisException ex)
        {
            // A Redis that will not say or do this (a managed one, say) still gets its baseline, with the reason noted.
            notes.Add($"could not check or rewrite Redis's append-only file ({ex.Message}); the run went on without");
        }
    }

    /// <summary>Redis's <c>INFO persistence</c>, read once for every field a look needs.</summary>
    internal static async Task<IReadOnlyList<KeyValuePair<string, string>>> PersistenceAsync(IServer server) =>
        (await server.InfoAsync("persistence")).SelectMany(group => group).ToList();

    /// <summary>One number of an <c>INFO</c> answer, or null when it has none by that name.</summary>
    internal static long? Number(IReadOnlyList<KeyValuePair<string, string>> info, string field) =>
        long.TryParse(info.FirstOrDefault(pair => pair.Key == field).Value, System.Globalization.NumberStyles.Integer,
            System.Globalization.CultureInfo.InvariantCulture, out var number) ? number : null;

    internal static async Task<ConnectionMultiplexer> ConnectAsync(LoadOptions options)
    {
        var configuration = ConfigurationOptions.Parse(options.Redis!);
        configuration.AbortOnConnectFail = true;
        configuration.AllowAdmin = true;
        configuration.ConnectTimeout = 5_000;
        configuration.AsyncTimeout = 30_000;
        return await ConnectionMultiplexer.ConnectAsync(configuration);
    }

    /// <summary>
    /// Reads back whether writes reach the disk before Redis answers; a baseline that is not durable says so. So does one
    /// whose Redis rewrites its append-only file by itself: the rewrite forks Redis and writes the whole file, and one
    /// that starts mid-run slows this baseline, and whatever runs after it on the same disk (the next round's StockGrains).
    /// </summary>
    private static async Task CheckDurabilityAsync(ConnectionMultiplexer redis, List<string> notes)
    {
        try
        {
            var server = redis.GetServer(redis.GetEndPoints()[0]);
            var settings = (await server.ConfigGetAsync("append*")).ToDictionary(p => p.Key, p => p.Value);
            if (settings.GetValueOrDefault("appendonly") != "yes" || settings.GetValueOrDefault("appendfsync") != "always")
            {
                notes.Add($"Redis runs with appendonly {settings.GetValueOrDefault("appendonly")}, appendfsync {settings.GetValueOrDefault("appendfsync")}: " +
                    "an acknowledged decrement can be lost, so this baseline is not durable like StockGrains");
            }

            // A server that does not name the setting (an older or a managed Redis) is left unremarked.
            var rewrite = (await server.ConfigGetAsync("auto-aof-rewrite-percentage")).FirstOrDefault().Value;
            if (rewrite is not null && rewrite != "0")
            {
                notes.Add($"Redis rewrites its append-only file by itself (auto-aof-rewrite-percentage {rewrite}): a rewrite that starts " +
                    "mid-run forks Redis and slows this run and the next; deploy/redis-local.sh sets it to 0");
            }
        }
        catch (RedisException ex)
        {
            notes.Add($"could not read Redis's durability settings ({ex.Message}); appendfsync always is assumed, not checked");
        }
    }
}
