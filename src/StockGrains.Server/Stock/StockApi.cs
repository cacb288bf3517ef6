using Microsoft.AspNetCore.Http.HttpResults;
using StockGrains.Grains.Storage;
using StockGrains.Server.Http;
using StockGrains.Stock;

namespace StockGrains.Server.Stock;

/// <summary>The stock-line routes of API v1: read a line, receive goods, set its policy, read its ledger.</summary>
public static class StockApi
{
    /// <summary>The most ledger entries one page returns.</summary>
    public const int MaxLedgerPage = 1_000;

    public static IEndpointRouteBuilder MapStockApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/stock/{warehouse}/{sku}").WithTags("Stock");

        group.MapGet("", GetLine).WithName("GetStockLine").WithSummary("Read a stock line; a line never touched reads as all zeros.");
        group.MapPost("/receipts", Receive).WithName("ReceiveStock").WithSummary("Goods arrived.")
            .Accepts<ReceiptRequest>("application/json");
        group.MapPut("/policy", SetPolicy).WithName("SetStockLinePolicy").WithSummary("Set the negative-stock policy and safety stock.")
            .Accepts<PolicyRequest>("application/json");
        group.MapGet("/ledger", GetLedger).WithName("GetStockLedger").WithSummary("The line's ledger, oldest first.");
        return app;
    }

    public static async Task<Results<Ok<StockLineResponse>, ProblemHttpResult>> GetLine(string warehouse, string sku, IGrainFactory grains)
    {
        if (Line(warehouse, sku, grains, new Validate()) is not { } line)
        {
            return BadKey(warehouse, sku);
        }

        return TypedResults.Ok(StockLineResponse.From(await line.GetAsync()));
    }

    public static async Task<Results<Ok<StockLineResponse>, ProblemHttpResult>> Receive(
        string warehouse, string sku, HttpRequest request, IGrainFactory grains)
    {
        var validate = new Validate();
        var line = Line(warehouse, sku, grains, validate);
        var actor = Caller.Actor(request, validate);
        var operationId = Caller.OperationId(request, validate);
        var (body, problem) = await JsonBody.ReadAsync<ReceiptRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        validate.Quantity("quantity", body!.Quantity).NoUnit("unit", body.Unit).Text("reference", body.Reference, 200);
        if (!validate.Ok || line is null)
        {
            return validate.Problem();
        }

        var result = await line.ReceiveAsync(new ReceiveCommand(operationId, body.Quantity!.Value, actor, body.Reference));
        return result.Outcome switch
        {
            StockLineOutcome.Received or StockLineOutcome.AlreadyReceived => TypedResults.Ok(StockLineResponse.From(result.Line)),
            StockLineOutcome.OperationIdReused => KeyReused(),
            _ => Unexpected(result.Outcome),
        };
    }

    public static async Task<Results<Ok<StockLineResponse>, ProblemHttpResult>> SetPolicy(
        string warehouse, string sku, HttpRequest request, IGrainFactory grains)
    {
        var validate = new Validate();
        var line = Line(warehouse, sku, grains, validate);
        var actor = Caller.Actor(request, validate);
        var operationId = Caller.OperationId(request, validate);
        var (body, problem) = await JsonBody.ReadAsync<PolicyRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var policy = NegativeStockPolicy.Block;
        validate.Check(body!.NegativeStock is not null && LedgerFormat.TryParsePolicy(body.NegativeStock, out policy),
            "negativeStock", "Must be one of block, approval, allow.");
        validate.Check(body.SafetyStock is >= 0 and <= Validate.MaxQuantity, "safetyStock", $"Must be a whole number from 0 to {Validate.MaxQuantity:N0}.");
        if (!validate.Ok || line is null)
        {
            return validate.Problem();
        }

        var result = await line.SetPolicyAsync(new SetPolicyCommand(operationId, policy, body.SafetyStock!.Value, actor));
        return result.Outcome switch
        {
            StockLineOutcome.PolicyChanged or StockLineOutcome.AlreadyPolicyChanged => TypedResults.Ok(StockLineResponse.From(result.Line)),
            StockLineOutcome.OperationIdReused => KeyReused(),
            _ => Unexpected(result.Outcome),
        };
    }

    public static async Task<Results<Ok<LedgerResponse>, ProblemHttpResult>> GetLedger(
        string warehouse, string sku, IGrainFactory grains, long? after, int? limit)
    {
        var validate = new Validate();
        var line = Line(warehouse, sku, grains, validate);
        validate.Check(after is null or >= 0, "after", "Must be a sequence, 0 or more.");
        validate.Check(limit is null or >= 1 and <= MaxLedgerPage, "limit", $"Must be from 1 to {MaxLedgerPage}.");
        if (!validate.Ok || line is null)
        {
            return validate.Problem();
        }

        var page = await line.GetLedgerAsync(after ?? 0, limit ?? 100);
        return TypedResults.Ok(new LedgerResponse(page.Entries.Select(LedgerEntryResponse.From).ToList()));
    }

    private static IStockLineGrain? Line(string warehouse, string sku, IGrainFactory grains, Validate validate)
    {
        validate.Id("warehouse", warehouse).Id("sku", sku);
        return StockKey.TryCreate(warehouse, sku, out var key) ? grains.GetGrain<IStockLineGrain>(key.ToString()) : null;
    }

    private static ProblemHttpResult BadKey(string warehouse, string sku) =>
        new Validate().Id("warehouse", warehouse).Id("sku", sku).Problem();

    internal static ProblemHttpResult KeyReused() =>
        Problems.Problem(StatusCodes.Status422UnprocessableEntity, "idempotency_key_reused",
            "This Idempotency-Key was used with a different request.", "Use a new key for a new request; nothing was changed.");

    internal static ProblemHttpResult Unexpected(StockLineOutcome outcome) =>
        Problems.Problem(StatusCodes.Status500InternalServerError, "unexpected_outcome", "The line answered unexpectedly.", outcome.ToString());
}
