using System.Net;
using System.Text;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Http;

/// <summary>The HTTP contract of API.md: every route answers, and bad input is a problem document that changes nothing.</summary>
[Collection(nameof(ServerCollection))]
public sealed class HttpContractTests(ServerFixture fixture)
{
    private HttpClient Http => fixture.Host.Http;

    private async Task<(string Path, long Sequence)> LineAsync()
    {
        var path = $"/v1/stock/{Fresh.Id("w")}/{Fresh.Id("sku")}";
        var (_, line) = await Http.PostJsonAsync($"{path}/receipts", new { quantity = 5 });
        return (path, line.Long("sequence"));
    }

    private async Task<(int Status, string? Code, string? MediaType)> RawAsync(HttpMethod method, string path, string? body, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, contentType);
        }

        using var response = await Http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var code = text.Length > 0 && text.TrimStart().StartsWith('{') ? System.Text.Json.JsonDocument.Parse(text).RootElement.Str("code") : null;
        return ((int)response.StatusCode, code, response.Content.Headers.ContentType?.MediaType);
    }

    // Proves a query parameter that is not a number, or is out of range, is a 400 validation_failed problem naming that parameter, on every route that pages.
    [Theory]
    [InlineData("/ledger?limit=abc", "limit")]
    [InlineData("/ledger?limit=99999999999", "limit")]
    [InlineData("/ledger?after=x", "after")]
    [InlineData("/ledger?after=-4", "after")]
    [InlineData("/v1/alerts?limit=x", "limit")]
    [InlineData("/v1/approvals?limit=0", "limit")]
    [InlineData("/v1/reports/reconciliation?limit=1.5", "limit")]
    public async Task A_query_parameter_that_is_not_a_number_in_range_is_named_in_a_validation_problem(string query, string field)
    {
        var (line, _) = await LineAsync();
        var (status, body) = await Http.GetJsonAsync(query.StartsWith("/ledger", StringComparison.Ordinal) ? line + query : query);
        Assert.Equal((400, "validation_failed"), (status, body.Str("code")));
        Assert.True(body.GetProperty("errors").TryGetProperty(field, out _), $"the problem names {field}: {body}");
    }

    // Proves bad quantities (zero, negative, fractional, string, missing), unknown or miscased members and malformed JSON are 400 validation_failed problem documents and leave the line's sequence unchanged.
    [Theory]
    [InlineData("{\"quantity\": 0}")]
    [InlineData("{\"quantity\": -1}")]
    [InlineData("{\"quantity\": 1.5}")]
    [InlineData("{\"quantity\": \"5\"}")]
    [InlineData("{\"quantity\": 1000000001}")]
    [InlineData("{\"Quantity\": 5}")]
    [InlineData("{}")]
    [InlineData("{\"quantity\": 1, \"colour\": \"red\"}")]
    [InlineData("{\"quantity\": ")]
    [InlineData("[1]")]
    public async Task Bad_receipts_are_refused_and_change_nothing(string body)
    {
        var (path, sequence) = await LineAsync();
        var (status, code, mediaType) = await RawAsync(HttpMethod.Post, $"{path}/receipts", body);
        Assert.Equal(400, status);
        Assert.Equal("validation_failed", code);
        Assert.Equal("application/problem+json", mediaType);
        Assert.Equal(sequence, (await Http.GetJsonAsync(path)).Body.Long("sequence"));
    }

    // Proves the wrong content type is 415 and an oversized body is 413, both changing nothing.
    [Fact]
    public async Task Wrong_content_type_and_oversized_bodies_are_refused()
    {
        var (path, sequence) = await LineAsync();
        Assert.Equal((415, "unsupported_media_type"), TwoOf(await RawAsync(HttpMethod.Post, $"{path}/receipts", "quantity=1", "text/plain")));
        var huge = "{\"quantity\": 1, \"reference\": \"" + new string('x', 70_000) + "\"}";
        Assert.Equal((413, "payload_too_large"), TwoOf(await RawAsync(HttpMethod.Post, $"{path}/receipts", huge)));
        Assert.Equal(sequence, (await Http.GetJsonAsync(path)).Body.Long("sequence"));
    }

    // Proves a body of undeclared length (chunked) is read whole across many reads when it fits, and refused as 413 once it passes the limit.
    [Fact]
    public async Task Chunked_bodies_are_read_whole_and_refused_past_the_limit()
    {
        var (path, sequence) = await LineAsync();
        Assert.Equal(200, await ChunkedAsync(new string(' ', 30_000) + "{\"quantity\": 2}"));
        Assert.Equal(sequence + 1, (await Http.GetJsonAsync(path)).Body.Long("sequence"));
        Assert.Equal(413, await ChunkedAsync(new string(' ', 70_000) + "{\"quantity\": 2}"));
        Assert.Equal(sequence + 1, (await Http.GetJsonAsync(path)).Body.Long("sequence"));

        async Task<int> ChunkedAsync(string body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{path}/receipts")
            {
                Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body)), 1_000)
                {
                    Headers = { ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") },
                },
            };
            request.Headers.TransferEncodingChunked = true;
            using var response = await Http.SendAsync(request, TestContext.Current.CancellationToken);
            return (int)response.StatusCode;
        }
    }

    // Proves ids are validated, never normalised: too long, spaces, non-ASCII, dots-only paths are 400.
    [Theory]
    [InlineData("/v1/stock/a%20b/mug")]
    [InlineData("/v1/stock/w1/%C3%BC")]
    [InlineData("/v1/stock/w1/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [InlineData("/v1/reservations/a%2Bb")]
    public async Task Bad_ids_are_refused(string path)
    {
        var (status, code, _) = await RawAsync(HttpMethod.Get, path, null);
        Assert.Equal(400, status);
        Assert.Equal("validation_failed", code);
    }

    // Proves the reservation routes: 201 then an identical replay 200 with the same body; a changed body is 422; unknown ids are 404; transitions repeat safely and refuse what is not allowed.
    [Fact]
    public async Task Reservation_routes_answer_as_the_contract_says()
    {
        var (path, _) = await LineAsync();
        var parts = path.Split('/');
        var id = Fresh.Id("o");
        var body = new { reservationId = id, lines = new[] { new { sku = parts[4], warehouse = parts[3], quantity = 2 } }, ttlSeconds = 60 };
        var (created, first) = await Http.PostJsonAsync("/v1/reservations", body);
        var (replayed, second) = await Http.PostJsonAsync("/v1/reservations", body);
        Assert.Equal((201, 200), (created, replayed));
        Assert.Equal(first.ToString(), second.ToString());
        var (reused, problem) = await Http.PostJsonAsync("/v1/reservations",
            new { reservationId = id, lines = new[] { new { sku = parts[4], warehouse = parts[3], quantity = 3 } }, ttlSeconds = 60 });
        Assert.Equal((422, "reservation_id_reused"), (reused, problem.Str("code")));

        Assert.Equal((404, "reservation_not_found"), TwoOf(await RawAsync(HttpMethod.Get, $"/v1/reservations/{Fresh.Id("none")}", null)));
        Assert.Equal((409, "invalid_transition"), TwoOf(await RawAsync(HttpMethod.Post, $"/v1/reservations/{id}/ship", null)));
        Assert.Equal("committed", (await Http.PostJsonAsync($"/v1/reservations/{id}/commit")).Body.Str("status"));
        Assert.Equal("committed", (await Http.PostJsonAsync($"/v1/reservations/{id}/commit")).Body.Str("status"));
        Assert.Equal("shipped", (await Http.PostJsonAsync($"/v1/reservations/{id}/ship")).Body.Str("status"));
        Assert.Equal((409, "invalid_transition"), TwoOf(await RawAsync(HttpMethod.Post, $"/v1/reservations/{id}/release", null)));
        Assert.Equal("shipped", (await Http.GetJsonAsync($"/v1/reservations/{id}")).Body.Str("status"));
        var (_, line) = await Http.GetJsonAsync(path);
        Assert.Equal((3L, 0L, 3L), (line.Long("onHand"), line.Long("reserved"), line.Long("available")));
    }

    // Proves a receipt replayed with its Idempotency-Key returns the original body and adds nothing; another body under that key is 422.
    [Fact]
    public async Task A_receipt_replayed_with_its_key_returns_the_original_answer()
    {
        var path = $"/v1/stock/{Fresh.Id("w")}/{Fresh.Id("sku")}";
        var key = Fresh.Id("k");
        var (_, first) = await Http.PostJsonAsync($"{path}/receipts", new { quantity = 4 }, key: key);
        await Http.PostJsonAsync($"{path}/receipts", new { quantity = 1 });
        var (status, again) = await Http.PostJsonAsync($"{path}/receipts", new { quantity = 4 }, key: key);
        Assert.Equal(200, status);
        Assert.Equal(first.ToString(), again.ToString());
        Assert.Equal(5, (await Http.GetJsonAsync(path)).Body.Long("onHand"));
        var (reused, problem) = await Http.PostJsonAsync($"{path}/receipts", new { quantity = 9 }, key: key);
        Assert.Equal((422, "idempotency_key_reused"), (reused, problem.Str("code")));
    }

    // Proves the operations routes: health, the OpenAPI document naming the API's routes, an untouched line reading zeros, and ledger paging bounds.
    [Fact]
    public async Task Operations_routes_and_the_openapi_document_are_served()
    {
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("/health/live", TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("/health/ready", TestContext.Current.CancellationToken)).StatusCode);
        var openapi = await Http.GetStringAsync("/openapi/v1.json", TestContext.Current.CancellationToken);
        foreach (var route in new[] { "/v1/stock/{warehouse}/{sku}/receipts", "/v1/reservations", "/v1/reservations/{reservationId}/commit",
                     "/v1/stock/{warehouse}/{sku}/adjustments", "/v1/skus/{sku}", "/v1/trade-policies/{tradePolicy}", "/v1/availability/{sku}" })
        {
            Assert.Contains(route, openapi);
        }

        var (status, untouched) = await Http.GetJsonAsync($"/v1/stock/{Fresh.Id("w")}/{Fresh.Id("sku")}");
        Assert.Equal(200, status);
        Assert.Equal((0L, 0L, 0L, 0L), (untouched.Long("onHand"), untouched.Long("reserved"), untouched.Long("available"), untouched.Long("sequence")));
        var (path, _) = await LineAsync();
        Assert.Equal(400, (await Http.GetJsonAsync($"{path}/ledger?limit=0")).Status);
        Assert.Equal(400, (await Http.GetJsonAsync($"{path}/ledger?limit=5000")).Status);
        Assert.Single((await Http.GetJsonAsync($"{path}/ledger?after=0&limit=1")).Body.GetProperty("entries").EnumerateArray());
    }

    private static (int, string?) TwoOf((int Status, string? Code, string? MediaType) r) => (r.Status, r.Code);
    // Proves a PUT carrying an Idempotency-Key keeps the contract on both definitions: a late retry gets its original answer and does not undo a newer definition, and the key sent with another body is 422 and changes nothing.
    [Fact]
    public async Task A_put_retried_with_its_key_gets_its_first_answer_and_the_key_with_another_body_is_refused()
    {
        var tradePolicy = Fresh.Id("tp");
        await PutsKeepTheirKeysAsync($"/v1/trade-policies/{tradePolicy}",
            new { warehouses = new[] { "w1" }, allocation = "priority" },
            new { warehouses = new[] { "w2" }, allocation = "priority" },
            new { warehouses = new[] { "w3" }, allocation = "priority" },
            fixture.Host.Grains.GetGrain<StockGrains.TradePolicies.ITradePolicyGrain>(tradePolicy));
        Assert.Equal(["w2"], (await fixture.Host.Grains.GetGrain<StockGrains.TradePolicies.ITradePolicyGrain>(tradePolicy).GetAsync())!.Warehouses);

        var skuId = Fresh.Id("sku");
        var sku = $"/v1/skus/{skuId}";
        await PutsKeepTheirKeysAsync(sku,
            new { baseUnit = "piece", packs = new Dictionary<string, long> { ["case"] = 12 } },
            new { baseUnit = "piece", packs = new Dictionary<string, long> { ["case"] = 24 } },
            new { baseUnit = "piece", packs = new Dictionary<string, long> { ["case"] = 6 } },
            fixture.Host.Grains.GetGrain<StockGrains.Skus.ISkuGrain>(skuId));
        Assert.Equal(24, (await Http.GetJsonAsync(sku)).Body.GetProperty("packs").GetProperty("case").GetInt64());
    }

    /// <summary>
    /// PUTs <paramref name="first"/> and then <paramref name="newer"/> under two keys, retries the first (again once
    /// <paramref name="grain"/> has left memory, so the answer comes from storage), and reuses the second key for <paramref name="other"/>.
    /// </summary>
    private async Task PutsKeepTheirKeysAsync(string path, object first, object newer, object other, IAddressable grain)
    {
        var (firstKey, newerKey) = (Fresh.Id("key"), Fresh.Id("key"));
        var answered = await Http.SendAsync(HttpMethod.Put, path, first, idempotencyKey: firstKey);
        Assert.Equal(200, answered.Status);
        Assert.Equal(200, (await Http.SendAsync(HttpMethod.Put, path, newer, idempotencyKey: newerKey)).Status);

        var retried = await Http.SendAsync(HttpMethod.Put, path, first, idempotencyKey: firstKey);
        Assert.Equal((200, answered.Body.ToString()), (retried.Status, retried.Body.ToString()));
        await grain.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        var reloaded = await Http.SendAsync(HttpMethod.Put, path, first, idempotencyKey: firstKey);
        Assert.Equal((200, answered.Body.ToString()), (reloaded.Status, reloaded.Body.ToString()));
        var reused = await Http.SendAsync(HttpMethod.Put, path, other, idempotencyKey: newerKey);
        Assert.Equal((422, "idempotency_key_reused"), (reused.Status, reused.Body.Str("code")));
    }
}
