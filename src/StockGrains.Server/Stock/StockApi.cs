using Microsoft.AspNetCore.Http.HttpResults;
using StockGrains.Grains.Storage;
using StockGrains.Server.Http;
using StockGrains.Server.Security;
using StockGrains.Stock;

namespace StockGrains.Server.Stock;

/// <summary>
/// The stock-line routes of API v1: read a line and its ledger; receipts, adjustments, counts, returns; the line's
/// policy; and the four-eyes approvals of the line.
/// </summary>
public static class StockApi
{
    /// <summary>The most ledger entries one page returns.</summary>
    public const int MaxLedgerPage = 1_000;

    /// <summary>The longest note or reference an operator may attach.</summary>
    public const int MaxTextLength = 500;

    public static IEndpointRouteBuilder MapStockApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/stock/{warehouse}/{sku}").WithTags("Stock");

        group.MapGet("", GetLine).WithName("GetStockLine").WithSummary("Read a stock line; a line never touched reads as all zeros.");
        group.MapPost("/receipts", Receive).WithName("ReceiveStock").WithSummary("Goods arrived.")
            .Accepts<ReceiptRequest>("application/json").RequireAuthorization(Access.Operator).RequireWarehouseScope();
        group.MapPost("/adjustments", Adjust).WithName("AdjustStock")
            .WithSummary("An adjustment with a reason code; a write-off of reserved units is refused or waits for approval.")
            .Accepts<AdjustmentRequest>("application/json").RequireAuthorization(Access.Operator).RequireWarehouseScope();
        group.MapPost("/counts", Count).WithName("CountStock")
            .WithSummary("A physical count; with countStartedAtSequence, movements during the count are kept.")
            .Accepts<CountRequest>("application/json").RequireAuthorization(Access.Operator).RequireWarehouseScope();
        group.MapPost("/returns", Return).WithName("ReturnStock").WithSummary("A customer return restocks on hand.")
            .Accepts<ReturnRequest>("application/json").RequireAuthorization(Access.Operator).RequireWarehouseScope();
        group.MapPut("/policy", SetPolicy).WithName("SetStockLinePolicy").WithSummary("Set the negative-stock policy and safety stock.")
            .Accepts<PolicyRequest>("application/json").RequireAuthorization(Access.Admin);
        group.MapGet("/ledger", GetLedger).WithName("GetStockLedger").WithSummary("The line's ledger, oldest first.")
            .RequireAuthorization(Access.AuditorOrOperator).RequireWarehouseScope(auditorsToo: true);
        group.MapGet("/approvals", GetApprovals).WithName("GetStockLineApprovals").WithSummary("Adjustments and counts waiting for a second person.")
            .RequireAuthorization(Access.AuditorOrOperator).RequireWarehouseScope(auditorsToo: true);
        group.MapPost("/approvals/{approvalId}/approve", (string warehouse, string sku, string approvalId, HttpRequest request, IGrainFactory grains) =>
            Resolve(warehouse, sku, approvalId, true, request, grains)).WithName("ApproveStockChange")
            .WithSummary("Approve; the approver must not be the requester.").RequireAuthorization(Access.Operator).RequireWarehouseScope();
        group.MapPost("/approvals/{approvalId}/reject", (string warehouse, string sku, string approvalId, HttpRequest request, IGrainFactory grains) =>
            Resolve(warehouse, sku, approvalId, false, request, grains)).WithName("RejectStockChange")
            .RequireAuthorization(Access.Operator).RequireWarehouseScope();
        return app;
    }

    public static async Task<Results<Ok<StockLineResponse>, ProblemHttpResult>> GetLine(string warehouse, string sku, IGrainFactory grains)
    {
        var validate = new Validate();
        if (Line(warehouse, sku, grains, validate) is not { } line)
        {
            return validate.Problem();
        }

        return TypedResults.Ok(StockLineResponse.From(await line.GetAsync()));
    }

    public static async Task<Results<Ok<StockLineResponse>, ProblemHttpResult>> Receive(
        string warehouse, string sku, HttpRequest request, IGrainFactory grains)
    {
        var (call, body, problem) = await Call.ReadAsync<ReceiptRequest>(warehouse, sku, request, grains);
        if (problem is not null)
        {
            return problem;
        }

        call.Validate.Quantity("quantity", body!.Quantity).Text("reference", body.Reference, MaxTextLength);
        var (quantity, entered) = await Units.ToBaseAsync(grains, sku, body.Unit, body.Quantity ?? 0, "unit", call.Validate);
        if (!call.Validate.Ok)
        {
            return call.Validate.Problem();
        }

        var result = await call.Line!.ReceiveAsync(new ReceiveCommand(call.OperationId, quantity, call.Actor, body.Reference, entered));
        return result.Outcome switch
        {
            StockLineOutcome.Received or StockLineOutcome.AlreadyReceived => TypedResults.Ok(StockLineResponse.From(result.Line)),
            _ => Refused(result),
        };
    }

    public static async Task<Results<Ok<StockLineResponse>, Accepted<PendingApprovalResponse>, ProblemHttpResult>> Adjust(
        string warehouse, string sku, HttpRequest request, IGrainFactory grains)
    {
        var (call, body, problem) = await Call.ReadAsync<AdjustmentRequest>(warehouse, sku, request, grains);
        if (problem is not null)
        {
            return problem;
        }

        var v = call.Validate.Delta("quantityDelta", body!.QuantityDelta).Text("note", body.Note, MaxTextLength).Text("reference", body.Reference, MaxTextLength);
        v.Check(AdjustmentReasons.TryParse(body.Reason, out var reason), "reason", "Must be one of damaged, shrinkage, found, correction, returned, other.");
        var (delta, entered) = await Units.ToBaseAsync(grains, sku, body.Unit, body.QuantityDelta ?? 0, "unit", v);
        if (!v.Ok)
        {
            return v.Problem();
        }

        var result = await call.Line!.AdjustAsync(new AdjustCommand(call.OperationId, delta, reason, call.Actor, body.Note, body.Reference, entered));
        return result.Outcome switch
        {
            StockLineOutcome.Adjusted or StockLineOutcome.AlreadyAdjusted => TypedResults.Ok(StockLineResponse.From(result.Line)),
            StockLineOutcome.PendingApproval or StockLineOutcome.AlreadyPendingApproval => Pending(result),
            _ => Refused(result),
        };
    }

    public static async Task<Results<Ok<CountResponse>, Accepted<PendingApprovalResponse>, ProblemHttpResult>> Count(
        string warehouse, string sku, HttpRequest request, IGrainFactory grains)
    {
        var (call, body, problem) = await Call.ReadAsync<CountRequest>(warehouse, sku, request, grains);
        if (problem is not null)
        {
            return problem;
        }

        var v = call.Validate.Counted("countedQuantity", body!.CountedQuantity).Text("note", body.Note, MaxTextLength);
        v.Check(body.CountStartedAtSequence is null or >= 0, "countStartedAtSequence", "Must be a ledger sequence, 0 or more.");
        var (counted, entered) = await Units.ToBaseAsync(grains, sku, body.Unit, body.CountedQuantity ?? 0, "unit", v);
        if (!v.Ok)
        {
            return v.Problem();
        }

        var result = await call.Line!.CountAsync(new CountCommand(call.OperationId, counted, body.CountStartedAtSequence, call.Actor, body.Note, entered));
        switch (result.Outcome)
        {
            case StockLineOutcome.Counted or StockLineOutcome.AlreadyCounted:
                return TypedResults.Ok(new CountResponse(counted, result.Entry!.Quantity, body.CountStartedAtSequence, StockLineResponse.From(result.Line)));
            case StockLineOutcome.PendingApproval or StockLineOutcome.AlreadyPendingApproval:
                return Pending(result);
            default:
                return Refused(result);
        }
    }

    public static async Task<Results<Ok<StockLineResponse>, ProblemHttpResult>> Return(
        string warehouse, string sku, HttpRequest request, IGrainFactory grains)
    {
        var (call, body, problem) = await Call.ReadAsync<ReturnRequest>(warehouse, sku, request, grains);
        if (problem is not null)
        {
            return problem;
        }

        var v = call.Validate.Quantity("quantity", body!.Quantity).Id("reason", body.Reason)
            .Text("note", body.Note, MaxTextLength).Text("reference", body.Reference, MaxTextLength);
        var (quantity, entered) = await Units.ToBaseAsync(grains, sku, body.Unit, body.Quantity ?? 0, "unit", v);
        if (!v.Ok)
        {
            return v.Problem();
        }

        var result = await call.Line!.ReturnAsync(new ReturnCommand(call.OperationId, quantity, body.Reason!, call.Actor, body.Reference, body.Note, entered));
        return result.Outcome switch
        {
            StockLineOutcome.Returned or StockLineOutcome.AlreadyReturned => TypedResults.Ok(StockLineResponse.From(result.Line)),
            _ => Refused(result),
        };
    }

    public static async Task<Results<Ok<StockLineResponse>, ProblemHttpResult>> SetPolicy(
        string warehouse, string sku, HttpRequest request, IGrainFactory grains)
    {
        var (call, body, problem) = await Call.ReadAsync<PolicyRequest>(warehouse, sku, request, grains);
        if (problem is not null)
        {
            return problem;
        }

        var policy = NegativeStockPolicy.Block;
        call.Validate.Check(body!.NegativeStock is not null && LedgerFormat.TryParsePolicy(body.NegativeStock, out policy),
            "negativeStock", "Must be one of block, approval, allow.");
        call.Validate.Check(body.SafetyStock is >= 0 and <= Validate.MaxQuantity, "safetyStock", $"Must be a whole number from 0 to {Validate.MaxQuantity:N0}.");
        if (!call.Validate.Ok)
        {
            return call.Validate.Problem();
        }

        var result = await call.Line!.SetPolicyAsync(new SetPolicyCommand(call.OperationId, policy, body.SafetyStock!.Value, call.Actor));
        return result.Outcome switch
        {
            StockLineOutcome.PolicyChanged or StockLineOutcome.AlreadyPolicyChanged => TypedResults.Ok(StockLineResponse.From(result.Line)),
            _ => Refused(result),
        };
    }

    public static async Task<Results<Ok<LedgerResponse>, ProblemHttpResult>> GetLedger(
        string warehouse, string sku, IGrainFactory grains, string? after, string? limit)
    {
        var validate = new Validate();
        var line = Line(warehouse, sku, grains, validate);
        var from = validate.Number("after", after, 0, long.MaxValue);
        var most = (int?)validate.Number("limit", limit, 1, MaxLedgerPage);
        if (!validate.Ok || line is null)
        {
            return validate.Problem();
        }

        var page = await line.GetLedgerAsync(from ?? 0, most ?? 100);
        return TypedResults.Ok(new LedgerResponse(page.Entries.Select(LedgerEntryResponse.From).ToList()));
    }

    public static async Task<Results<Ok<ApprovalsResponse>, ProblemHttpResult>> GetApprovals(string warehouse, string sku, IGrainFactory grains)
    {
        var validate = new Validate();
        if (Line(warehouse, sku, grains, validate) is not { } line)
        {
            return validate.Problem();
        }

        var approvals = await line.GetApprovalsAsync();
        return TypedResults.Ok(new ApprovalsResponse(approvals.Select(ApprovalResponse.From).ToList()));
    }

    private static async Task<Results<Ok<ResolvedApprovalResponse>, ProblemHttpResult>> Resolve(
        string warehouse, string sku, string approvalId, bool approve, HttpRequest request, IGrainFactory grains)
    {
        var validate = new Validate();
        var line = Line(warehouse, sku, grains, validate);
        validate.Id("approvalId", approvalId);
        var actor = Caller.Actor(request);
        string? note = null;
        if (request.ContentLength is > 0 || request.Headers.ContentType.Count > 0)
        {
            var (body, problem) = await JsonBody.ReadAsync<ResolveRequest>(request);
            if (problem is not null)
            {
                return problem;
            }

            validate.Text("note", body!.Note, MaxTextLength);
            note = body.Note;
        }

        if (!validate.Ok || line is null)
        {
            return validate.Problem();
        }

        var result = await line.ResolveApprovalAsync(new ResolveApprovalCommand(approvalId, approve, actor, note));
        return result.Outcome switch
        {
            // A repeat of the same decision is answered as made; the other decision, after this one, is a conflict.
            StockLineOutcome.Approved or StockLineOutcome.AlreadyApproved when approve =>
                TypedResults.Ok(new ResolvedApprovalResponse("approved", ApprovalResponse.From(result.Approval!), StockLineResponse.From(result.Line))),
            StockLineOutcome.Rejected or StockLineOutcome.AlreadyRejected when !approve =>
                TypedResults.Ok(new ResolvedApprovalResponse("rejected", ApprovalResponse.From(result.Approval!), StockLineResponse.From(result.Line))),
            _ => Refused(result),
        };
    }

    internal static IStockLineGrain? Line(string warehouse, string sku, IGrainFactory grains, Validate validate)
    {
        validate.Id("warehouse", warehouse).Id("sku", sku);
        return StockKey.TryCreate(warehouse, sku, out var key) ? grains.Reference<IStockLineGrain>(key.ToString()) : null;
    }

    private static Accepted<PendingApprovalResponse> Pending(StockLineResult result) =>
        TypedResults.Accepted((string?)null, new PendingApprovalResponse("pending_approval", ApprovalResponse.From(result.Approval!), StockLineResponse.From(result.Line)));

    /// <summary>The problem document for every refusal a line can give, each with its stable code.</summary>
    internal static ProblemHttpResult Refused(StockLineResult result)
    {
        var (status, code, title) = result.Outcome switch
        {
            StockLineOutcome.OperationIdReused => (422, "idempotency_key_reused", "This Idempotency-Key was used with a different request."),
            StockLineOutcome.UnitsReserved => (409, "units_reserved", "That would take units that reservations still hold."),
            StockLineOutcome.InsufficientOnHand => (409, "insufficient_on_hand", "There are not that many units on hand."),
            StockLineOutcome.CountSequenceInvalid => (409, "count_sequence_invalid", "The count starts at a sequence the line has not reached."),
            StockLineOutcome.ApprovalNotFound => (404, "approval_not_found", "No such approval on this line."),
            StockLineOutcome.SameActor => (403, "same_actor", "The requester cannot approve their own change; a second person must."),
            StockLineOutcome.AlreadyApproved => (409, "approval_already_resolved", "The approval was already approved; it cannot be rejected now."),
            StockLineOutcome.AlreadyRejected => (409, "approval_already_resolved", "The approval was already rejected; it cannot be approved now."),
            _ => (500, "unexpected_outcome", $"The line answered {result.Outcome}."),
        };
        return Problems.Problem(status, code, title, "Nothing was changed.",
            new Dictionary<string, object?> { ["line"] = StockLineResponse.From(result.Line) });
    }

    /// <summary>What every mutating line request needs: the line, the actor, the operation id, the body.</summary>
    private sealed record Call(IStockLineGrain? Line, string Actor, string OperationId, Validate Validate)
    {
        public static async Task<(Call Call, T? Body, ProblemHttpResult? Problem)> ReadAsync<T>(
            string warehouse, string sku, HttpRequest request, IGrainFactory grains)
            where T : class
        {
            var validate = new Validate();
            var line = StockApi.Line(warehouse, sku, grains, validate);
            var call = new Call(line, Caller.Actor(request), Caller.OperationId(request, validate), validate);
            var (body, problem) = await JsonBody.ReadAsync<T>(request);
            return (call, body, problem);
        }
    }
}
