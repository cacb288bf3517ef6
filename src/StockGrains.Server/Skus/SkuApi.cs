using Microsoft.AspNetCore.Http.HttpResults;
using StockGrains.Grains.Storage;
using StockGrains.Server.Http;
using StockGrains.Server.Security;
using StockGrains.Skus;
using StockGrains.Stock;

namespace StockGrains.Server.Skus;

public sealed record SkuRequest(string? BaseUnit, Dictionary<string, long>? Packs, string? NegativeStock);

public sealed record SkuResponse(string Sku, string BaseUnit, IReadOnlyDictionary<string, long> Packs, string? NegativeStock, int Version)
{
    public static SkuResponse From(SkuDefinition d) =>
        new(d.Sku, d.BaseUnit, d.Packs, d.NegativeStock is { } p ? LedgerFormat.Policy(p) : null, d.Version);
}

/// <summary>SKU definitions: the base unit, the packs that convert to it exactly, and the lines' default policy.</summary>
public static class SkuApi
{
    /// <summary>Most packs one SKU may define.</summary>
    public const int MaxPacks = 20;

    public static IEndpointRouteBuilder MapSkuApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/skus").WithTags("SKUs");
        group.MapPut("/{sku}", Define).WithName("DefineSku").WithSummary("Define the base unit, packs and default negative-stock policy.")
            .Accepts<SkuRequest>("application/json")
            .RequireAuthorization(Access.Admin);
        group.MapGet("/{sku}", Get).WithName("GetSku");
        return app;
    }

    public static async Task<Results<Ok<SkuResponse>, ProblemHttpResult>> Define(string sku, HttpRequest request, IGrainFactory grains)
    {
        var validate = new Validate().Id("sku", sku);
        var actor = Caller.Actor(request);
        var key = Caller.IdempotencyKey(request, validate);
        var (body, problem) = await JsonBody.ReadAsync<SkuRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        validate.Id("baseUnit", body!.BaseUnit);
        var packs = body.Packs ?? [];
        validate.Check(packs.Count <= MaxPacks, "packs", $"At most {MaxPacks} packs.");
        foreach (var (name, size) in packs)
        {
            validate.Id($"packs.{name}", name);
            validate.Check(size is >= 1 and <= 1_000_000, $"packs.{name}", "A pack holds a whole number of base units, from 1 to 1,000,000.");
            validate.Check(name != body.BaseUnit, $"packs.{name}", "A pack cannot have the base unit's name.");
        }

        NegativeStockPolicy? policy = null;
        if (body.NegativeStock is not null)
        {
            validate.Check(LedgerFormat.TryParsePolicy(body.NegativeStock, out var p), "negativeStock", "Must be one of block, approval, allow.");
            policy = p;
        }

        if (!validate.Ok)
        {
            return validate.Problem();
        }

        var result = await grains.Reference<ISkuGrain>(sku).DefineOnceAsync(new DefineSku(body.BaseUnit!, packs, policy, actor) { OperationId = key });
        if (result.Definition is not { } definition)
        {
            return Caller.KeyReused();
        }

        return TypedResults.Ok(SkuResponse.From(definition));
    }

    public static async Task<Results<Ok<SkuResponse>, ProblemHttpResult>> Get(string sku, IGrainFactory grains)
    {
        var validate = new Validate().Id("sku", sku);
        if (!validate.Ok)
        {
            return validate.Problem();
        }

        return await grains.Reference<ISkuGrain>(sku).GetAsync() is { } definition
            ? TypedResults.Ok(SkuResponse.From(definition))
            : Problems.Problem(StatusCodes.Status404NotFound, "sku_not_found", "No such SKU definition.", $"'{sku}' was never defined.");
    }
}
