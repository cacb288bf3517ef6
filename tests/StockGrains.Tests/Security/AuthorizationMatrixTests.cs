using System.Net.Http.Json;
using System.Text.Json;
using StockGrains.Tests.Infrastructure;
using static StockGrains.Tests.Security.AuthorizationFixture;

namespace StockGrains.Tests.Security;

/// <summary>
/// The authorisation matrix: every role × every route × own/other warehouse gets exactly the expected status. Each
/// route is prepared afresh for each caller (its own order, transfer or approval), so a caller's status says only
/// what that caller may do.
/// </summary>
[Collection(nameof(AuthorizationCollection))]
public sealed class AuthorizationMatrixTests(AuthorizationFixture fixture)
{
    private static readonly string[] Callers = ["co-a", "co-b", "op-a", "aud", "adm", "anonymous"];

    private HttpClient Admin => fixture.Host.Http;

    private sealed record Call(HttpMethod Method, string Path, object? Body = null);

    /// <summary>A route: how to prepare one call of it, and who may make it with which status (everyone else: 403, anonymous 401).</summary>
    private sealed record Route(string Name, Func<string, Task<Call>> Prepare, Dictionary<string, int> Allowed);

    private async Task<JsonElement> AsTesterAsync(HttpMethod method, string path, object? body = null, string client = TestKeys.DefaultClient)
    {
        var (status, json) = await Admin.SendAsync(method, path, body, client);
        Assert.True(status is >= 200 and < 300, $"setup {method} {path} as {client} answered {status}: {json}");
        return json;
    }

    private async Task<string> StockedLineAsync(string warehouse, string sku)
    {
        await AsTesterAsync(HttpMethod.Post, $"/v1/stock/{warehouse}/{sku}/receipts", new { quantity = 1_000 });
        return $"/v1/stock/{warehouse}/{sku}";
    }

    private async Task<string> OrderOfCoAAsync(string sku, bool commit = false)
    {
        var id = Fresh.Id("ord");
        await AsTesterAsync(HttpMethod.Post, "/v1/reservations", new { reservationId = id, lines = new[] { new { sku, warehouse = Own, quantity = 1 } } }, "co-a");
        if (commit)
        {
            await AsTesterAsync(HttpMethod.Post, $"/v1/reservations/{id}/commit", null, "co-a");
        }

        return id;
    }

    private async Task<string> ApprovalAsync(string line)
    {
        var (_, lineBody) = await Admin.GetJsonAsync(line);
        var json = await AsTesterAsync(HttpMethod.Post, $"{line}/counts", new { countedQuantity = lineBody.Long("onHand") + 500 });
        return json.GetProperty("approval").Str("approvalId")!;
    }

    private async Task<string> TransferAsync(string sku, string from, string to)
    {
        var id = Fresh.Id("tr");
        await AsTesterAsync(HttpMethod.Post, "/v1/transfers", new { transferId = id, sku, fromWarehouse = from, toWarehouse = to, quantity = 1 });
        return id;
    }

