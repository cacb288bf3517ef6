using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Http;

[Collection(nameof(ServerCollection))]
public sealed class TelemetryTests(ServerFixture fixture)
{
    // Proves the Prometheus scrape endpoint serves StockGrains' own metrics: decisions by outcome and append batch sizes.
    [Fact]
    public async Task The_scrape_endpoint_serves_reservation_outcomes_and_append_batch_sizes()
    {
        var warehouse = Fresh.Id("w");
        await fixture.Host.Http.PostJsonAsync($"/v1/stock/{warehouse}/mug/receipts", new { quantity = 1 });
        await fixture.Host.Http.PostJsonAsync("/v1/reservations", new { reservationId = Fresh.Id("o"), lines = new[] { new { sku = "mug", warehouse, quantity = 1 } } });

        var text = await fixture.Host.Http.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
        Assert.Contains("stockgrains_line_outcomes", text);
        Assert.Contains("outcome=\"Reserved\"", text);
        Assert.Contains("stockgrains_ledger_append_batch_size", text);
    }

    // Proves developers get the Orleans dashboard, and that outside Development it is not exposed (it cannot take a key).
    [Fact]
    public async Task The_orleans_dashboard_is_served_in_development_only()
    {
        await using var development = await ServerHost.StartAsync(null, null, "--environment=Development");
        using var anonymous = new HttpClient { BaseAddress = development.Http.BaseAddress };
        using var served = await anonymous.GetAsync("/dashboard/", TestContext.Current.CancellationToken);
        Assert.True(served.IsSuccessStatusCode, $"dashboard answered {(int)served.StatusCode}");

        using var hidden = await fixture.Host.Http.GetAsync("/dashboard/", TestContext.Current.CancellationToken);
        Assert.Equal(404, (int)hidden.StatusCode);
    }
}
