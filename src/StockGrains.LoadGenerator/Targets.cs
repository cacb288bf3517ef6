using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using StockGrains.Grains.Storage;
using StockGrains.Reservations;
using StockGrains.Stock;
using StockGrains.TradePolicies;

namespace StockGrains.LoadGenerator;

/// <summary>A line of an order as the load generator asks for it: a null warehouse lets the trade policy allocate.</summary>
public sealed record OrderLine(string Sku, string? Warehouse, long Quantity);

/// <summary>A line an order holds.</summary>
public sealed record HeldLine(string Sku, string Warehouse, long Quantity);

/// <summary>The balances of one stock line, as the check reads them.</summary>
public sealed record LineBalance(long OnHand, long Reserved, long Available, long Sequence);

/// <summary>One ledger entry, as much of it as the check needs.</summary>
public sealed record LedgerRow(long Sequence, LedgerEntryKind Kind, string? ReservationId, long Quantity, long OnHandAfter, long ReservedAfter);

/// <summary>
/// One way of talking to StockGrains. The runner fires the workload through one, and sets up and checks through
/// another where a faster or more privileged one exists (the embedded server's own grains and store).
/// </summary>
public interface IStockTarget
{
    Task ReceiveAsync(string warehouse, string sku, long quantity, string operationId, CancellationToken cancellationToken);

    /// <summary>Holds one unit on the line: true when held, false when the line refused for lack of stock; throws otherwise.</summary>
    Task<bool> ReserveLineAsync(string warehouse, string sku, string reservationId, CancellationToken cancellationToken);

    /// <summary>Commits a hold that <see cref="ReserveLineAsync"/> got, and ships it too when <paramref name="ship"/>; throws unless it does.</summary>
    Task FinishHoldAsync(string warehouse, string sku, string reservationId, bool ship, CancellationToken cancellationToken);

    /// <summary>Commits an order that <see cref="PlaceAsync"/> placed, and ships it too when <paramref name="ship"/>; throws unless it does.</summary>
    Task FinishOrderAsync(string reservationId, bool ship, CancellationToken cancellationToken);

    /// <summary>Places an order: the lines held, or null when it was refused for lack of stock; throws otherwise.</summary>
    Task<IReadOnlyList<HeldLine>?> PlaceAsync(string reservationId, IReadOnlyList<OrderLine> lines, string? tradePolicy, CancellationToken cancellationToken);

    Task DefineTradePolicyAsync(string tradePolicy, IReadOnlyList<string> warehouses, CancellationToken cancellationToken);

    /// <summary>What the trade policy's availability read model says can be sold of the SKU.</summary>
    Task<long> AvailableAsync(string sku, string tradePolicy, IReadOnlyList<string> warehouses, CancellationToken cancellationToken);

    Task<LineBalance> GetLineAsync(string warehouse, string sku, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> (at most 1,000) ledger entries after a sequence, oldest first.</summary>
    Task<IReadOnlyList<LedgerRow>> ReadLedgerAsync(string warehouse, string sku, long after, int limit, CancellationToken cancellationToken);
}

/// <summary>
/// StockGrains through a grain factory: the embedded silo's own (no network), or an Orleans client's (TCP and
/// serialization, as a checkout service calls it). With the embedded store at hand the ledger is read from it directly.
/// </summary>
public sealed class GrainTarget(IGrainFactory grains, ILedgerStore? store = null) : IStockTarget
{
    /// <summary>Holds outlive any run: the workload measures reservations, never their expiry.</summary>
    public const int HoldSeconds = 3600;

    public const string Actor = "load";

    // References are kept per line so that the hot path does not validate and format the same key on every call.
    private readonly ConcurrentDictionary<(string, string), IStockLineGrain> _lines = new();

