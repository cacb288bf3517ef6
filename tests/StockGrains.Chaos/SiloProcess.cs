using System.Diagnostics;
using System.Globalization;

namespace StockGrains.Chaos;

/// <summary>
/// A real StockGrains silo in its own process, in cluster mode on PostgreSQL: the production grain directory, real
/// crashes (SIGKILL), real stalls (SIGSTOP) and real graceful exits (SIGTERM), which an in-process cluster cannot give.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _log;

    private SiloProcess(Process process, int httpPort, string log, string apiKey)
    {
        _process = process;
        HttpPort = httpPort;
        _log = log;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
        Http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
    }

    public int HttpPort { get; }

    /// <summary>A client that authenticates with the key the silo was started for.</summary>
    public HttpClient Http { get; }

    public bool HasExited => _process.HasExited;

    public string Log => File.Exists(_log) ? File.ReadAllText(_log) : "";

    /// <summary>
    /// Starts a silo on free loopback ports and waits until it is ready (at most a minute). <paramref name="settings"/>
    /// are environment variables (<c>Name=value</c>); <paramref name="apiKey"/> is a key those settings configure.
    /// </summary>
    public static async Task<SiloProcess> StartAsync(string connectionString, string clusterId, string apiKey, IEnumerable<string> settings)
    {
        var httpPort = Ports.Free();
        var log = Path.Combine(Path.GetTempPath(), $"stockgrains-silo-{clusterId}-{httpPort}.log");
        var start = new ProcessStartInfo("dotnet", [Repository.ServerDll])
        {
            WorkingDirectory = Path.GetDirectoryName(Repository.ServerDll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["StockGrains__Store"] = "PostgreSql";
        start.Environment["StockGrains__ConnectionString"] = connectionString;
        start.Environment["StockGrains__ClusterId"] = clusterId;
        start.Environment["StockGrains__SiloPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture);
        start.Environment["StockGrains__GatewayPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture);
        start.Environment["StockGrains__AdvertisedAddress"] = "127.0.0.1";
        start.Environment["Kestrel__Endpoints__Http__Url"] = $"http://127.0.0.1:{httpPort}";
        start.Environment["Logging__LogLevel__Default"] = "Warning";

        // Crash tests want a dead silo noticed in seconds, not the production default.
        start.Environment["Orleans__Membership__ProbeTimeout"] = "00:00:01";
        start.Environment["Orleans__Membership__NumMissedProbesLimit"] = "2";
        start.Environment["Orleans__Membership__NumVotesForDeathDeclaration"] = "1";
        start.Environment["Orleans__Membership__IAmAliveTablePublishTimeout"] = "00:00:05";
        foreach (var setting in settings)
        {
            var at = setting.IndexOf('=', StringComparison.Ordinal);
            start.Environment[setting[..at]] = setting[(at + 1)..];
        }

        var process = Process.Start(start)!;
        var writer = new StreamWriter(log) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { lock (writer) { writer.WriteLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (writer) { writer.WriteLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var silo = new SiloProcess(process, httpPort, log, apiKey);
        for (var attempt = 0; attempt < 240; attempt++)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The silo exited with {process.ExitCode}:\n{silo.Log}");
            }

            try
            {
                using var response = await silo.Http.GetAsync("/health/ready");
                if (response.IsSuccessStatusCode)
                {
                    return silo;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(250);
        }

        await silo.DisposeAsync();
        throw new TimeoutException($"The silo was not ready within a minute:\n{silo.Log}");
    }

    /// <summary>A crash: SIGKILL, no goodbye.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>A stall: SIGSTOP. Longer than failure detection, the cluster declares the silo dead while it still exists.</summary>
    public Task PauseAsync() => SignalAsync("STOP");

    /// <summary>SIGCONT: the stalled silo resumes as a zombie and must find out it was declared dead.</summary>
    public Task ResumeAsync() => SignalAsync("CONT");

    /// <summary>A graceful exit: SIGTERM, and wait (at most a minute) for the silo to leave the cluster.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        await SignalAsync("TERM");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(timeout.Token);
    }

    private async Task SignalAsync(string signal)
    {
        if (_process.HasExited)
        {
            return;
        }

        using var kill = Process.Start("kill", [$"-{signal}", _process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            await SignalAsync("CONT");
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