    private List<Route> Routes(string sku, string policy)
    {
        var own = $"/v1/stock/{Own}/{sku}";
        var other = $"/v1/stock/{Other}/{sku}";
        Dictionary<string, int> Everyone(int status) => Callers.Where(c => c != "anonymous").ToDictionary(c => c, _ => status);
        Dictionary<string, int> Only(params (string Caller, int Status)[] allowed) => allowed.ToDictionary(a => a.Caller, a => a.Status);
        Task<Call> Ready(HttpMethod method, string path, object? body = null) => Task.FromResult(new Call(method, path, body));

        return
        [
            new("read a line", _ => Ready(HttpMethod.Get, own), Everyone(200)),
            new("receive (own)", _ => Ready(HttpMethod.Post, $"{own}/receipts", new { quantity = 5 }), Only(("op-a", 200))),
            new("receive (other)", _ => Ready(HttpMethod.Post, $"{other}/receipts", new { quantity = 5 }), Only()),
            new("adjust (own)", _ => Ready(HttpMethod.Post, $"{own}/adjustments", new { quantityDelta = 1, reason = "found" }), Only(("op-a", 200))),
            new("adjust (other)", _ => Ready(HttpMethod.Post, $"{other}/adjustments", new { quantityDelta = 1, reason = "found" }), Only()),
            new("count (own)", async _ => new Call(HttpMethod.Post, $"{own}/counts",
                new { countedQuantity = (await Admin.GetJsonAsync(own)).Body.Long("onHand") }), Only(("op-a", 200))),
            new("count (other)", async _ => new Call(HttpMethod.Post, $"{other}/counts",
                new { countedQuantity = (await Admin.GetJsonAsync(other)).Body.Long("onHand") }), Only()),
            new("return (own)", _ => Ready(HttpMethod.Post, $"{own}/returns", new { quantity = 1, reason = "customer" }), Only(("op-a", 200))),
            new("return (other)", _ => Ready(HttpMethod.Post, $"{other}/returns", new { quantity = 1, reason = "customer" }), Only()),
            new("line policy", _ => Ready(HttpMethod.Put, $"{own}/policy", new { negativeStock = "block", safetyStock = 0 }), Only(("adm", 200))),
            new("ledger (own)", _ => Ready(HttpMethod.Get, $"{own}/ledger"), Only(("op-a", 200), ("aud", 200))),
            new("ledger (other)", _ => Ready(HttpMethod.Get, $"{other}/ledger"), Only(("aud", 200))),
            new("line approvals (own)", _ => Ready(HttpMethod.Get, $"{own}/approvals"), Only(("op-a", 200), ("aud", 200))),
            new("line approvals (other)", _ => Ready(HttpMethod.Get, $"{other}/approvals"), Only(("aud", 200))),
            new("approve (own)", async _ => new Call(HttpMethod.Post, $"{own}/approvals/{await ApprovalAsync(own)}/approve"), Only(("op-a", 200))),
            new("approve (other)", async _ => new Call(HttpMethod.Post, $"{other}/approvals/{await ApprovalAsync(other)}/approve"), Only()),
            new("reject (own)", async _ => new Call(HttpMethod.Post, $"{own}/approvals/{await ApprovalAsync(own)}/reject"), Only(("op-a", 200))),
            new("reject (other)", async _ => new Call(HttpMethod.Post, $"{other}/approvals/{await ApprovalAsync(other)}/reject"), Only()),
            new("define a SKU", _ => Ready(HttpMethod.Put, $"/v1/skus/{sku}", new { baseUnit = "each", packs = new Dictionary<string, long>() }),
                Only(("adm", 200))),
            new("read a SKU", _ => Ready(HttpMethod.Get, $"/v1/skus/{sku}"), Everyone(200)),
            new("define a trade policy", _ => Ready(HttpMethod.Put, $"/v1/trade-policies/{policy}", new { warehouses = new[] { Own, Other } }),
                Only(("adm", 200))),
            new("read a trade policy", _ => Ready(HttpMethod.Get, $"/v1/trade-policies/{policy}"), Everyone(200)),
            new("availability", _ => Ready(HttpMethod.Get, $"/v1/availability/{sku}?tradePolicy={policy}"), Everyone(200)),
            new("place an order", _ => Ready(HttpMethod.Post, "/v1/reservations",
                new { reservationId = Fresh.Id("ord"), lines = new[] { new { sku, warehouse = Own, quantity = 1 } } }), Only(("co-a", 201), ("co-b", 201))),
            new("read co-a's order", async _ => new Call(HttpMethod.Get, $"/v1/reservations/{await OrderOfCoAAsync(sku)}"),
                Only(("co-a", 200), ("aud", 200), ("adm", 200))),
            new("commit co-a's order", async _ => new Call(HttpMethod.Post, $"/v1/reservations/{await OrderOfCoAAsync(sku)}/commit"), Only(("co-a", 200))),
            new("ship co-a's order", async _ => new Call(HttpMethod.Post, $"/v1/reservations/{await OrderOfCoAAsync(sku, commit: true)}/ship"),
                Only(("co-a", 200))),
            new("release co-a's order", async _ => new Call(HttpMethod.Post, $"/v1/reservations/{await OrderOfCoAAsync(sku)}/release"), Only(("co-a", 200))),
            new("dispatch a transfer (from own)", _ => Ready(HttpMethod.Post, "/v1/transfers",
                new { transferId = Fresh.Id("tr"), sku, fromWarehouse = Own, toWarehouse = Other, quantity = 1 }), Only(("op-a", 201))),
            new("dispatch a transfer (from other)", _ => Ready(HttpMethod.Post, "/v1/transfers",
                new { transferId = Fresh.Id("tr"), sku, fromWarehouse = Other, toWarehouse = Own, quantity = 1 }), Only()),
            new("receive a transfer (into own)", async _ => new Call(HttpMethod.Post, $"/v1/transfers/{await TransferAsync(sku, Other, Own)}/receive"),
                Only(("op-a", 200))),
            new("receive a transfer (into other)", async _ => new Call(HttpMethod.Post, $"/v1/transfers/{await TransferAsync(sku, Own, Other)}/receive"),
                Only()),
            new("read a transfer", async _ => new Call(HttpMethod.Get, $"/v1/transfers/{await TransferAsync(sku, Own, Other)}"),
                Only(("op-a", 200), ("aud", 200))),
            new("alerts", _ => Ready(HttpMethod.Get, "/v1/alerts"), Only(("op-a", 200), ("aud", 200))),
            new("approvals", _ => Ready(HttpMethod.Get, "/v1/approvals"), Only(("op-a", 200), ("aud", 200))),
            new("approvals of the other warehouse", _ => Ready(HttpMethod.Get, $"/v1/approvals?warehouse={Other}"), Only(("aud", 200))),
            new("reconciliation", _ => Ready(HttpMethod.Get, "/v1/reports/reconciliation?limit=1"), Only(("aud", 200))),
            new("who am I", _ => Ready(HttpMethod.Get, "/v1/me"), Everyone(200)),
        ];
    }

