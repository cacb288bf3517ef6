using System.Security.Cryptography;
using System.Text;

namespace StockGrains.Chaos;

/// <summary>
/// PostgreSQL and N silo processes, each in a slot that a fault may empty and a restart refill. Clients ask for a live
/// silo per request, so traffic follows the cluster as it changes.
/// </summary>
public sealed class Cluster : IAsyncDisposable
{
    /// <summary>The run's one client: every role in every warehouse. The key is made per run and only its hash configured.</summary>
    public const string Client = "chaos";

    private readonly SiloProcess?[] _silos;
    private readonly string _clusterId = $"chaos-{Guid.NewGuid():N}";
    private readonly string[] _settings;
    private readonly Lock _gate = new();

    private Cluster(LocalPostgres postgres, int silos, string apiKey, string[] settings)
    {
        Postgres = postgres;
        ApiKey = apiKey;
        _silos = new SiloProcess?[silos];
        _settings = settings;
    }

    public LocalPostgres Postgres { get; }

    public string ApiKey { get; }

    public int Size => _silos.Length;

    public static async Task<Cluster> StartAsync(int silos, bool brokenAcknowledgeBeforeDurable)
    {
        var postgres = await LocalPostgres.StartAsync();
        var key = "sgk_chaos_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var hash = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        string[] settings =
        [
            $"StockGrains__Auth__Clients__{Client}__Roles__0=checkout",
            $"StockGrains__Auth__Clients__{Client}__Roles__1=operator",
            $"StockGrains__Auth__Clients__{Client}__Roles__2=auditor",
            $"StockGrains__Auth__Clients__{Client}__Warehouses__0=*",
            $"StockGrains__Auth__Clients__{Client}__KeyHashes__0={hash}",
            "StockGrains__Limits__RequestsPerSecond=1000000",
            "StockGrains__Limits__Burst=1000000",
            $"StockGrains__StockLine__UnsafeAcknowledgeBeforeDurable={brokenAcknowledgeBeforeDurable}",
            // Lines keep only their last 64 finished operations in memory, so a retry after a fault is often answered
            // from a ledger lookup: the path every line takes once it has finished more than the default 10,000.
            "StockGrains__StockLine__RememberLimit=64",
        ];
        var cluster = new Cluster(postgres, silos, key, settings);
        try
        {
            // The first silo creates the schema; the others join it.
            await cluster.RestartAsync(0);
            await Task.WhenAll(Enumerable.Range(1, silos - 1).Select(cluster.RestartAsync));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>A live silo's HTTP port, chosen by <paramref name="random"/>; null when none is live.</summary>
    public int? PickPort(Random random)
    {
        lock (_gate)
        {
            var live = _silos.Where(s => s is { HasExited: false }).ToList();
            return live.Count == 0 ? null : live[random.Next(live.Count)]!.HttpPort;
        }
    }

    public SiloProcess? this[int slot]
    {
        get
        {
            lock (_gate)
            {
                return _silos[slot];
            }
        }
    }

    /// <summary>Starts a fresh silo in the slot (the old process, if any, must already be gone).</summary>
    public async Task RestartAsync(int slot)
    {
        SiloProcess? old;
        lock (_gate)
        {
            old = _silos[slot];
            _silos[slot] = null;
        }

        if (old is not null)
        {
            await old.DisposeAsync();
        }

        var silo = await SiloProcess.StartAsync(Postgres.ConnectionString, _clusterId, ApiKey, _settings);
        lock (_gate)
        {
            _silos[slot] = silo;
        }
    }

    /// <summary>After the faults: every slot holds a live, ready silo again.</summary>
    public async Task HealAsync()
    {
        for (var slot = 0; slot < _silos.Length; slot++)
        {
            if (this[slot] is not { HasExited: false })
            {
                await RestartAsync(slot);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            if (silo is not null)
            {
                await silo.DisposeAsync();
            }
        }

        await Postgres.DisposeAsync();
    }
}
