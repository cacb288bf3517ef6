using StockGrains.Security;
using StockGrains.Stock;
using StockGrains.Tests.Infrastructure;
using static StockGrains.Tests.Security.AuthorizationFixture;

namespace StockGrains.Tests.Security;

/// <summary>Abuse limits: the per-client rate limit, and the caps the grains enforce durably.</summary>
[Collection(nameof(AuthorizationCollection))]
public sealed class LimitsTests(AuthorizationFixture fixture)
{
    private ServerHost Host => fixture.Host;

    private async Task<string> StockedSkuAsync()
    {
        var sku = Fresh.Id("sku");
        var (status, _) = await Host.Http.PostJsonAsync($"/v1/stock/{Own}/{sku}/receipts", new { quantity = 1_000 });
        Assert.Equal(200, status);
        return sku;
    }

    private static object Order(string id, string sku, long quantity = 1, int? ttlSeconds = null) =>
        new { reservationId = id, lines = new[] { new { sku, warehouse = Own, quantity } }, ttlSeconds };

    // Proves a burst past a client's rate limit gets 429 with Retry-After for that client only; another client is unaffected.
    [Fact]
    public async Task A_burst_past_the_rate_limit_is_refused_for_that_client_only()
    {
        using var burst = Host.Client("burst");
        var statuses = new List<int>();
        for (var i = 0; i < 8; i++)
        {
            using var response = await burst.GetAsync("/v1/me", TestContext.Current.CancellationToken);
            statuses.Add((int)response.StatusCode);
            if (response.StatusCode == System.Net.HttpStatusCode.TooManyRequests)
            {
                Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "a 429 says when to retry");
                var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
                Assert.Contains("\"code\":\"rate_limited\"", body, StringComparison.Ordinal);
            }
        }

        Assert.Equal([200, 200, 200, 200, 200, 429, 429, 429], statuses);
        using var other = Host.Client("co-a");
        using var unaffected = await other.GetAsync("/v1/me", TestContext.Current.CancellationToken);
        Assert.Equal(200, (int)unaffected.StatusCode);
    }

    // Proves the pending-hold cap is enforced by the line: the third pending hold is refused until one is released.
    [Fact]
    public async Task A_client_cannot_keep_more_pending_holds_on_a_line_than_its_cap()
    {
        var sku = await StockedSkuAsync();
        using var hoarder = Host.Client("hoarder");
        var ids = Enumerable.Range(0, 4).Select(_ => Fresh.Id("o")).ToArray();
        Assert.Equal(201, (await hoarder.PostJsonAsync("/v1/reservations", Order(ids[0], sku))).Status);
        Assert.Equal(201, (await hoarder.PostJsonAsync("/v1/reservations", Order(ids[1], sku))).Status);
        var (status, body) = await hoarder.PostJsonAsync("/v1/reservations", Order(ids[2], sku));
        Assert.Equal((409, "hold_limit_reached"), (status, body.Str("code")));

        // Another client is not affected by the hoarder's cap.
        Assert.Equal(201, (await Host.Client("co-a").PostJsonAsync("/v1/reservations", Order(Fresh.Id("o"), sku))).Status);

        Assert.Equal(200, (await hoarder.PostJsonAsync($"/v1/reservations/{ids[0]}/release")).Status);
        Assert.Equal(201, (await hoarder.PostJsonAsync("/v1/reservations", Order(ids[3], sku))).Status);
        var (_, line) = await Host.Http.GetJsonAsync($"/v1/stock/{Own}/{sku}");
        Assert.Equal(3, line.Long("reserved"));
    }

    // Proves the caps on quantity per line and on hold lifetime refuse the order with a clear error and store nothing.
    [Fact]
    public async Task Quantity_and_hold_lifetime_past_a_clients_caps_are_refused()
    {
        var sku = await StockedSkuAsync();
        using var hoarder = Host.Client("hoarder");
        var tooMany = await hoarder.PostJsonAsync("/v1/reservations", Order(Fresh.Id("o"), sku, quantity: 11));
        Assert.Equal((400, "validation_failed"), (tooMany.Status, tooMany.Body.Str("code")));
        var tooLong = await hoarder.PostJsonAsync("/v1/reservations", Order(Fresh.Id("o"), sku, ttlSeconds: 601));
        Assert.Equal((400, "validation_failed"), (tooLong.Status, tooLong.Body.Str("code")));
        var (_, line) = await Host.Http.GetJsonAsync($"/v1/stock/{Own}/{sku}");
        Assert.Equal((0L, 1L), (line.Long("reserved"), line.Long("sequence")));
    }

    // Proves the grain re-checks identity: an operator of one warehouse calling a line of another directly is refused there.
    [Fact]
    public async Task A_line_refuses_an_operator_of_another_warehouse_even_past_the_http_tier()
    {
        var line = Host.Grains.GetGrain<IStockLineGrain>($"{Other}/{Fresh.Id("sku")}");
        Orleans.Runtime.RequestContext.Set(CallerIdentity.ContextKey, new CallerIdentity("op-a", Roles.Operator, [Own]));
        try
        {
            await Assert.ThrowsAsync<AccessDeniedException>(() => line.ReceiveAsync(new ReceiveCommand(Fresh.Id("k"), 5, "op-a")));
        }
        finally
        {
            Orleans.Runtime.RequestContext.Clear();
        }

        Assert.Equal(0, (await line.GetAsync()).Sequence);
    }

    // Proves the order re-checks ownership: another checkout client calling the grain directly cannot release it.
    [Fact]
    public async Task An_order_refuses_another_client_even_past_the_http_tier()
    {
        var sku = await StockedSkuAsync();
        var id = Fresh.Id("o");
        Assert.Equal(201, (await Host.Client("co-a").PostJsonAsync("/v1/reservations", Order(id, sku))).Status);
        var order = Host.Grains.GetGrain<StockGrains.Reservations.IReservationGrain>(id);
        Orleans.Runtime.RequestContext.Set(CallerIdentity.ContextKey, new CallerIdentity("co-b", Roles.Checkout, []));
        try
        {
            Assert.Equal(StockGrains.Reservations.ReservationOutcome.Forbidden, (await order.ReleaseAsync("co-b")).Outcome);
        }
        finally
        {
            Orleans.Runtime.RequestContext.Clear();
        }

        var (_, body) = await Host.Client("co-a").GetJsonAsync($"/v1/reservations/{id}");
        Assert.Equal("pending", body.Str("status"));
    }
}
