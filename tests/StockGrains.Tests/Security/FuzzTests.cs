using System.Text;
using System.Text.Json.Nodes;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Security;

/// <summary>
/// Input hardening: generated malformed requests against every mutating route. Each request starts from a valid
/// template and gets exactly one change that must make it invalid, so a 2xx is a bug, not luck.
/// </summary>
public sealed class FuzzTests
{
    /// <summary>The seed is fixed so a failure replays; it is printed with every failure.</summary>
    private const int Seed = 20261122;

    private const int Requests = 1_200;

    private enum Kind
    {
        Quantity,
        Delta,
        Counted,
        Id,
        Choice,
        OptionalChoice,
        List,
        Text,
    }

    /// <summary>A valid request, and its fields; the first <paramref name="Required"/> fields may not be left out.</summary>
    private sealed record Template(HttpMethod Method, string Path, Func<JsonObject> Body, (string Path, Kind Kind)[] Fields, int Required = 1);

    private static JsonNode?[] BadValues(Kind kind) => kind switch
    {
        Kind.Quantity => [0, -1, 1.5, "5", true, 1_000_000_001L, JsonNode.Parse("1e30"), null, new JsonObject(), new JsonArray()],
        Kind.Delta => [0, 1.5, "1", true, 1_000_000_001L, -1_000_000_001L, JsonNode.Parse("1e30"), null, new JsonArray()],
        Kind.Counted => [-1, 1.5, "5", null, JsonNode.Parse("1e30"), false],
        Kind.Id => ["", new string('a', 65), "a b", "é", "a/b", "a\u0000b", 5, null, true, new JsonArray()],
        Kind.Choice => ["nonsense", 5, null, "", new JsonObject()],
        Kind.OptionalChoice => ["nonsense", 5, "", new JsonObject()],
        Kind.List => [new JsonArray(), null, "x", new JsonArray((JsonNode?)null), new JsonObject(), 7],
        Kind.Text => [new string('x', 501), 5, true, new JsonObject(), "bell\u0007"],
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static Template[] Templates(string warehouse, string sku, string other)
    {
        var line = $"/v1/stock/{warehouse}/{sku}";
        return
        [
            new(HttpMethod.Post, $"{line}/receipts", () => new JsonObject { ["quantity"] = 5, ["reference"] = "po-1" },
                [("quantity", Kind.Quantity), ("reference", Kind.Text)]),
            new(HttpMethod.Post, $"{line}/adjustments", () => new JsonObject { ["quantityDelta"] = 1, ["reason"] = "found" },
                [("quantityDelta", Kind.Delta), ("reason", Kind.Choice)], 2),
            new(HttpMethod.Post, $"{line}/counts", () => new JsonObject { ["countedQuantity"] = 5 }, [("countedQuantity", Kind.Counted)]),
            new(HttpMethod.Post, $"{line}/returns", () => new JsonObject { ["quantity"] = 1, ["reason"] = "customer" },
                [("quantity", Kind.Quantity), ("reason", Kind.Id)], 2),
            new(HttpMethod.Put, $"{line}/policy", () => new JsonObject { ["negativeStock"] = "block", ["safetyStock"] = 0 },
                [("negativeStock", Kind.Choice), ("safetyStock", Kind.Counted)], 2),
            new(HttpMethod.Post, "/v1/reservations", () => new JsonObject
                {
                    ["reservationId"] = Fresh.Id("fz"),
                    ["lines"] = new JsonArray(new JsonObject { ["sku"] = sku, ["warehouse"] = warehouse, ["quantity"] = 1 }),
                },
                [("reservationId", Kind.Id), ("lines", Kind.List), ("lines.0.sku", Kind.Id), ("lines.0.warehouse", Kind.Id), ("lines.0.quantity", Kind.Quantity)], 2),
            new(HttpMethod.Post, "/v1/transfers", () => new JsonObject
                {
                    ["transferId"] = Fresh.Id("fz"), ["sku"] = sku, ["fromWarehouse"] = warehouse, ["toWarehouse"] = other, ["quantity"] = 1,
                },
                [("transferId", Kind.Id), ("sku", Kind.Id), ("fromWarehouse", Kind.Id), ("toWarehouse", Kind.Id), ("quantity", Kind.Quantity)], 5),
            new(HttpMethod.Put, $"/v1/skus/{sku}", () => new JsonObject { ["baseUnit"] = "each", ["packs"] = new JsonObject { ["case"] = 12 } },
                [("baseUnit", Kind.Id), ("packs.case", Kind.Quantity)]),
            new(HttpMethod.Put, $"/v1/trade-policies/{sku}", () => new JsonObject { ["warehouses"] = new JsonArray(warehouse, other), ["allocation"] = "priority" },
                [("warehouses", Kind.List), ("warehouses.0", Kind.Id), ("allocation", Kind.OptionalChoice)]),
        ];
    }

    /// <summary>One malformed request: its method, path, content type, body and headers.</summary>
    private sealed record Malformed(string What, HttpMethod Method, string Path, string? ContentType, byte[]? Body, string? IdempotencyKey = null);

    private static Malformed Generate(Random random, Template[] templates, string warehouse, string sku)
    {
        var template = templates[random.Next(templates.Length)];
        var body = template.Body();
        var json = "application/json";
        switch (random.Next(10))
        {
            case < 4:
            {
                var (path, kind) = template.Fields[random.Next(template.Fields.Length)];
                var bad = BadValues(kind);
                var value = bad[random.Next(bad.Length)];
                Set(body, path, value?.DeepClone());
                return new($"{path} = {value?.ToJsonString() ?? "null"}", template.Method, template.Path, json, Encoding.UTF8.GetBytes(body.ToJsonString()));
            }

            case 4:
            {
                var (path, _) = template.Fields[random.Next(template.Required)];
                Remove(body, path);
                return new($"without {path}", template.Method, template.Path, json, Encoding.UTF8.GetBytes(body.ToJsonString()));
            }

            case 5:
                body[$"unknown{random.Next(100)}"] = random.Next(2) == 0 ? 1 : "x";
                return new("an unknown member", template.Method, template.Path, json, Encoding.UTF8.GetBytes(body.ToJsonString()));
            case 6:
            {
                string[] garbage = ["", "[]", "null", "\"text\"", "{", "{\"quantity\":", "{}}", "\u00ff\u00fe", "<xml/>", "{\"a\":1,\"a\":2}"];
                var text = garbage[random.Next(garbage.Length)];
                if (text == "{\"a\":1,\"a\":2}")
                {
                    text = "{" + new string(' ', random.Next(3)) + "\"quantity\":\"1\"}";
                }

                return new($"body {text}", template.Method, template.Path, json, Encoding.UTF8.GetBytes(text));
            }

            case 7:
            {
                string[] types = ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"];
                var type = random.Next(5) == 0 ? null : types[random.Next(types.Length)];
                return new($"content type {type ?? "(none)"}", template.Method, template.Path, type, Encoding.UTF8.GetBytes(body.ToJsonString()));
            }

            case 8:
            {
                // Past the 64 KiB limit: a note or reference far longer than any field allows.
                body["reference"] = new string('x', 70_000 + random.Next(10_000));
                return new("an oversized body", template.Method, template.Path, json, Encoding.UTF8.GetBytes(body.ToJsonString()));
            }

            default:
            {
                string[] ids = ["a%20b", new string('w', 65), "%C3%A9", "a..b%2F", "%00", "a+b", "*"];
                var id = ids[random.Next(ids.Length)];
                string[] paths =
                [
                    $"/v1/stock/{id}/{sku}/receipts", $"/v1/stock/{warehouse}/{id}/adjustments", $"/v1/stock/{id}/{sku}/counts",
                    $"/v1/stock/{warehouse}/{sku}/ledger?limit=0", $"/v1/stock/{warehouse}/{sku}/ledger?after=-4",
                    $"/v1/stock/{warehouse}/{sku}/ledger?limit=abc", $"/v1/reservations/{id}/commit", $"/v1/transfers/{id}/receive",
                ];
                var path = paths[random.Next(paths.Length)];
                if (random.Next(3) == 0)
                {
                    return new("a bad Idempotency-Key", template.Method, template.Path, json, Encoding.UTF8.GetBytes(body.ToJsonString()),
                        random.Next(2) == 0 ? new string('k', 65) : "key with spaces");
                }

                var method = path.Contains("/ledger", StringComparison.Ordinal) ? HttpMethod.Get : HttpMethod.Post;
                var content = path.Contains("/receipts", StringComparison.Ordinal) ? "{\"quantity\":5}"
                    : path.Contains("/adjustments", StringComparison.Ordinal) ? "{\"quantityDelta\":1,\"reason\":\"found\"}"
                    : path.Contains("/counts", StringComparison.Ordinal) ? "{\"countedQuantity\":5}" : null;
                return new($"path {path}", method, path, content is null ? null : json, content is null ? null : Encoding.UTF8.GetBytes(content));
            }
        }
    }

    private static void Set(JsonObject body, string path, JsonNode? value)
    {
        var (parent, name) = Walk(body, path);
        switch (parent)
        {
            case JsonObject o:
                o[name] = value;
                break;
            case JsonArray a:
                a[int.Parse(name, System.Globalization.CultureInfo.InvariantCulture)] = value;
                break;
        }
    }

    private static void Remove(JsonObject body, string path)
    {
        var (parent, name) = Walk(body, path);
        switch (parent)
        {
            case JsonObject o:
                o.Remove(name);
                break;
            case JsonArray a:
                a.RemoveAt(int.Parse(name, System.Globalization.CultureInfo.InvariantCulture));
                break;
        }
    }

    private static (JsonNode Parent, string Name) Walk(JsonObject body, string path)
    {
        var parts = path.Split('.');
        JsonNode node = body;
        foreach (var part in parts[..^1])
        {
            node = node is JsonArray array ? array[int.Parse(part, System.Globalization.CultureInfo.InvariantCulture)]! : node[part]!;
        }

        return (node, parts[^1]);
    }

    // Proves every one of 1,200 generated malformed requests is answered 4xx with a problem code, and none changes any state.
    [Fact]
    public async Task Malformed_requests_are_all_refused_and_change_nothing()
    {
        await using var host = await ServerHost.StartAsync(null, null, "--StockGrains:Limits:RequestsPerSecond=1000000", "--StockGrains:Limits:Burst=1000000");
        var (warehouse, other, sku) = ("fz-w", "fz-other", Fresh.Id("sku"));
        Assert.Equal(200, (await host.Http.PostJsonAsync($"/v1/stock/{warehouse}/{sku}/receipts", new { quantity = 100 })).Status);
        Assert.Equal(200, (await host.Http.PutJsonAsync($"/v1/skus/{sku}", new { baseUnit = "each", packs = new Dictionary<string, long> { ["case"] = 6 } })).Status);
        var lines = new[] { $"/v1/stock/{warehouse}/{sku}", $"/v1/stock/{other}/{sku}" };
        var before = await StateAsync(host, lines, sku);

        var random = new Random(Seed);
        var templates = Templates(warehouse, sku, other);
        var wrong = new List<string>();
        var statuses = new Dictionary<int, int>();
        for (var i = 0; i < Requests; i++)
        {
            var malformed = Generate(random, templates, warehouse, sku);
            using var request = new HttpRequestMessage(malformed.Method, malformed.Path);
            if (malformed.Body is not null)
            {
                request.Content = new ByteArrayContent(malformed.Body);
                request.Content.Headers.ContentType = malformed.ContentType is null ? null : System.Net.Http.Headers.MediaTypeHeaderValue.Parse(malformed.ContentType);
            }

            if (malformed.IdempotencyKey is not null)
            {
                request.Headers.TryAddWithoutValidation("Idempotency-Key", malformed.IdempotencyKey);
            }

            using var response = await host.Http.SendAsync(request, TestContext.Current.CancellationToken);
            var status = (int)response.StatusCode;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            // Kestrel itself refuses a NUL in the path before the application sees it: a bare 400 with no document.
            var kestrel = malformed.Path.Contains("%00", StringComparison.Ordinal) && status == 400;
            if (status is < 400 or >= 500 || !(kestrel || text.Contains("\"code\":", StringComparison.Ordinal)))
            {
                wrong.Add($"#{i} {malformed.Method} {malformed.Path} ({malformed.What}): {status} {text[..Math.Min(200, text.Length)]}");
            }
        }

        Assert.True(wrong.Count == 0, $"seed {Seed}: {wrong.Count} of {Requests} answered wrongly:\n{string.Join("\n", wrong.Take(40))}");
        Assert.Equal(before, await StateAsync(host, lines, sku));
        Assert.True(statuses.Keys.Intersect([400, 413, 415]).Count() == 3, $"the generator should reach several kinds of refusal: {string.Join(", ", statuses)}");
    }

    /// <summary>Everything the malformed requests could have changed: each line's sequence and ledger, the SKU, the policy.</summary>
    private static async Task<string> StateAsync(ServerHost host, string[] lines, string sku)
    {
        var parts = new List<string>();
        foreach (var line in lines)
        {
            parts.Add((await host.Http.GetJsonAsync(line)).Body.GetRawText());
            parts.Add((await host.Http.GetJsonAsync($"{line}/ledger?limit=1000")).Body.GetRawText());
        }

        parts.Add((await host.Http.GetJsonAsync($"/v1/skus/{sku}")).Body.GetRawText());
        parts.Add((await host.Http.GetJsonAsync($"/v1/trade-policies/{sku}")).Status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        parts.Add((await host.Http.GetJsonAsync("/v1/approvals")).Body.GetRawText());
        return string.Join("\n", parts);
    }
}
