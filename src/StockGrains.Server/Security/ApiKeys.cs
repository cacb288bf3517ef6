using System.Collections.Frozen;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace StockGrains.Server.Security;

/// <summary>
/// API keys: random 256-bit secrets the server stores only as SHA-256 hashes. A high-entropy key needs no slow hash
/// (there is nothing to guess), and looking a key up by its hash never compares secret bytes.
/// </summary>
public static class ApiKeys
{
    public const string Scheme = "ApiKey";
    public const string Header = "X-Api-Key";

    /// <summary>Longer header values are refused before hashing: a key is 47 characters.</summary>
    public const int MaxKeyLength = 128;

    public static string NewKey() => "sgk_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))
        .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public const string HashPrefix = "sha256:";

    /// <summary>The characters of a key's stored hash: the prefix and 64 hex digits.</summary>
    public const int HashLength = 71;

    public static string Hash(string key)
    {
        Span<char> hash = stackalloc char[HashLength];
        WriteHash(key, hash);
        return new string(hash);
    }

    /// <summary>
    /// Writes a key's stored hash without allocating: every request that carries a key hashes it, and at tens of
    /// thousands of requests a second the strings and arrays of the obvious version were a measurable part of a read.
    /// </summary>
    public static void WriteHash(ReadOnlySpan<char> key, Span<char> hash)
    {
        if (hash.Length != HashLength)
        {
            throw new ArgumentException($"A key's hash is {HashLength} characters.", nameof(hash));
        }

        // A header value is at most MaxKeyLength characters; only a longer string (hashed by the key tool) takes the heap.
        var most = Encoding.UTF8.GetMaxByteCount(key.Length);
        Span<byte> utf8 = most <= 512 ? stackalloc byte[512] : new byte[most];
        var length = Encoding.UTF8.GetBytes(key, utf8);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], digest);
        HashPrefix.CopyTo(hash);
        // The span's length was checked above, so the 64 digits always fit.
        Convert.TryToHexStringLower(digest, hash[HashPrefix.Length..], out _);
    }
}

/// <summary>
/// Key hash → client, rebuilt whenever the auth configuration changes (key rotation without a restart). Each client's
/// principal is built here once, not on every request: its claims follow only from the configuration, and the
/// principal is shared read-only by the requests that present one of its keys, and refuses any change to its claims.
/// </summary>
public sealed class ApiKeyIndex
{
    private volatile Index _index;

    public ApiKeyIndex(IOptionsMonitor<AuthOptions> options)
    {
        _index = Build(options.CurrentValue);
        options.OnChange(o => _index = Build(o));
    }

    /// <summary>The principal of the client a key belongs to, or null for a key no client holds.</summary>
    public ClaimsPrincipal? Find(ReadOnlySpan<char> key)
    {
        if (key.Length is 0 or > ApiKeys.MaxKeyLength)
        {
            return null;
        }

        Span<char> hash = stackalloc char[ApiKeys.HashLength];
        ApiKeys.WriteHash(key, hash);
        return _index.ByHash.TryGetValue(hash, out var principal) ? principal : null;
    }

    private static Index Build(AuthOptions options)
    {
        var principals = options.Clients.ToDictionary(c => c.Key, c => Principal(c.Key, c.Value), StringComparer.Ordinal);
        var byHash = options.Clients.SelectMany(c => c.Value.KeyHashes.Select(h => (Hash: h, Client: c.Key)))
            .DistinctBy(x => x.Hash)
            .ToFrozenDictionary(x => x.Hash, x => principals[x.Client], StringComparer.Ordinal);
        return new Index(byHash.GetAlternateLookup<ReadOnlySpan<char>>());
    }

    private static ClaimsPrincipal Principal(string name, ClientOptions client)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, name) };
        claims.AddRange(client.Roles.Select(r => new Claim(ClaimTypes.Role, r)));
        claims.AddRange(client.Warehouses.Select(w => new Claim(RoleNames.WarehouseClaim, w)));
        return new SharedPrincipal(new SharedIdentity(claims));
    }

    private static InvalidOperationException Shared() =>
        new("An API key's principal is shared by every request of its client: a claim added to it would reach them all.");

    /// <summary>A client's principal: shared, so it refuses a second identity rather than lend it to every request.</summary>
    private sealed class SharedPrincipal(ClaimsIdentity identity) : ClaimsPrincipal(identity)
    {
        public override void AddIdentity(ClaimsIdentity identity) => throw Shared();

        public override void AddIdentities(IEnumerable<ClaimsIdentity> identities) => throw Shared();
    }

    /// <summary>A client's identity: shared, so it refuses changes to its claims.</summary>
    private sealed class SharedIdentity(IEnumerable<Claim> claims) : ClaimsIdentity(claims, ApiKeys.Scheme, ClaimTypes.Name, ClaimTypes.Role)
    {
        public override void AddClaim(Claim claim) => throw Shared();

        public override void AddClaims(IEnumerable<Claim?> claims) => throw Shared();

        public override void RemoveClaim(Claim? claim) => throw Shared();

        public override bool TryRemoveClaim(Claim? claim) => throw Shared();
    }

    private sealed record Index(FrozenDictionary<string, ClaimsPrincipal>.AlternateLookup<ReadOnlySpan<char>> ByHash);
}

/// <summary>Authenticates <c>X-Api-Key</c>: the client's name, roles and warehouses become the request's claims.</summary>
public sealed class ApiKeyHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyIndex index) : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var values = Request.Headers[ApiKeys.Header];
        if (values.Count == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        // One value, and one that some client holds; a value longer than any key is refused before it is hashed.
        if (values.Count > 1 || values[0] is not { } key || index.Find(key) is not { } principal)
        {
            return Task.FromResult(AuthenticateResult.Fail("The API key is not valid."));
        }

        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = $"{ApiKeys.Scheme} header=\"{ApiKeys.Header}\"";
        return Task.CompletedTask;
    }
}
