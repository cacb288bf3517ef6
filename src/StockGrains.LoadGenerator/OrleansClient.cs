using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using StockGrains.Grains.Storage;

namespace StockGrains.LoadGenerator;

/// <summary>
/// An Orleans client in a host of its own, as a checkout service runs it: every call crosses TCP to a silo's gateway
/// and is serialized both ways, even when the silo is the embedded one in this same process.
/// </summary>
public sealed class OrleansClient : IAsyncDisposable
{
    private readonly IHost _host;

    private OrleansClient(IHost host) => _host = host;

    public IGrainFactory Grains => _host.Services.GetRequiredService<IClusterClient>();

    /// <summary>
    /// Connects to the gateway on 127.0.0.1, or, given the cluster's PostgreSQL database, to every gateway its
    /// membership table lists (as a client of a real cluster does).
    /// </summary>
    public static async Task<OrleansClient> ConnectAsync(int gatewayPort, string? membershipDatabase, string serviceId, string clusterId,
        CancellationToken cancellationToken)
    {
        // A bare host: no appsettings.json or environment of the working directory reaches the client, and it logs
        // nothing; a connection that fails shows as the exception of the first call.
        var host = new HostBuilder()
            .UseOrleansClient(client =>
            {
                if (membershipDatabase is null)
                {
                    client.UseLocalhostClustering(gatewayPort, serviceId, clusterId);
                }
                else
                {
                    client.Configure<ClusterOptions>(o =>
                    {
                        o.ServiceId = serviceId;
                        o.ClusterId = clusterId;
                    });
                    client.UseAdoNetClustering(o =>
                    {
                        o.Invariant = PostgresDatabase.Invariant;
                        o.ConnectionString = membershipDatabase;
                    });
                }
            })
            .Build();
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return new OrleansClient(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
