using Microsoft.AspNetCore.Http.HttpResults;
using StockGrains.Server.Http;
using StockGrains.Server.Security;
using StockGrains.TradePolicies;

namespace StockGrains.Server.TradePolicies;

public sealed record TradePolicyRequest(List<string?>? Warehouses, string? Allocation);

public sealed record TradePolicyResponse(string TradePolicy, IReadOnlyList<string> Warehouses, string Allocation, int Version)
{
    public static TradePolicyResponse From(TradePolicyDefinition d) =>
        new(d.TradePolicy, d.Warehouses, d.Allocation == AllocationStrategy.Priority ? "priority" : "most-available", d.Version);
}

public sealed record WarehouseAvailabilityResponse(
    string Warehouse, long Available, long OnHand, long Reserved, long SafetyStock, bool Negative, bool BlockedByAlert, long Contributes, string? Why);

public sealed record AvailabilityResponse(string Sku, string TradePolicy, long Available, IReadOnlyList<WarehouseAvailabilityResponse> Warehouses);

/// <summary>Trade policies (a sales channel's warehouses) and what a channel can sell of a SKU.</summary>
public static class TradePolicyApi
{
    /// <summary>Most warehouses one trade policy may name.</summary>
    public const int MaxWarehouses = StockGrains.Grains.TradePolicies.TradePolicyGrain.MaxWarehouses;

    public static IEndpointRouteBuilder MapTradePolicyApi(this IEndpointRouteBuilder app)
    {
        app.MapPut("/v1/trade-policies/{tradePolicy}", Define).WithTags("Trade policies").WithName("DefineTradePolicy")
            .WithSummary("The ordered warehouses a sales channel sells from, and how it allocates.").Accepts<TradePolicyRequest>("application/json")
            .RequireAuthorization(Access.Admin);
        app.MapGet("/v1/trade-policies/{tradePolicy}", Get).WithTags("Trade policies").WithName("GetTradePolicy");
        app.MapGet("/v1/availability/{sku}", Availability).WithTags("Trade policies").WithName("GetAvailability")
            .WithSummary("How many of a SKU a trade policy can sell: Σ max(0, warehouse available), with why each warehouse adds what it adds.");
        return app;
    }

    public static async Task<Results<Ok<TradePolicyResponse>, ProblemHttpResult>> Define(
        string tradePolicy, HttpRequest request, IGrainFactory grains, TradePolicyCache cache)
    {
        var validate = new Validate().Id("tradePolicy", tradePolicy);
        var key = Caller.IdempotencyKey(request, validate);
        var (body, problem) = await JsonBody.ReadAsync<TradePolicyRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var warehouses = body!.Warehouses ?? [];
        validate.Check(warehouses.Count is >= 1 and <= MaxWarehouses, "warehouses", $"Must name 1 to {MaxWarehouses} warehouses.");
        for (var i = 0; i < warehouses.Count; i++)
        {
            validate.Id($"warehouses[{i}]", warehouses[i]);
        }

        validate.Check(warehouses.Distinct().Count() == warehouses.Count, "warehouses", "A warehouse appears once.");
        var allocation = body.Allocation switch
        {
            "priority" or null => (AllocationStrategy?)AllocationStrategy.Priority,
            "most-available" => AllocationStrategy.MostAvailable,
            _ => null,
        };
        validate.Check(allocation is not null, "allocation", "Must be priority or most-available.");
        if (!validate.Ok)
        {
            return validate.Problem();
        }

        var result = await grains.Reference<ITradePolicyGrain>(tradePolicy)
            .DefineOnceAsync(new DefineTradePolicy(warehouses.Select(w => w!).ToList(), allocation!.Value, key));
        if (result.Definition is not { } definition)
        {
            return Caller.KeyReused();
        }

        cache.Forget(tradePolicy);
        return TypedResults.Ok(TradePolicyResponse.From(definition));
    }

    public static async Task<Results<Ok<TradePolicyResponse>, ProblemHttpResult>> Get(string tradePolicy, IGrainFactory grains)
    {
        var validate = new Validate().Id("tradePolicy", tradePolicy);
        if (!validate.Ok)
        {
            return validate.Problem();
        }

        return await grains.Reference<ITradePolicyGrain>(tradePolicy).GetAsync() is { } definition
            ? TypedResults.Ok(TradePolicyResponse.From(definition))
            : NotFound(tradePolicy);
    }

    public static async Task<Results<Ok<AvailabilityResponse>, ProblemHttpResult>> Availability(
        string sku, string? tradePolicy, IGrainFactory grains, TradePolicyCache policies)
    {
        var validate = new Validate().Id("sku", sku).Id("tradePolicy", tradePolicy);
        if (!validate.Ok)
        {
            return validate.Problem();
        }

        if (await policies.GetAsync(tradePolicy!) is not { } policy)
        {
            return NotFound(tradePolicy!);
        }

        var warehouses = await grains.AvailabilityAsync(sku, policy.Warehouses);
        var rows = warehouses.Select(w => new WarehouseAvailabilityResponse(w.Warehouse, w.Available, w.OnHand, w.Reserved, w.SafetyStock,
            w.Negative, w.BlockedByAlert, w.Contributes, Why(w))).ToList();
        return TypedResults.Ok(new AvailabilityResponse(sku, tradePolicy!, rows.Sum(r => r.Contributes), rows));
    }

    /// <summary>Why a warehouse adds nothing: the first reason an operator should look at.</summary>
    private static string? Why(WarehouseAvailability w) =>
        w.BlockedByAlert ? "blocked_by_alert"
        : w.Negative ? "negative"
        : w.Available > 0 ? null
        : w.OnHand > 0 && w.OnHand - w.Reserved <= 0 ? "all_reserved"
        : w.OnHand > 0 ? "safety_stock"
        : "no_stock";

    private static ProblemHttpResult NotFound(string tradePolicy) =>
        Problems.Problem(404, "trade_policy_not_found", "No such trade policy.", $"'{tradePolicy}' was never defined.");
}
