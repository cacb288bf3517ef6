using Microsoft.AspNetCore.Http.HttpResults;
using StockGrains.Server.Http;
using StockGrains.Server.Security;
using StockGrains.Transfers;

namespace StockGrains.Server.Transfers;

public sealed record TransferRequest(string? TransferId, string? Sku, string? FromWarehouse, string? ToWarehouse, long? Quantity, string? Unit);

public sealed record TransferResponse(string TransferId, string Sku, string FromWarehouse, string ToWarehouse, long Quantity, string Status)
{
    public static TransferResponse From(TransferView t) =>
        new(t.TransferId, t.Sku, t.FromWarehouse, t.ToWarehouse, t.Quantity, t.Status switch
        {
            TransferStatus.Dispatching => "dispatching",
            TransferStatus.InTransit => "in_transit",
            TransferStatus.Received => "received",
            _ => "refused",
        });
}

/// <summary>Transfers between warehouses: out of one line, in transit, into the other, each exactly once.</summary>
public static class TransferApi
{
    public static IEndpointRouteBuilder MapTransferApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/transfers").WithTags("Transfers");
        group.MapPost("", Create).WithName("CreateTransfer").WithSummary("Units leave the source (never reserved units) and are in transit.")
            .Accepts<TransferRequest>("application/json").RequireAuthorization(Access.Operator);
        group.MapPost("/{transferId}/receive", Receive).WithName("ReceiveTransfer").WithSummary("The units arrive at the destination.")
            .RequireAuthorization(Access.Operator);
        group.MapGet("/{transferId}", Get).WithName("GetTransfer").RequireAuthorization(Access.TransferReader);
        return app;
    }

    public static async Task<Results<Created<TransferResponse>, Ok<TransferResponse>, ProblemHttpResult>> Create(HttpRequest request, IGrainFactory grains)
    {
        var validate = new Validate();
        var actor = Caller.Actor(request);
        var (body, problem) = await JsonBody.ReadAsync<TransferRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        validate.Id("transferId", body!.TransferId).Id("sku", body.Sku).Id("fromWarehouse", body.FromWarehouse).Id("toWarehouse", body.ToWarehouse)
            .Quantity("quantity", body.Quantity);
        validate.Check(body.FromWarehouse != body.ToWarehouse, "toWarehouse", "A transfer goes to another warehouse.");
        var (quantity, _) = await Units.ToBaseAsync(grains, body.Sku ?? "", body.Unit, body.Quantity ?? 0, "unit", validate);
        if (!validate.Ok)
        {
            return validate.Problem();
        }

        // Dispatching moves units out of the source: the operator must work there.
        if (Access.Denied(request.HttpContext, body.FromWarehouse!) is { } denied)
        {
            return denied;
        }

        var result = await grains.Reference<ITransferGrain>(body.TransferId!)
            .CreateAsync(new CreateTransfer(body.Sku!, body.FromWarehouse!, body.ToWarehouse!, quantity, actor));
        return result.Outcome switch
        {
            TransferOutcome.Dispatched => TypedResults.Created($"/v1/transfers/{body.TransferId}", TransferResponse.From(result.Transfer!)),
            TransferOutcome.AlreadyDispatched => TypedResults.Ok(TransferResponse.From(result.Transfer!)),
            TransferOutcome.UnitsReserved => Problems.Problem(409, "units_reserved", "The source's units are held by reservations.", "Nothing moved."),
            TransferOutcome.InsufficientOnHand => Problems.Problem(409, "insufficient_on_hand", "The source does not have that many units.", "Nothing moved."),
            TransferOutcome.TransferIdReused => Problems.Problem(422, "transfer_id_reused", "This transferId was used with a different request.", "Nothing moved."),
            _ => Problems.Problem(500, "unexpected_outcome", "The transfer answered unexpectedly.", result.Outcome.ToString()),
        };
    }

    public static async Task<Results<Ok<TransferResponse>, ProblemHttpResult>> Receive(string transferId, HttpRequest request, IGrainFactory grains)
    {
        var validate = new Validate().Id("transferId", transferId);
        var actor = Caller.Actor(request);
        if (!validate.Ok)
        {
            return validate.Problem();
        }

        // Receiving puts units into the destination: the operator must work there.
        var grain = grains.Reference<ITransferGrain>(transferId);
        if ((await grain.GetAsync()).Transfer is { } known && Access.Denied(request.HttpContext, known.ToWarehouse) is { } denied)
        {
            return denied;
        }

        var result = await grain.ReceiveAsync(actor);
        return result.Transfer is { } transfer ? TypedResults.Ok(TransferResponse.From(transfer)) : NotFound(transferId);
    }

    public static async Task<Results<Ok<TransferResponse>, ProblemHttpResult>> Get(string transferId, IGrainFactory grains)
    {
        var validate = new Validate().Id("transferId", transferId);
        if (!validate.Ok)
        {
            return validate.Problem();
        }

        var result = await grains.Reference<ITransferGrain>(transferId).GetAsync();
        return result.Transfer is { } transfer ? TypedResults.Ok(TransferResponse.From(transfer)) : NotFound(transferId);
    }

    private static ProblemHttpResult NotFound(string transferId) =>
        Problems.Problem(404, "transfer_not_found", "No such transfer.", $"'{transferId}' moved nothing.");
}
