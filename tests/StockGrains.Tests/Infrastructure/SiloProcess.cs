using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace StockGrains.Tests.Infrastructure;

/// <summary>
/// A real StockGrains silo in its own process, in cluster mode on PostgreSQL: the production grain directory, real
/// crashes (SIGKILL) and real graceful exits (SIGTERM), which an in-process cluster cannot give.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _log;

    private SiloProcess(Process process, int httpPort, string log)
    {
        _process = process;
        HttpPort = httpPort;
        _log = log;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
        Http.DefaultRequestHeaders.Add(StockGrains.Server.Security.ApiKeys.Header, TestKeys.KeyOf(TestKeys.DefaultClient));
    }

    public int HttpPort { get; }

    public HttpClient Http { get; }

    public bool HasExited => _process.HasExited;

    public string Log => File.Exists(_log) ? File.ReadAllText(_log) : "";

    /// <summary>Starts a silo on free loopback ports and waits until it is ready (at most a minute).</summary>
    public static async Task<SiloProcess> StartAsync(string connectionString, string clusterId, params string[] settings)
    {
        var httpPort = FreePort();
        var log = Path.Combine(Path.GetTempPath(), $"stockgrains-silo-{clusterId}-{httpPort}.log");
        var start = new ProcessStartInfo("dotnet", [ServerDll()])
        {
            WorkingDirectory = Path.GetDirectoryName(ServerDll())!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["StockGrains__Store"] = "PostgreSql";
        start.Environment["StockGrains__ConnectionString"] = connectionString;
        start.Environment["StockGrains__ClusterId"] = clusterId;
        start.Environment["StockGrains__SiloPort"] = FreePort().ToString();
        start.Environment["StockGrains__GatewayPort"] = FreePort().ToString();
        start.Environment["StockGrains__AdvertisedAddress"] = "127.0.0.1";
        start.Environment["Kestrel__Endpoints__Http__Url"] = $"http://127.0.0.1:{httpPort}";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (name, value) in TestKeys.Settings("__"))
        {
            start.Environment[name] = value;
        }


        // Crash tests want a dead silo noticed in seconds, not the production default.
        start.Environment["Orleans__Membership__ProbeTimeout"] = "00:00:01";
        start.Environment["Orleans__Membership__NumMissedProbesLimit"] = "2";
        start.Environment["Orleans__Membership__NumVotesForDeathDeclaration"] = "1";
        start.Environment["Orleans__Membership__IAmAliveTablePublishTimeout"] = "00:00:05";
        foreach (var setting in settings)
        {
            var (name, value) = (setting[..setting.IndexOf('=')], setting[(setting.IndexOf('=') + 1)..]);
            start.Environment[name] = value;
        }

        var process = Process.Start(start)!;
        var writer = new StreamWriter(log) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { lock (writer) { writer.WriteLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (writer) { writer.WriteLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var silo = new SiloProcess(process, httpPort, log);
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

    /// <summary>A graceful exit: SIGTERM, and wait for the silo to leave the cluster.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    /// <summary>The server built beside this test assembly's configuration (Debug or Release).</summary>
    private static string ServerDll([CallerFilePath] string here = "")
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        var root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", ".."));
        return Path.Combine(root, "src", "StockGrains.Server", "bin", configuration, "net10.0", "StockGrains.Server.dll");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