    public async Task ReceiveAsync(string warehouse, string sku, long quantity, string operationId, CancellationToken cancellationToken)
    {
        var result = await Line(warehouse, sku).ReceiveAsync(new ReceiveCommand(operationId, quantity, Actor));
        if (result.Outcome is not (StockLineOutcome.Received or StockLineOutcome.AlreadyReceived))
        {
            throw new InvalidOperationException($"Receiving {warehouse}/{sku} answered {result.Outcome}.");
        }
    }

    public async Task<bool> ReserveLineAsync(string warehouse, string sku, string reservationId, CancellationToken cancellationToken)
    {
        var result = await Line(warehouse, sku).ReserveAsync(new ReserveCommand(reservationId, 1, DateTimeOffset.UtcNow.AddSeconds(HoldSeconds), Actor));
        return result.Outcome switch
        {
            StockLineOutcome.Reserved or StockLineOutcome.AlreadyReserved => true,
            StockLineOutcome.InsufficientStock => false,
            var other => throw new InvalidOperationException($"Reserving on {warehouse}/{sku} answered {other}."),
        };
    }

    public async Task FinishHoldAsync(string warehouse, string sku, string reservationId, bool ship, CancellationToken cancellationToken)
    {
        var line = Line(warehouse, sku);
        var hold = new HoldCommand(reservationId, Actor);
        if ((await line.CommitAsync(hold)).Outcome is not (StockLineOutcome.Committed or StockLineOutcome.AlreadyCommitted) and var committed)
        {
            throw new InvalidOperationException($"Committing {reservationId} on {warehouse}/{sku} answered {committed}.");
        }

        if (ship && (await line.ShipAsync(hold)).Outcome is not (StockLineOutcome.Shipped or StockLineOutcome.AlreadyShipped) and var shipped)
        {
            throw new InvalidOperationException($"Shipping {reservationId} on {warehouse}/{sku} answered {shipped}.");
        }
    }

    public async Task FinishOrderAsync(string reservationId, bool ship, CancellationToken cancellationToken)
    {
        var order = grains.Reference<IReservationGrain>(reservationId);
        if ((await order.CommitAsync(Actor)).Outcome is not (ReservationOutcome.Committed or ReservationOutcome.Unchanged) and var committed)
        {
            throw new InvalidOperationException($"Committing order {reservationId} answered {committed}.");
        }

        if (ship && (await order.ShipAsync(Actor)).Outcome is not (ReservationOutcome.Shipped or ReservationOutcome.Unchanged) and var shipped)
        {
            throw new InvalidOperationException($"Shipping order {reservationId} answered {shipped}.");
        }
    }

    public async Task<IReadOnlyList<HeldLine>?> PlaceAsync(string reservationId, IReadOnlyList<OrderLine> lines, string? tradePolicy,
        CancellationToken cancellationToken)
    {
        var request = new PlaceReservation(lines.Select(l => new ReservationLineRequest(l.Sku, l.Warehouse, l.Quantity)).ToList(), HoldSeconds, Actor, tradePolicy);
        var result = await grains.Reference<IReservationGrain>(reservationId).PlaceAsync(request);
        return result.Outcome switch
        {
            ReservationOutcome.Placed or ReservationOutcome.AlreadyPlaced => result.Reservation!.Lines.Select(l => new HeldLine(l.Sku, l.Warehouse, l.Quantity)).ToList(),
            ReservationOutcome.InsufficientStock => null,
            var other => throw new InvalidOperationException($"Placing {reservationId} answered {other}."),
        };
    }

    public Task DefineTradePolicyAsync(string tradePolicy, IReadOnlyList<string> warehouses, CancellationToken cancellationToken) =>
        grains.GetGrain<ITradePolicyGrain>(tradePolicy).DefineAsync(warehouses, AllocationStrategy.MostAvailable);

    public async Task<long> AvailableAsync(string sku, string tradePolicy, IReadOnlyList<string> warehouses, CancellationToken cancellationToken) =>
        (await grains.AvailabilityAsync(sku, warehouses)).Sum(w => w.Contributes);

