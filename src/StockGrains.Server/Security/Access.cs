using Microsoft.AspNetCore.Http.HttpResults;
using StockGrains.Security;
using StockGrains.Server.Http;

namespace StockGrains.Server.Security;

/// <summary>
/// The authorisation policies of the API and the warehouse-scope checks that roles alone cannot express. The whole
/// matrix (every role × every route × own/other warehouse) is tested.
/// </summary>
public static class Access
{
    public const string Checkout = "checkout";
    public const string Operator = "operator";
    public const string Auditor = "auditor";
    public const string Admin = "admin";
    public const string AuditorOrOperator = "auditor-or-operator";
    public const string ReservationReader = "reservation-reader";
    public const string TransferReader = "transfer-reader";

    public static void AddPolicies(Microsoft.AspNetCore.Authorization.AuthorizationOptions options)
    {
        options.AddPolicy(Checkout, p => p.RequireRole(RoleNames.Checkout));
        options.AddPolicy(Operator, p => p.RequireRole(RoleNames.Operator));
        options.AddPolicy(Auditor, p => p.RequireRole(RoleNames.Auditor));
        options.AddPolicy(Admin, p => p.RequireRole(RoleNames.Admin));
        options.AddPolicy(AuditorOrOperator, p => p.RequireRole(RoleNames.Auditor, RoleNames.Operator));
        options.AddPolicy(ReservationReader, p => p.RequireRole(RoleNames.Checkout, RoleNames.Auditor, RoleNames.Admin));
        options.AddPolicy(TransferReader, p => p.RequireRole(RoleNames.Operator, RoleNames.Auditor));

        // Every other route needs an authenticated caller with any role; health, metrics and OpenAPI opt out.
        options.FallbackPolicy = new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build();
    }

    /// <summary>Operators act only in their own warehouses; a route's <c>{warehouse}</c> is checked before its body is read.</summary>
    public static TBuilder RequireWarehouseScope<TBuilder>(this TBuilder builder, bool auditorsToo = false)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var warehouse = context.HttpContext.Request.RouteValues["warehouse"] as string ?? "";
            return Denied(context.HttpContext, warehouse, auditorsToo) is { } problem ? problem : await next(context);
        });

    /// <summary>Null when the caller may operate in the warehouse (or, with <paramref name="auditorsToo"/>, is an auditor).</summary>
    public static ProblemHttpResult? Denied(HttpContext context, string warehouse, bool auditorsToo = false)
    {
        var caller = context.RequestServices.GetRequiredService<Identities>().From(context);
        if (caller is null || caller.CanOperate(warehouse) || (auditorsToo && caller.Has(Roles.Auditor)))
        {
            return null;
        }

        return Problems.Problem(StatusCodes.Status403Forbidden, "warehouse_forbidden", "This client does not operate that warehouse.",
            $"'{caller.Client}' may not act in warehouse '{warehouse}'; nothing was changed.");
    }

    public static ProblemHttpResult NotOwner(string what) =>
        Problems.Problem(StatusCodes.Status403Forbidden, "not_owner", $"This {what} belongs to another client.", "Nothing was read or changed.");
}
