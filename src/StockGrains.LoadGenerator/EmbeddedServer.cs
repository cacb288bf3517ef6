using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StockGrains.Grains.Storage;
using StockGrains.Server.Hosting;
using StockGrains.Server.Security;

namespace StockGrains.LoadGenerator;

/// <summary>
/// The real server — silo, HTTP API and store — started in this process on free loopback ports, with a fresh data
/// directory (or a fresh PostgreSQL database) and a fresh API key for the load generator's one client.
/// </summary>
public sealed class EmbeddedServer : IAsyncDisposable
{
    /// <summary>The client name the embedded server knows the load generator by.</summary>
    public const string ClientName = "loadgen";

    private readonly WebApplication _app;
    private readonly string _directory;
    private readonly LoadOptions _options;

    private EmbeddedServer(WebApplication app, string directory, LoadOptions options, string apiKey, int gatewayPort, string clusterId,
        string? databaseConnection)
    {
        _app = app;
        _directory = directory;
        _options = options;
        ApiKey = apiKey;
        GatewayPort = gatewayPort;
        ClusterId = clusterId;
        DatabaseConnection = databaseConnection;
        Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    /// <summary>The grain factory of the silo itself: calls through it skip the network and serialization.</summary>
    public IGrainFactory Grains => _app.Services.GetRequiredService<IGrainFactory>();

    public ILedgerStore Store => _app.Services.GetRequiredService<ILedgerStore>();

    /// <summary>Kestrel's address, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri Address { get; }

    public string ApiKey { get; }

    public int GatewayPort { get; }

    public const string ServiceId = "stockgrains";

    public string ClusterId { get; }

    /// <summary>The server's own PostgreSQL database (its store and membership), or null on SQLite.</summary>
    public string? DatabaseConnection { get; }

    public static async Task<EmbeddedServer> StartAsync(LoadOptions options, string run, CancellationToken cancellationToken)
    {
        var directory = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"stockgrains-load-{run}")).FullName;
        var apiKey = ApiKeys.NewKey();
        var (gatewayPort, siloPort) = FreePorts();
        var clusterId = $"loadgen-{run}";
        List<string> args =
        [
            $"--StockGrains:DataDirectory={directory}",
            "--Kestrel:Endpoints:Http:Url=http://127.0.0.1:0",
            $"--StockGrains:SiloPort={siloPort}",
            $"--StockGrains:GatewayPort={gatewayPort}",
            $"--StockGrains:ServiceId={ServiceId}",
            $"--StockGrains:ClusterId={clusterId}",
            "--Logging:LogLevel:Default=Warning",

            // Orleans warns of every slow turn under load; the latency figures already say that, and the warnings
            // would bury the progress lines.
            "--Logging:LogLevel:Orleans=Error",
            $"--StockGrains:StockLine:UnsafeSkipStockCheck={options.BrokenSkipStockCheck}",

            // The server runs as production does, with authentication, so the load generator is one of its clients.
            // A server without authentication ignores these settings, and the key header with them.
            $"--StockGrains:Auth:Clients:{ClientName}:Roles:0=checkout",
            $"--StockGrains:Auth:Clients:{ClientName}:Roles:1=operator",
            $"--StockGrains:Auth:Clients:{ClientName}:Roles:2=auditor",
            $"--StockGrains:Auth:Clients:{ClientName}:Warehouses:0=*",
            $"--StockGrains:Auth:Clients:{ClientName}:KeyHashes:0={ApiKeys.Hash(apiKey)}",

            // The default per-client limits protect a shared server from one client; here the one client is the load,
            // so its limits sit at their maxima rather than throttling what is being measured.
            $"--StockGrains:Auth:Clients:{ClientName}:Limits:RequestsPerSecond=1000000",
            $"--StockGrains:Auth:Clients:{ClientName}:Limits:Burst=1000000",
            $"--StockGrains:Auth:Clients:{ClientName}:Limits:MaxPendingHoldsPerLine=100000000",
        ];
        string? database = null;
        if (options.Store == "postgres")
        {
            database = await FreshDatabaseAsync(options.Connection!, cancellationToken);
            args.AddRange(["--StockGrains:Store=PostgreSql", $"--StockGrains:ConnectionString={database}"]);
        }

        var app = StockGrainsHost.Build([.. args]);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            if (database is not null)
            {
                await DropDatabaseAsync(options, database, Console.Error);
            }

            throw;
        }

        return new EmbeddedServer(app, directory, options, apiKey, gatewayPort, clusterId, database);
    }

    /// <summary>A fresh database on the server the connection string names, so that runs never see each other's rows.</summary>
    public static async Task<string> FreshDatabaseAsync(string connection, CancellationToken cancellationToken)
    {
        var name = $"load_{Guid.NewGuid():N}";
        await using (var server = new NpgsqlConnection(connection))
        {
            await server.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", server);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        return new NpgsqlConnectionStringBuilder(connection) { Database = name }.ConnectionString;
    }

    /// <summary>
    /// Drops a database <see cref="FreshDatabaseAsync"/> made, unless the run keeps its databases; then it names it on
    /// <paramref name="log"/>. Sessions still open on it (a pool not yet emptied) are ended: nothing of the run reads it
    /// any more. A failure to drop only leaves the database behind, and says so.
    /// </summary>
    public static async Task DropDatabaseAsync(LoadOptions options, string database, TextWriter log)
    {
        var name = new NpgsqlConnectionStringBuilder(database).Database!;
        if (options.KeepDatabases)
        {
            await log.WriteLineAsync($"kept database {name}");
            return;
        }

        try
        {
            await using var server = new NpgsqlConnection(options.Connection);
            await server.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", server);
            await drop.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException ex)
        {
            await log.WriteLineAsync($"warning: database {name} was left behind: {ex.Message}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (DatabaseConnection is not null)
        {
            await DropDatabaseAsync(_options, DatabaseConnection, Console.Error);
        }

        // A run's SQLite file grows by tens of megabytes; nothing reads it after the check, so it goes.
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a file still held open only leaves a directory in the temp folder behind.
        }
        catch (UnauthorizedAccessException)
        {
            // The same.
        }
    }

    /// <summary>
    /// Two free ports for the silo, held open together while they are picked: picked one after the other, the kernel
    /// may hand out the same port twice, and the silo then fails to bind its second endpoint.
    /// </summary>
    private static (int Gateway, int Silo) FreePorts()
    {
        using var first = new TcpListener(IPAddress.Loopback, 0);
        using var second = new TcpListener(IPAddress.Loopback, 0);
        first.Start();
        second.Start();
        return (((IPEndPoint)first.LocalEndpoint).Port, ((IPEndPoint)second.LocalEndpoint).Port);
    }
}