    // Proves every role gets exactly the expected status on every route, in its own and in another warehouse.
    [Fact]
    public async Task Every_role_gets_exactly_the_expected_status_on_every_route()
    {
        var sku = Fresh.Id("sku");
        var policy = Fresh.Id("tp");
        await StockedLineAsync(Own, sku);
        await StockedLineAsync(Other, sku);
        await AsTesterAsync(HttpMethod.Put, $"/v1/skus/{sku}", new { baseUnit = "each", packs = new Dictionary<string, long>() });
        await AsTesterAsync(HttpMethod.Put, $"/v1/trade-policies/{policy}", new { warehouses = new[] { Own, Other } });

        var wrong = new List<string>();
        var calls = 0;
        foreach (var route in Routes(sku, policy))
        {
            foreach (var caller in Callers)
            {
                var call = await route.Prepare(caller);
                var expected = caller == "anonymous" ? 401 : route.Allowed.GetValueOrDefault(caller, 403);
                var (status, body) = await SendAsync(caller, call);
                calls++;
                if (status != expected)
                {
                    wrong.Add($"{route.Name} as {caller}: expected {expected}, got {status} {body}");
                }
                else if (status is 401 or 403)
                {
                    // A refusal is a problem document with a stable code, like every other error.
                    var code = body.Str("code");
                    if (code is not ("unauthenticated" or "forbidden" or "warehouse_forbidden" or "not_owner"))
                    {
                        wrong.Add($"{route.Name} as {caller}: refusal without a stable code: {body}");
                    }
                }
            }
        }

        Assert.True(wrong.Count == 0, $"{wrong.Count} of {calls} calls were wrong:\n{string.Join("\n", wrong)}");
    }

    // Proves a refused caller changes nothing: the other warehouse's ledger is exactly as it was.
    [Fact]
    public async Task A_refused_operator_changes_nothing_in_the_other_warehouse()
    {
        var sku = Fresh.Id("sku");
        var line = await StockedLineAsync(Other, sku);
        var before = (await Admin.GetJsonAsync(line)).Body.Long("sequence");
        var (status, body) = await SendAsync("op-a", new Call(HttpMethod.Post, $"{line}/adjustments", new { quantityDelta = -5, reason = "damaged" }));
        Assert.Equal((403, "warehouse_forbidden"), (status, body.Str("code")));
        Assert.Equal(before, (await Admin.GetJsonAsync(line)).Body.Long("sequence"));
    }

    // Proves a wrong key, or two keys at once, is refused as unauthenticated rather than treated as anonymous access.
    [Fact]
    public async Task A_wrong_key_is_unauthenticated()
    {
        using var http = new HttpClient { BaseAddress = Admin.BaseAddress };
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/v1/me");
        wrong.Headers.Add("X-Api-Key", "sgk_not_a_key");
        using var response = await http.SendAsync(wrong, TestContext.Current.CancellationToken);
        Assert.Equal(401, (int)response.StatusCode);
        Assert.Contains("X-Api-Key", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);

        using var health = await http.GetAsync("/health/live", TestContext.Current.CancellationToken);
        Assert.Equal(200, (int)health.StatusCode);
    }

    private async Task<(int Status, JsonElement Body)> SendAsync(string caller, Call call)
    {
        using var http = new HttpClient { BaseAddress = Admin.BaseAddress };
        using var request = new HttpRequestMessage(call.Method, call.Path);
        if (call.Body is not null)
        {
            request.Content = JsonContent.Create(call.Body);
        }

        if (caller != "anonymous")
        {
            request.Headers.Add("X-Api-Key", TestKeys.KeyOf(caller));
        }

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }
}
