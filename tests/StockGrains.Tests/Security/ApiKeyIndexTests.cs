using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StockGrains.Server.Security;

namespace StockGrains.Tests.Security;

/// <summary>
/// The key index and the identities made from it, driven through the real options binding and reload: a principal and
/// an identity are made once per client, and made again when the configuration changes.
/// </summary>
public sealed class ApiKeyIndexTests
{
    private static readonly string Key = ApiKeys.NewKey();

    /// <summary>
    /// The keys and the limits in two configuration roots, as two files would be: a reload of one fires only its own
    /// options' listeners, so each listener is proved on its own.
    /// </summary>
    private sealed class Config : IDisposable
    {
        private readonly ServiceProvider _services;

        public Config(params (string Path, string Value)[] auth)
        {
            Auth = new ConfigurationBuilder().AddInMemoryCollection(auth.Select(a => KeyValuePair.Create(a.Path, (string?)a.Value))).Build();
            Limits = new ConfigurationBuilder().AddInMemoryCollection().Build();
            var services = new ServiceCollection();
            services.AddOptions<AuthOptions>().Bind(Auth.GetSection(AuthOptions.Section));
            services.AddOptions<LimitOptions>().Bind(Limits.GetSection(LimitOptions.Section));
            services.AddSingleton<ApiKeyIndex>();
            services.AddSingleton<Identities>();
            _services = services.BuildServiceProvider();
        }

        public IConfigurationRoot Auth { get; }

        public IConfigurationRoot Limits { get; }

        public ApiKeyIndex Index => _services.GetRequiredService<ApiKeyIndex>();

        public Identities Identities => _services.GetRequiredService<Identities>();

        /// <summary>Changes settings the way a changed configuration file does: its provider reloads and its monitors fire.</summary>
        public static void Change(IConfigurationRoot root, params (string Path, string Value)[] settings)
        {
            var provider = root.Providers.Single();
            foreach (var (path, value) in settings)
            {
                provider.Set(path, value);
            }

            root.Reload();
        }

        public void Dispose() => _services.Dispose();
    }

    private static Config Packer() => new(
        ("StockGrains:Auth:Clients:packer:Roles:0", "operator"),
        ("StockGrains:Auth:Clients:packer:Warehouses:0", "north"),
        ("StockGrains:Auth:Clients:packer:KeyHashes:0", ApiKeys.Hash(Key)));

    private static DefaultHttpContext Request(ClaimsPrincipal user) => new() { User = user };

