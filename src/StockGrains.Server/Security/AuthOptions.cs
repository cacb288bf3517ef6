using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using StockGrains.Security;

namespace StockGrains.Server.Security;

/// <summary>
/// Who may call the API. Bound from <c>StockGrains:Auth</c> and re-read when configuration changes, so a key is
/// rotated by adding the new hash, moving clients over, and removing the old hash, with no restart.
/// </summary>
public sealed partial class AuthOptions : IValidatableObject
{
    public const string Section = "StockGrains:Auth";

    /// <summary>API-key clients by name. The name is the actor recorded on every ledger entry the client makes.</summary>
    public Dictionary<string, ClientOptions> Clients { get; set; } = new(StringComparer.Ordinal);

    public JwtOptions Jwt { get; set; } = new();

    /// <summary>True when any way of authenticating is configured.</summary>
    public bool Configured => Clients.Count > 0 || Jwt.Enabled;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (name, client) in Clients)
        {
            if (!Ids.IsValid(name))
            {
                yield return new($"Auth client name '{name}' must be 1-64 characters of A-Z a-z 0-9 . _ -.");
            }

            if (client.Roles.Count == 0 || client.Roles.Any(r => !RoleNames.TryParse(r, out _)))
            {
                yield return new($"Auth client '{name}' needs roles from: {string.Join(", ", RoleNames.All)}.");
            }

            if (client.Warehouses.Any(w => w != CallerIdentity.AllWarehouses && !Ids.IsValid(w)))
            {
                yield return new($"Auth client '{name}' names a warehouse that is not a valid id (or '*').");
            }

            if (client.KeyHashes.Count == 0 || client.KeyHashes.Any(h => !HashPattern().IsMatch(h)))
            {
                yield return new($"Auth client '{name}' needs KeyHashes of the form sha256:<64 lowercase hex> (make one with: keys new).");
            }

            foreach (var problem in client.Limits.Check($"Auth client '{name}'"))
            {
                yield return new(problem);
            }
        }

        if (Jwt.Enabled && Jwt.Authority is null && (Jwt.SigningKey is null || !IsKey(Jwt.SigningKey)))
        {
            yield return new("StockGrains:Auth:Jwt needs an Authority, or a SigningKey of at least 32 bytes in base64.");
        }
    }

    private static bool IsKey(string base64)
    {
        var bytes = new byte[base64.Length];
        return Convert.TryFromBase64String(base64, bytes, out var length) && length >= 32;
    }

    [GeneratedRegex("^sha256:[0-9a-f]{64}$")]
    private static partial Regex HashPattern();
}

public sealed class ClientOptions
{
    /// <summary><c>checkout</c>, <c>operator</c>, <c>auditor</c>, <c>admin</c>.</summary>
    public List<string> Roles { get; set; } = [];

    /// <summary>Warehouses an operator works in; <c>*</c> for all.</summary>
    public List<string> Warehouses { get; set; } = [];

    /// <summary>SHA-256 hashes of the client's keys; more than one while a key is being rotated.</summary>
    public List<string> KeyHashes { get; set; } = [];

    /// <summary>This client's own limits; unset values fall back to <c>StockGrains:Limits</c>.</summary>
    public ClientLimits Limits { get; set; } = new();
}

/// <summary>JWT bearer tokens, as an alternative to API keys: <c>sub</c> names the client, <c>roles</c> and <c>warehouses</c> scope it.</summary>
public sealed class JwtOptions
{
    public string? Issuer { get; set; }

    public string? Audience { get; set; }

    /// <summary>An OpenID Connect authority whose published keys sign the tokens.</summary>
    public string? Authority { get; set; }

    /// <summary>A symmetric HS256 key in base64, for deployments without an authority.</summary>
    public string? SigningKey { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(Issuer);
}

/// <summary>Limits of one client. Every value is optional here; <see cref="LimitOptions"/> holds the defaults.</summary>
public class ClientLimits
{
    /// <summary>Requests per second a client may sustain on one silo.</summary>
    public int? RequestsPerSecond { get; set; }

    /// <summary>Requests a client may send at once above its sustained rate.</summary>
    public int? Burst { get; set; }

    /// <summary>Pending holds a client may keep on one stock line; enforced by the line from its durable holds.</summary>
    public int? MaxPendingHoldsPerLine { get; set; }

    /// <summary>Base units one reservation line may ask for.</summary>
    public long? MaxQuantityPerLine { get; set; }

    /// <summary>The longest hold a client may ask for, in seconds.</summary>
    public int? MaxHoldSeconds { get; set; }

    public IEnumerable<string> Check(string who)
    {
        if (RequestsPerSecond is < 1 or > 1_000_000)
        {
            yield return $"{who}: RequestsPerSecond must be from 1 to 1,000,000.";
        }

        if (Burst is < 1 or > 1_000_000)
        {
            yield return $"{who}: Burst must be from 1 to 1,000,000.";
        }

        if (MaxPendingHoldsPerLine is < 1 or > 100_000_000)
        {
            yield return $"{who}: MaxPendingHoldsPerLine must be from 1 to 100,000,000.";
        }

        if (MaxQuantityPerLine is < 1 or > 1_000_000_000)
        {
            yield return $"{who}: MaxQuantityPerLine must be from 1 to 1,000,000,000.";
        }

        if (MaxHoldSeconds is < 1 or > 604_800)
        {
            yield return $"{who}: MaxHoldSeconds must be from 1 to 604,800.";
        }
    }
}

/// <summary>The default limits of every client (section <c>StockGrains:Limits</c>).</summary>
public sealed class LimitOptions : ClientLimits, IValidatableObject
{
    public const string Section = "StockGrains:Limits";

    public LimitOptions()
    {
        RequestsPerSecond = 2_000;
        Burst = 4_000;
        MaxPendingHoldsPerLine = 100_000;
        MaxQuantityPerLine = 1_000_000;
        MaxHoldSeconds = 604_800;
    }

    /// <summary>How often a client's request budget refills, in milliseconds; long periods make tests deterministic.</summary>
    [Range(10, 3_600_000)]
    public int ReplenishmentMilliseconds { get; set; } = 100;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        Check("StockGrains:Limits").Select(p => new ValidationResult(p));

    /// <summary>A client's limits: its own where set, these defaults otherwise.</summary>
    public ClientLimits For(ClientLimits? own) => new()
    {
        RequestsPerSecond = own?.RequestsPerSecond ?? RequestsPerSecond,
        Burst = own?.Burst ?? Burst,
        MaxPendingHoldsPerLine = own?.MaxPendingHoldsPerLine ?? MaxPendingHoldsPerLine,
        MaxQuantityPerLine = own?.MaxQuantityPerLine ?? MaxQuantityPerLine,
        MaxHoldSeconds = own?.MaxHoldSeconds ?? MaxHoldSeconds,
    };
}

/// <summary>The role names of the API and the claims that carry them.</summary>
public static class RoleNames
{
    public const string Checkout = "checkout";
    public const string Operator = "operator";
    public const string Auditor = "auditor";
    public const string Admin = "admin";

    /// <summary>The claim that carries an operator's warehouses (one claim per warehouse).</summary>
    public const string WarehouseClaim = "warehouses";

    public static readonly string[] All = [Checkout, Operator, Auditor, Admin];

    public static bool TryParse(string name, out Roles role)
    {
        role = name switch
        {
            Checkout => Roles.Checkout,
            Operator => Roles.Operator,
            Auditor => Roles.Auditor,
            Admin => Roles.Admin,
            _ => Roles.None,
        };
        return role != Roles.None;
    }
}