    public async Task<LineBalance> GetLineAsync(string warehouse, string sku, CancellationToken cancellationToken)
    {
        var view = await Line(warehouse, sku).GetAsync();
        return new LineBalance(view.OnHand, view.Reserved, view.Available, view.Sequence);
    }

    public async Task<IReadOnlyList<LedgerRow>> ReadLedgerAsync(string warehouse, string sku, long after, int limit, CancellationToken cancellationToken)
    {
        var entries = store is not null
            ? await store.ReadAsync(StockKey.Create(warehouse, sku).ToString(), after, limit, cancellationToken)
            : (await Line(warehouse, sku).GetLedgerAsync(after, limit)).Entries;
        return entries.Select(e => new LedgerRow(e.Sequence, e.Kind, e.ReservationId, e.Quantity, e.OnHandAfter, e.ReservedAfter)).ToList();
    }

    private IStockLineGrain Line(string warehouse, string sku) =>
        _lines.GetOrAdd((warehouse, sku), key => grains.GetGrain<IStockLineGrain>(StockKey.Create(key.Item1, key.Item2).ToString()));
}

/// <summary>
/// StockGrains through its HTTP API v1, as a web shop calls it: one shared connection pool, JSON bodies, the API key
/// header when there is a key.
/// </summary>
public sealed class HttpTarget : IStockTarget, IDisposable
{
    /// <summary>
    /// Connections per server. One per caller lets a closed loop keep every caller's request on the wire; past this
    /// bound (and in an open loop) requests queue in the pool rather than opening sockets without end.
    /// </summary>
    public const int MaxConnections = 256;

    /// <summary>Longer than the server's own grain-call timeout (30 s), so a slow answer is the server's to give.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(45);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly HttpClient _http;

