using System.Diagnostics;
using System.Runtime.CompilerServices;
using StockGrains.Chaos;

namespace StockGrains.Tests.Infrastructure;

/// <summary>
/// The Redis of the baseline tests: the one named by <c>STOCKGRAINS_TEST_REDIS</c> (which <c>tests/run-all.sh</c>
/// starts), or else a throwaway one started here with <c>deploy/redis-local.sh</c>. Without either the tests fail:
/// they never skip.
/// </summary>
public sealed class RedisTestServer : IAsyncDisposable
{
    public const string Variable = "STOCKGRAINS_TEST_REDIS";

    /// <summary>Long enough for the script to install Redis from Debian's packages on a fresh machine.</summary>
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(3);

    private readonly string? _directory;

    private RedisTestServer(string address, string? directory)
    {
        Address = address;
        _directory = directory;
    }

    /// <summary><c>host:port</c>.</summary>
    public string Address { get; }

    public static async Task<RedisTestServer> StartAsync()
    {
        var named = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrWhiteSpace(named))
        {
            return new RedisTestServer(named, null);
        }

        var directory = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "stockgrains-tests", $"redis-{Guid.NewGuid():N}")).FullName;
        var (exit, output, errors) = await ScriptAsync("start", directory, Ports.Free().ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (exit != 0 || string.IsNullOrWhiteSpace(output))
        {
            throw new InvalidOperationException(
                $"The Redis tests need a server and deploy/redis-local.sh could not start one (exit {exit}): {errors.Trim()} " +
                $"Set {Variable} to a running Redis's HOST:PORT, or run the tests through 'bash tests/run-all.sh'.");
        }

        return new RedisTestServer(output.Trim(), directory);
    }

    public async ValueTask DisposeAsync()
    {
        if (_directory is null)
        {
            return;
        }

        await ScriptAsync("stop", _directory);
        Directory.Delete(_directory, recursive: true);
    }

    private static async Task<(int Exit, string Output, string Errors)> ScriptAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(RepositoryRoot(), "deploy", "redis-local.sh"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash did not start.");
        using var timeout = new CancellationTokenSource(ScriptTimeout);
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var errors = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"deploy/redis-local.sh {string.Join(' ', arguments)} did not finish in {ScriptTimeout.TotalMinutes} minutes.");
        }

        return (process.ExitCode, await output, await errors);
    }

    private static string RepositoryRoot([CallerFilePath] string here = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", ".."));
}
