using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using StockGrains.Chaos;
using StockGrains.Grains;
using StockGrains.Grains.Storage;
using StockGrains.Server.Hosting;

namespace StockGrains.Tests.Infrastructure;

/// <summary>
/// The real server — silo, HTTP API and embedded SQLite store — started in this process on free loopback ports,
/// with business time on a fake clock. Stopping and starting another one on the same folder is a restart.
/// </summary>
public sealed class ServerHost : IAsyncDisposable
{
    private ServerHost(WebApplication app, string dataDirectory, FakeTimeProvider clock, int gatewayPort, string clusterId)
    {
        App = app;
        GatewayPort = gatewayPort;
        ClusterId = clusterId;
        DataDirectory = dataDirectory;
        Clock = clock;
        Http = Client(TestKeys.DefaultClient);
    }

    /// <summary>An HTTP client that authenticates as one of the configured clients.</summary>
    public HttpClient Client(string client)
    {
        var address = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Add(StockGrains.Server.Security.ApiKeys.Header, TestKeys.KeyOf(client));
        return http;
    }

    public WebApplication App { get; }

    public string DataDirectory { get; }

    public int GatewayPort { get; }

    public string ClusterId { get; }

    public FakeTimeProvider Clock { get; }

    public HttpClient Http { get; }

    public IGrainFactory Grains => App.Services.GetRequiredService<IGrainFactory>();

    public ILedgerStore Store => App.Services.GetRequiredService<ILedgerStore>();

    public SqliteDatabase Database => App.Services.GetRequiredService<SqliteDatabase>();

    public static string NewDataDirectory() =>
        Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "stockgrains-tests", Guid.NewGuid().ToString("N"))).FullName;

    public static async Task<ServerHost> StartAsync(string? dataDirectory = null, FakeTimeProvider? clock = null, params string[] settings)
    {
        dataDirectory ??= NewDataDirectory();
        clock ??= new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var gatewayPort = Ports.Free();
        var clusterId = $"test-{Guid.NewGuid():N}";
        string[] args =
        [
            $"--StockGrains:DataDirectory={dataDirectory}",
            $"--StockGrains:SiloPort={Ports.Free()}",
            $"--StockGrains:GatewayPort={gatewayPort}",
            $"--StockGrains:ClusterId={clusterId}",
            "--Kestrel:Endpoints:Http:Url=http://127.0.0.1:0",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Orleans=Error",
            .. TestKeys.Settings().Select(s => $"--{s.Key}={s.Value}"),
            .. settings,
        ];
        var app = StockGrainsHost.Build(args, builder => builder.Services.AddSingleton(new StockGrainsTime(clock)));
        await app.StartAsync();
        return new ServerHost(app, dataDirectory, clock, gatewayPort, clusterId);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>One server for a whole test collection; each test uses fresh keys.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public ServerHost Host { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Host = await ServerHost.StartAsync();

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}

[CollectionDefinition(nameof(ServerCollection))]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>;

/// <summary>Fresh ids, so that tests sharing one server never touch each other's lines.</summary>
public static class Fresh
{
    public static string Id(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(64, prefix.Length + 33)];
}