    // Proves the allocation-free hash is the stored form: "sha256:" and the lowercase hex of the key's UTF-8 SHA-256.
    [Theory]
    [InlineData("sgk_abc")]
    [InlineData("ключ-с-юникодом-🔑")]
    public void A_key_hashes_to_sha256_of_its_utf8_in_lowercase_hex(string key)
    {
        var expected = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        Assert.Equal(expected, ApiKeys.Hash(key));
        Assert.NotEqual(expected, ApiKeys.Hash(key + "x"));

        // A string longer than any header value takes the heap path and must hash the same way.
        var longer = key + new string('x', 1000);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(longer))), ApiKeys.Hash(longer));
    }

    // Proves a configured key finds its client's name, roles and warehouses, and that the principal is made once, not per request.
    [Fact]
    public void A_configured_key_finds_one_shared_principal_with_the_clients_claims()
    {
        using var config = Packer();
        var principal = config.Index.Find(Key);
        Assert.NotNull(principal);
        Assert.Equal("packer", principal.Identity!.Name);
        Assert.Equal(ApiKeys.Scheme, principal.Identity.AuthenticationType);
        Assert.True(principal.IsInRole("operator"));
        Assert.False(principal.IsInRole("admin"));
        Assert.Equal(["north"], principal.FindAll(RoleNames.WarehouseClaim).Select(c => c.Value));
        Assert.Same(principal, config.Index.Find(Key));

        // Shared by every request of the client, it refuses changes that would reach them all.
        var identity = (ClaimsIdentity)principal.Identity;
        Assert.Throws<InvalidOperationException>(() => identity.AddClaim(new Claim(ClaimTypes.Role, "admin")));
        Assert.Throws<InvalidOperationException>(() => identity.RemoveClaim(identity.FindFirst(ClaimTypes.Role)));
        Assert.Throws<InvalidOperationException>(() => principal.AddIdentity(new ClaimsIdentity([new Claim(ClaimTypes.Role, "admin")], "x")));
        Assert.False(principal.IsInRole("admin"));
    }

    // Proves unknown, empty and over-long values find no client.
    [Fact]
    public void An_unknown_an_empty_or_an_over_long_key_finds_nothing()
    {
        using var config = Packer();
        Assert.Null(config.Index.Find(ApiKeys.NewKey()));
        Assert.Null(config.Index.Find(""));
        Assert.Null(config.Index.Find(Key + new string('x', ApiKeys.MaxKeyLength)));
        Assert.Null(config.Index.Find(ApiKeys.Hash(Key)));
    }

    // Proves rotation without a restart: after a reload the old key is refused, the new one works, and roles follow the new configuration.
    [Fact]
    public void A_reloaded_configuration_replaces_keys_and_claims_without_a_restart()
    {
        using var config = Packer();
        var before = config.Index.Find(Key)!;
        var next = ApiKeys.NewKey();
        Config.Change(config.Auth, ("StockGrains:Auth:Clients:packer:KeyHashes:0", ApiKeys.Hash(next)), ("StockGrains:Auth:Clients:packer:Roles:0", "auditor"));
        Assert.Null(config.Index.Find(Key));
        var after = config.Index.Find(next)!;
        Assert.NotSame(before, after);
        Assert.True(after.IsInRole("auditor"));
        Assert.False(after.IsInRole("operator"));
    }

    // Proves an API key's identity is made once per client and made again, with the new cap, when the limits change.
    [Fact]
    public void An_api_key_identity_is_reused_until_the_limits_change()
    {
        using var config = Packer();
        Config.Change(config.Limits, ("StockGrains:Limits:MaxQuantityPerLine", "50"));
        var principal = config.Index.Find(Key)!;
        var first = config.Identities.From(Request(principal))!;
        Assert.Equal(("packer", 50L), (first.Client, first.MaxQuantityPerLine));
        Assert.Equal(["north"], first.Warehouses);
        Assert.Same(first, config.Identities.From(Request(principal)));

        Config.Change(config.Limits, ("StockGrains:Limits:MaxQuantityPerLine", "7"));
        var changed = config.Identities.From(Request(principal))!;
        Assert.NotSame(first, changed);
        Assert.Equal(7L, changed.MaxQuantityPerLine);
    }

    // Proves a client's own limit reaches its identity, and a change of the client's configuration (keys unchanged) makes the identity again.
    [Fact]
    public void An_api_key_identity_is_made_again_when_its_clients_configuration_changes()
    {
        using var config = Packer();
        var before = config.Identities.From(Request(config.Index.Find(Key)!))!;
        Assert.Equal(1_000_000L, before.MaxQuantityPerLine);
        Config.Change(config.Auth, ("StockGrains:Auth:Clients:packer:Limits:MaxQuantityPerLine", "3"));
        var after = config.Identities.From(Request(config.Index.Find(Key)!))!;
        Assert.Equal(3L, after.MaxQuantityPerLine);
    }

    // Proves a principal from another scheme (a JWT's, new with every request) is not cached: each request gets its own identity.
    [Fact]
    public void A_jwt_principal_gets_an_identity_of_its_own_each_request()
    {
        using var config = Packer();
        var jwt = new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, "picker-7"), new Claim(ClaimTypes.Role, "checkout")], "Bearer", ClaimTypes.Name, ClaimTypes.Role));
        var first = config.Identities.From(Request(jwt))!;
        Assert.Equal("picker-7", first.Client);
        Assert.NotSame(first, config.Identities.From(Request(jwt)));
    }
}
