using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using StockGrains.Chaos;
using StockGrains.Server.Hosting;
using StockGrains.Server.Security;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Security;

/// <summary>How callers prove who they are: API keys (rotatable), JWT bearer tokens, and the start-up rules.</summary>
public sealed class AuthenticationTests
{
    private static readonly string SigningKey = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    private static string Token(string? subject, string[] roles, string[] warehouses, string key, string issuer = "https://issuer.test")
    {
        var claims = new Dictionary<string, object> { ["roles"] = roles, ["warehouses"] = warehouses };
        if (subject is not null)
        {
            claims["sub"] = subject;
        }

        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = "stockgrains",
            Claims = claims,
            Expires = DateTime.UtcNow.AddMinutes(5),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Convert.FromBase64String(key)), SecurityAlgorithms.HmacSha256),
        });
    }

    // Proves a JWT's subject, roles and warehouses authorise exactly like an API key's, and a forged token, or one that names no subject, is refused.
    [Fact]
    public async Task A_jwt_bearer_token_is_scoped_by_its_roles_and_warehouses()
    {
        await using var host = await ServerHost.StartAsync(null, null,
            "--StockGrains:Auth:Jwt:Issuer=https://issuer.test", "--StockGrains:Auth:Jwt:Audience=stockgrains", $"--StockGrains:Auth:Jwt:SigningKey={SigningKey}");
        using var http = new HttpClient { BaseAddress = host.Http.BaseAddress };
        var sku = Fresh.Id("sku");
        http.DefaultRequestHeaders.Authorization = new("Bearer", Token("picker-7", ["operator"], ["north"], SigningKey));
        var own = await http.PostJsonAsync($"/v1/stock/north/{sku}/receipts", new { quantity = 3 });
        Assert.Equal(200, own.Status);
        var (_, ledger) = await host.Http.GetJsonAsync($"/v1/stock/north/{sku}/ledger");
        Assert.Equal("picker-7", ledger.GetProperty("entries")[0].Str("actor"));
        Assert.Equal(403, (await http.PostJsonAsync($"/v1/stock/south/{sku}/receipts", new { quantity = 3 })).Status);

        var forged = Convert.ToBase64String(Enumerable.Range(2, 32).Select(i => (byte)i).ToArray());
        http.DefaultRequestHeaders.Authorization = new("Bearer", Token("picker-7", ["operator"], ["north"], forged));
        Assert.Equal(401, (await http.PostJsonAsync($"/v1/stock/north/{sku}/receipts", new { quantity = 3 })).Status);

        // Without a subject the caller could not be told from the cluster itself, which every warehouse and order trusts.
        http.DefaultRequestHeaders.Authorization = new("Bearer", Token(null, ["operator"], ["north"], SigningKey));
        Assert.Equal(401, (await http.PostJsonAsync($"/v1/stock/south/{sku}/receipts", new { quantity = 3 })).Status);
        Assert.Equal(3, (await host.Http.GetJsonAsync($"/v1/stock/north/{sku}")).Body.Long("onHand"));
    }

    // Proves rotation: while a client has two key hashes configured, both keys work and act as the same client.
    [Fact]
    public async Task Both_keys_of_a_client_being_rotated_work_as_that_client()
    {
        var (oldKey, newKey) = (ApiKeys.NewKey(), ApiKeys.NewKey());
        await using var host = await ServerHost.StartAsync(null, null,
            "--StockGrains:Auth:Clients:rotating:Roles:0=checkout",
            $"--StockGrains:Auth:Clients:rotating:KeyHashes:0={ApiKeys.Hash(oldKey)}",
            $"--StockGrains:Auth:Clients:rotating:KeyHashes:1={ApiKeys.Hash(newKey)}");
        foreach (var key in new[] { oldKey, newKey })
        {
            using var http = new HttpClient { BaseAddress = host.Http.BaseAddress };
            http.DefaultRequestHeaders.Add(ApiKeys.Header, key);
            var (status, me) = await http.GetJsonAsync("/v1/me");
            Assert.Equal((200, "rotating"), (status, me.Str("client")));
        }
    }

    // Proves keys are stored hashed: the configuration holds a SHA-256 hash, never the key, and a malformed hash stops the start.
    [Fact]
    public async Task A_client_configured_with_a_plain_key_instead_of_a_hash_stops_the_start()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var host = await ServerHost.StartAsync(null, null,
                "--StockGrains:Auth:Clients:careless:Roles:0=admin", "--StockGrains:Auth:Clients:careless:KeyHashes:0=sgk_plaintext");
        });
        Assert.Contains("sha256:", error.ToString(), StringComparison.Ordinal);
    }

    // Proves production refuses to start without keys, while Development makes keys and says where they are.
    [Fact]
    public async Task Production_refuses_to_start_without_keys_and_development_makes_them()
    {
        var data = ServerHost.NewDataDirectory();
        var error = Assert.Throws<InvalidOperationException>(() =>
            StockGrainsHost.Build([$"--StockGrains:DataDirectory={data}", "--environment=Production"]));
        Assert.Contains("refuses to start", error.Message, StringComparison.Ordinal);

        await using var app = StockGrainsHost.Build(
        [
            $"--StockGrains:DataDirectory={data}", "--environment=Development", "--Kestrel:Endpoints:Http:Url=http://127.0.0.1:0",
            $"--StockGrains:SiloPort={Ports.Free()}", $"--StockGrains:GatewayPort={Ports.Free()}",
            $"--StockGrains:ClusterId=dev-{Guid.NewGuid():N}", "--Logging:LogLevel:Default=Warning",
        ]);
        await app.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            var address = app.Urls.First();
            var key = File.ReadAllText(Path.Combine(data, "development-keys", "operator.key")).Trim();
            using var http = new HttpClient { BaseAddress = new Uri(address) };
            http.DefaultRequestHeaders.Add(ApiKeys.Header, key);
            var (status, me) = await http.GetJsonAsync("/v1/me");
            Assert.Equal((200, "dev-operator"), (status, me.Str("client")));
        }
        finally
        {
            await app.StopAsync(TestContext.Current.CancellationToken);
        }
    }
}
