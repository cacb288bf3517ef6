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

    public static string Hash(string key) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}

/// <summary>Key hash → client, rebuilt whenever the auth configuration changes (key rotation without a restart).</summary>
public sealed class ApiKeyIndex
{
    private volatile FrozenDictionary<string, string> _clients;

    public ApiKeyIndex(IOptionsMonitor<AuthOptions> options)
    {
        _clients = Build(options.CurrentValue);
        options.OnChange(o => _clients = Build(o));
    }

    public string? ClientOf(string key) => _clients.GetValueOrDefault(ApiKeys.Hash(key));

    private static FrozenDictionary<string, string> Build(AuthOptions options) =>
        options.Clients.SelectMany(c => c.Value.KeyHashes.Select(h => (Hash: h, Client: c.Key)))
            .DistinctBy(x => x.Hash)
            .ToFrozenDictionary(x => x.Hash, x => x.Client, StringComparer.Ordinal);
}

/// <summary>Authenticates <c>X-Api-Key</c>: the client's name, roles and warehouses become the request's claims.</summary>
public sealed class ApiKeyHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyIndex index,
    IOptionsMonitor<AuthOptions> auth) : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var values = Request.Headers[ApiKeys.Header];
        if (values.Count == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var key = values.ToString();
        if (values.Count > 1 || key.Length is 0 or > ApiKeys.MaxKeyLength
            || index.ClientOf(key) is not { } name
            || !auth.CurrentValue.Clients.TryGetValue(name, out var client))
        {
            return Task.FromResult(AuthenticateResult.Fail("The API key is not valid."));
        }

        var claims = new List<Claim> { new(ClaimTypes.Name, name) };
        claims.AddRange(client.Roles.Select(r => new Claim(ClaimTypes.Role, r)));
        claims.AddRange(client.Warehouses.Select(w => new Claim(RoleNames.WarehouseClaim, w)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, Scheme.Name, ClaimTypes.Name, ClaimTypes.Role));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = $"{ApiKeys.Scheme} header=\"{ApiKeys.Header}\"";
        return Task.CompletedTask;
    }
}
