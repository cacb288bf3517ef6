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

        if (SiloPort == GatewayPort)
        {
            yield return new ValidationResult("SiloPort and GatewayPort must differ.", [nameof(SiloPort), nameof(GatewayPort)]);
        }
    }
}
