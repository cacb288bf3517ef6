using System.ComponentModel.DataAnnotations;

namespace StockGrains.Server.Hosting;

public enum StoreKind
{
    /// <summary>One SQLite file under <see cref="StockGrainsOptions.DataDirectory"/>, one silo, localhost clustering.</summary>
    Sqlite = 0,

    /// <summary>PostgreSQL for the ledger, snapshots, reminders and membership: as many silos as you like.</summary>
    PostgreSql = 1,
}

/// <summary>The server's settings, bound from section <c>StockGrains</c> and validated at start-up.</summary>
public sealed class StockGrainsOptions : IValidatableObject
{
    public const string Section = "StockGrains";

    public StoreKind Store { get; set; } = StoreKind.Sqlite;

    /// <summary>Where the embedded store keeps its file. Relative paths are relative to the working directory.</summary>
    [Required]
    public string DataDirectory { get; set; } = "data";

    /// <summary>Pinned so that a redeployed silo finds the same grain state and reminders.</summary>
    [Required, RegularExpression("^[A-Za-z0-9._-]{1,64}$")]
    public string ServiceId { get; set; } = "stockgrains";

    [Required, RegularExpression("^[A-Za-z0-9._-]{1,64}$")]
    public string ClusterId { get; set; } = "stockgrains-dev";

    [Range(1, 65_535)]
    public int SiloPort { get; set; } = 11_111;

    [Range(1, 65_535)]
    public int GatewayPort { get; set; } = 30_000;

    /// <summary>The PostgreSQL connection string; required when <see cref="Store"/> is <see cref="StoreKind.PostgreSql"/>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Ledger writers a silo runs on PostgreSQL, each with its own connection and thread (1 to 8; unset, 2). A line's
    /// appends and an order's states always go to the same writer, so each is written in order; different lines commit
    /// side by side, so one writer's transaction is sent while the other's commit reaches the disk. One hot line is
    /// written by one writer however many there are. SQLite takes one writer at a time, so the embedded store has one.
    /// </summary>
    [Range(1, StockGrains.Grains.Storage.RelationalLedgerStore.MaxWriters)]
    public int? LedgerWriters { get; set; }

    /// <summary>
    /// Running as a Kubernetes pod: Orleans' Kubernetes hosting reads the pod's name, namespace and IP, and removes
    /// pods of silos the cluster declared dead. Cluster mode only.
    /// </summary>
    public bool Kubernetes { get; set; }

    /// <summary>The address other silos and clients reach this silo at (cluster mode).</summary>
    [Required]
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    public string DatabasePath => Path.GetFullPath(Path.Combine(DataDirectory, "stockgrains.db"));

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Store == StoreKind.PostgreSql && string.IsNullOrWhiteSpace(ConnectionString))
        {
            yield return new ValidationResult("StockGrains:ConnectionString is required when StockGrains:Store is PostgreSql.", [nameof(ConnectionString)]);
        }

        if (!System.Net.IPAddress.TryParse(AdvertisedAddress, out _))
        {
            yield return new ValidationResult($"StockGrains:AdvertisedAddress '{AdvertisedAddress}' is not an IP address.", [nameof(AdvertisedAddress)]);
        }

        if (Store == StoreKind.Sqlite && LedgerWriters > 1)
        {
            yield return new ValidationResult(
                $"StockGrains:LedgerWriters is {LedgerWriters}, but SQLite takes one writer at a time: leave it unset or set it to 1, or use PostgreSql.",
                [nameof(LedgerWriters)]);
        }

        if (SiloPort == GatewayPort)
        {
            yield return new ValidationResult("SiloPort and GatewayPort must differ.", [nameof(SiloPort), nameof(GatewayPort)]);
        }
    }
}
