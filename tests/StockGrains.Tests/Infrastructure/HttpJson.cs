using System.Net.Http.Json;
using System.Text.Json;

namespace StockGrains.Tests.Infrastructure;

/// <summary>Small helpers for calling the HTTP API as a client would.</summary>
public static class HttpJson
{
    public static async Task<(int Status, JsonElement Body)> SendAsync(
        this HttpClient http, HttpMethod method, string path, object? body = null, string? actor = null, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        if (actor is not null)
        {
            // The actor is whoever authenticates: a named actor sends that test client's key instead of the default one.
            request.Headers.Add(StockGrains.Server.Security.ApiKeys.Header, TestKeys.KeyOf(actor));
        }

        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var json = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return ((int)response.StatusCode, json);
    }

    public static Task<(int Status, JsonElement Body)> PostJsonAsync(this HttpClient http, string path, object? body = null, string? actor = null, string? key = null) =>
        http.SendAsync(HttpMethod.Post, path, body, actor, key);

    public static Task<(int Status, JsonElement Body)> PutJsonAsync(this HttpClient http, string path, object body, string? actor = null) =>
        http.SendAsync(HttpMethod.Put, path, body, actor);

    public static Task<(int Status, JsonElement Body)> GetJsonAsync(this HttpClient http, string path) => http.SendAsync(HttpMethod.Get, path);

    public static long Long(this JsonElement e, string name) => e.GetProperty(name).GetInt64();

    public static string? Str(this JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
