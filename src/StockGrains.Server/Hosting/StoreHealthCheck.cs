using Microsoft.Extensions.Diagnostics.HealthChecks;
using StockGrains.Grains.Storage;

namespace StockGrains.Server.Hosting;

/// <summary>Ready means the store answers a query.</summary>
public sealed class StoreHealthCheck(ILedgerStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await store.CheckAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy("The store does not answer.", ex);
        }
    }
}
