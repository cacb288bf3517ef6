using Microsoft.AspNetCore.Http.HttpResults;
using StockGrains.Grains.Stock;
using StockGrains.Grains.Storage;
using StockGrains.Server.Http;
using StockGrains.Server.Security;
using StockGrains.Server.Stock;
using StockGrains.Stock;

namespace StockGrains.Server.Operations;

public sealed record AlertResponse(
    string Warehouse, string Sku, long OnHand, long Reserved, long Sequence, long CauseSequence, string CauseKind, long CauseQuantity,
    string? CauseReason, string CauseOperationId, string CauseActor, DateTimeOffset RaisedAt);

public sealed record AlertsResponse(IReadOnlyList<AlertResponse> Alerts);

/// <summary>What operators watch across lines: open negative-stock alerts, pending approvals, reconciliation.</summary>
public static class OperationsApi
{
    /// <summary>Most rows one listing returns.</summary>
    public const int MaxRows = 1_000;

    public static IEndpointRouteBuilder MapOperationsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/alerts", Alerts).WithTags("Operations").WithName("GetAlerts")
            .WithSummary("Open negative-stock alerts, each with the movement that caused it.").RequireAuthorization(Access.AuditorOrOperator);
        app.MapGet("/v1/approvals", Approvals).WithTags("Operations").WithName("GetApprovals")
            .WithSummary("Adjustments and counts waiting for a second person, oldest first.").RequireAuthorization(Access.AuditorOrOperator);
        app.MapGet("/v1/reports/reconciliation", Reconcile).WithTags("Operations").WithName("Reconcile")
            .WithSummary("Negative lines, and any line whose stored balances differ from a replay of its ledger (always empty).")
            .RequireAuthorization(Access.Auditor);
        return app;
    }

    /// <summary>An auditor sees every warehouse; an operator only the warehouses it operates.</summary>
    private static bool Sees(HttpContext context, string line) =>
        Access.Denied(context, StockKey.Parse(line).Warehouse, auditorsToo: true) is null;

    public static async Task<Results<Ok<AlertsResponse>, ProblemHttpResult>> Alerts(HttpContext context, ILedgerStore store, string? limit)
    {
        var validate = new Validate();
        var rows = (int?)validate.Number("limit", limit, 1, MaxRows);
        if (!validate.Ok)
        {
            return validate.Problem();
        }

        var alerts = await store.OpenAlertsAsync(rows ?? 100);
        return TypedResults.Ok(new AlertsResponse(alerts.Where(a => Sees(context, a.Line)).Select(a =>
        {
            var key = StockKey.Parse(a.Line);
            return new AlertResponse(key.Warehouse, key.Sku, a.Latest.OnHandAfter, a.Latest.ReservedAfter, a.Latest.Sequence, a.Cause.Sequence,
                LedgerFormat.Kind(a.Cause.Kind), a.Cause.Quantity, a.Cause.Reason, a.Cause.OperationId, a.Cause.Actor, a.Cause.At);
        }).ToList()));
    }

    public static async Task<Results<Ok<ApprovalsResponse>, ProblemHttpResult>> Approvals(HttpContext context, ILedgerStore store, string? warehouse, string? limit)
    {
        var validate = new Validate();
        var most = (int?)validate.Number("limit", limit, 1, MaxRows);
        if (warehouse is not null)
        {
            validate.Id("warehouse", warehouse);
        }

        if (!validate.Ok)
        {
            return validate.Problem();
        }

        if (warehouse is not null && Access.Denied(context, warehouse, auditorsToo: true) is { } denied)
        {
            return denied;
        }

        var rows = await store.PendingApprovalsAsync(warehouse, most ?? 100);
        return TypedResults.Ok(new ApprovalsResponse(rows.Where(r => Sees(context, r.Line)).Select(r =>
        {
            var key = StockKey.Parse(r.Line);
            var e = r.Request;
            return new ApprovalResponse(e.ApprovalId!, key.Warehouse, key.Sku, e.Reason == "count" ? "count" : "adjustment", e.Quantity, e.Reason,
                e.Actor, e.At, e.Sequence, e.Note, e.CountedQuantity);
        }).ToList()));
    }

    public static async Task<Results<Ok<ReconciliationResult>, ProblemHttpResult>> Reconcile(Reconciliation reconciliation, string? after, string? limit)
    {
        var validate = new Validate();
        var lines = (int?)validate.Number("limit", limit, 1, Reconciliation.MaxLinesPerReport);
        validate.Check(after is null || StockKey.TryParse(after, out _), "after", "Must be a line key 'warehouse/sku' from a previous page.");
        if (!validate.Ok)
        {
            return validate.Problem();
        }

        return TypedResults.Ok(await reconciliation.RunAsync(after ?? "", lines ?? 100));
    }
}