    public HttpTarget(Uri address, string? apiKey, int callers)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Math.Clamp(callers, 1, MaxConnections),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        };
        _http = new HttpClient(handler, disposeHandler: true) { BaseAddress = address, Timeout = RequestTimeout };
        if (apiKey is not null)
        {
            _http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        }
    }

    public async Task ReceiveAsync(string warehouse, string sku, long quantity, string operationId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/stock/{warehouse}/{sku}/receipts")
        {
            Content = JsonContent.Create(new ReceiptBody(quantity, "load"), options: Json),
        };
        request.Headers.Add("Idempotency-Key", operationId);
        using var response = await _http.SendAsync(request, cancellationToken);
        await EnsureAsync(response, "a receipt", cancellationToken);
    }

    public Task<bool> ReserveLineAsync(string warehouse, string sku, string reservationId, CancellationToken cancellationToken) =>
        throw new NotSupportedException("The HTTP API reserves through orders (POST /v1/reservations).");

    public Task FinishHoldAsync(string warehouse, string sku, string reservationId, bool ship, CancellationToken cancellationToken) =>
        throw new NotSupportedException("The HTTP API reserves through orders (POST /v1/reservations).");

    public async Task FinishOrderAsync(string reservationId, bool ship, CancellationToken cancellationToken)
    {
        foreach (var step in ship ? new[] { "commit", "ship" } : ["commit"])
        {
            using var response = await _http.PostAsync($"v1/reservations/{Uri.EscapeDataString(reservationId)}/{step}", null, cancellationToken);
            await EnsureAsync(response, $"POST /v1/reservations/{{id}}/{step}", cancellationToken);
        }
    }

    public async Task<IReadOnlyList<HeldLine>?> PlaceAsync(string reservationId, IReadOnlyList<OrderLine> lines, string? tradePolicy,
        CancellationToken cancellationToken)
    {
        var body = new PlaceBody(reservationId, lines.Select(l => new LineBody(l.Sku, l.Warehouse, l.Quantity)).ToList(), GrainTarget.HoldSeconds, tradePolicy);
        using var response = await _http.PostAsJsonAsync("v1/reservations", body, Json, cancellationToken);
        switch (response.StatusCode)
        {
            case HttpStatusCode.Created or HttpStatusCode.OK:
                var placed = await response.Content.ReadFromJsonAsync<PlacedBody>(Json, cancellationToken);
                return placed?.Lines ?? throw new InvalidOperationException("A placed reservation came back without lines.");
            case HttpStatusCode.Conflict:
                var problem = await response.Content.ReadFromJsonAsync<ProblemBody>(Json, cancellationToken);
                return problem?.Code == "insufficient_stock"
                    ? null
                    : throw new HttpRequestException($"POST /v1/reservations answered 409 {problem?.Code}.", null, response.StatusCode);
            default:
                await EnsureAsync(response, "POST /v1/reservations", cancellationToken);
                throw new HttpRequestException($"POST /v1/reservations answered {(int)response.StatusCode}.", null, response.StatusCode);
        }
    }

    public async Task DefineTradePolicyAsync(string tradePolicy, IReadOnlyList<string> warehouses, CancellationToken cancellationToken)
    {
        using var response = await _http.PutAsJsonAsync($"v1/trade-policies/{tradePolicy}", new PolicyBody(warehouses, "most-available"), Json, cancellationToken);
        await EnsureAsync(response, "defining the trade policy", cancellationToken);
    }

    public async Task<long> AvailableAsync(string sku, string tradePolicy, IReadOnlyList<string> warehouses, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"v1/availability/{sku}?tradePolicy={tradePolicy}", cancellationToken);
        await EnsureAsync(response, "reading availability", cancellationToken);
        return (await response.Content.ReadFromJsonAsync<AvailabilityBody>(Json, cancellationToken))!.Available;
    }

    public async Task<LineBalance> GetLineAsync(string warehouse, string sku, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"v1/stock/{warehouse}/{sku}", cancellationToken);
        await EnsureAsync(response, "reading a stock line", cancellationToken);
        return (await response.Content.ReadFromJsonAsync<LineBalance>(Json, cancellationToken))!;
    }

    public async Task<IReadOnlyList<LedgerRow>> ReadLedgerAsync(string warehouse, string sku, long after, int limit, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"v1/stock/{warehouse}/{sku}/ledger?after={after}&limit={limit}", cancellationToken);
        await EnsureAsync(response, "reading a ledger", cancellationToken);
        var page = await response.Content.ReadFromJsonAsync<LedgerBody>(Json, cancellationToken);
        return page!.Entries.Select(e => new LedgerRow(e.Sequence, LedgerFormat.ParseKind(e.Kind), e.ReservationId, e.Quantity, e.OnHandAfter, e.ReservedAfter))
            .ToList();
    }

    public void Dispose() => _http.Dispose();

    /// <summary>Throws with the status and the problem's code, so that a failed call says what the server said.</summary>
    private static async Task EnsureAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        string? code = null;
        try
        {
            code = (await response.Content.ReadFromJsonAsync<ProblemBody>(Json, cancellationToken))?.Code;
        }
        catch (JsonException)
        {
            // Not a problem document: the status alone says enough.
        }
        catch (NotSupportedException)
        {
            // Not JSON at all: the same.
        }

        throw new HttpRequestException($"{what} answered {(int)response.StatusCode}{(code is null ? "" : $" {code}")}.", null, response.StatusCode);
    }

    private sealed record ReceiptBody(long Quantity, string Reference);

    private sealed record LineBody(string Sku, string? Warehouse, long Quantity);

    private sealed record PlaceBody(string ReservationId, IReadOnlyList<LineBody> Lines, int TtlSeconds, string? TradePolicy);

    private sealed record PlacedBody(IReadOnlyList<HeldLine> Lines);

    private sealed record ProblemBody(string? Code);

    private sealed record PolicyBody(IReadOnlyList<string> Warehouses, string Allocation);

    private sealed record AvailabilityBody(long Available);

    private sealed record LedgerBody(IReadOnlyList<LedgerEntryBody> Entries);

    private sealed record LedgerEntryBody(long Sequence, string Kind, long Quantity, string? ReservationId, long OnHandAfter, long ReservedAfter);
}
