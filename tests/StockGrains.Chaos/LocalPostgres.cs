namespace StockGrains.Chaos;

/// <summary>
/// A throwaway PostgreSQL of the run's own (deploy/postgres-local.sh), so the run may restart it with
/// <c>-m immediate</c> — a crash of the database, not a clean shutdown.
/// </summary>
public sealed class LocalPostgres : IAsyncDisposable
{
    private LocalPostgres(string directory, string connectionString)
    {
        Directory = directory;
        ConnectionString = connectionString;
    }

    public string Directory { get; }

    public string ConnectionString { get; }

    public static async Task<LocalPostgres> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"stockgrains-chaos-pg-{Guid.NewGuid():N}");
        var connection = await Repository.RunAsync("bash", Path.Combine(Repository.Root, "deploy", "postgres-local.sh"), "start", directory,
            Ports.Free().ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new LocalPostgres(directory, connection.Split('\n')[^1]);
    }

    /// <summary>Stops the server the hard way (no checkpoint, like a power cut) and starts it again.</summary>
    public async Task RestartImmediatelyAsync()
    {
        var bin = System.IO.Directory.GetDirectories("/usr/lib/postgresql").Order().Last() + "/bin";
        string[] pgctl = [$"{bin}/pg_ctl", "-D", $"{Directory}/data", "-m", "immediate", "-w", "-t", "60", "restart", "-l", $"{Directory}/postgres.log"];
        await (Environment.UserName == "root" ? Repository.RunAsync("runuser", ["-u", "postgres", "--", .. pgctl]) : Repository.RunAsync(pgctl[0], pgctl[1..]));
    }

    public async ValueTask DisposeAsync()
    {
        await Repository.RunAsync("bash", Path.Combine(Repository.Root, "deploy", "postgres-local.sh"), "stop", Directory);
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary directory is harmless.
        }
        catch (UnauthorizedAccessException)
        {
            // Likewise.
        }
    }
}
