using System.Globalization;
using Npgsql;
using StackExchange.Redis;

namespace StockGrains.LoadGenerator;

/// <summary>
/// The processor time a database server on this machine has used, read from Linux's <c>/proc</c>: the server's main
/// process with the children it has reaped, and every child still running (PostgreSQL's backends, WAL writer and
/// checkpointer; Redis's one process and its threads). Throughput on a shared machine moves with the neighbours, but
/// the processor time one request costs moves far less, and with the server's part beside this process's part a run
/// shows where a request's cost lies. A server on another machine, or one whose process cannot be read, has none.
/// </summary>
public sealed class ServerCpu
{
    /// <summary>Linux counts process times in clock ticks of 1/100 s (USER_HZ) on every architecture .NET runs on.</summary>
    private const double TicksPerSecond = 100;

    private readonly int _pid;

    private ServerCpu(string name, int pid)
    {
        Name = name;
        _pid = pid;
    }

    /// <summary>What the report calls the server: <c>postgres</c> or <c>redis</c>.</summary>
    public string Name { get; }

    /// <summary>The PostgreSQL server behind <paramref name="source"/>, found through a backend's parent, when it runs here.</summary>
    public static async Task<ServerCpu?> PostgresAsync(NpgsqlDataSource source, CancellationToken cancellationToken)
    {
        await using var command = source.CreateCommand("SELECT pg_backend_pid()");
        var backend = Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        return Local(backend, "postgres") && Parent(backend) is { } postmaster && Local(postmaster, "postgres") ? new ServerCpu("postgres", postmaster) : null;
    }

    /// <summary>The Redis server behind <paramref name="redis"/>, by the process id it reports, when it runs here.</summary>
    public static async Task<ServerCpu?> RedisAsync(IConnectionMultiplexer redis)
    {
        var info = await redis.GetServer(redis.GetEndPoints()[0]).InfoAsync("server");
        var pid = info.SelectMany(group => group).FirstOrDefault(pair => pair.Key == "process_id").Value;
        return int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && Local(id, "redis-server") ? new ServerCpu("redis", id) : null;
    }

    /// <summary>The server's processor time so far, or null once it cannot be read (the server stopped, say).</summary>
    public TimeSpan? Read()
    {
        if (Stat(_pid) is not { } main)
        {
            return null;
        }

        // Fields 14 to 17 of the main process: its own user and system time, and what its reaped children used.
        var ticks = main.UserTicks + main.SystemTicks + main.ChildUserTicks + main.ChildSystemTicks;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid != _pid &&
                Stat(pid) is { } child && child.Parent == _pid)
            {
                ticks += child.UserTicks + child.SystemTicks;
            }
        }

        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    private static bool Local(int pid, string command)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim() == command;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static int? Parent(int pid) => Stat(pid)?.Parent;

    private readonly record struct ProcessTimes(int Parent, long UserTicks, long SystemTicks, long ChildUserTicks, long ChildSystemTicks);

    /// <summary>
    /// A process's parent and times from <c>/proc/PID/stat</c>. The command name (field 2) is in parentheses and may hold
    /// spaces, so the fields are counted from the last closing parenthesis.
    /// </summary>
    private static ProcessTimes? Stat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // After the name come field 3 (state), 4 (parent) ... 14 (utime), 15 (stime), 16 (cutime), 17 (cstime).
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return fields.Length < 15 ? null : new ProcessTimes(
            int.Parse(fields[1], CultureInfo.InvariantCulture),
            long.Parse(fields[11], CultureInfo.InvariantCulture),
            long.Parse(fields[12], CultureInfo.InvariantCulture),
            long.Parse(fields[13], CultureInfo.InvariantCulture),
            long.Parse(fields[14], CultureInfo.InvariantCulture));
    }
}
