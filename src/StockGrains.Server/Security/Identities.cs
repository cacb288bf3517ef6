using System.Security.Claims;
using Microsoft.Extensions.Options;
using StockGrains.Security;

namespace StockGrains.Server.Security;

/// <summary>Turns the authenticated principal into the <see cref="CallerIdentity"/> that travels to the grains.</summary>
public sealed class Identities(IOptionsMonitor<AuthOptions> auth, IOptionsMonitor<LimitOptions> limits)
{
    public const string ItemKey = "sg.identity";

    public CallerIdentity? From(HttpContext context)
    {
        if (context.Items.TryGetValue(ItemKey, out var cached))
        {
            return cached as CallerIdentity;
        }

        var user = context.User;
        CallerIdentity? identity = null;
        if (user.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name })
        {
            var roles = Roles.None;
            foreach (var claim in user.FindAll(ClaimTypes.Role))
            {
                roles |= RoleNames.TryParse(claim.Value, out var role) ? role : Roles.None;
            }

            auth.CurrentValue.Clients.TryGetValue(name, out var client);
            var own = limits.CurrentValue.For(client?.Limits);
            identity = new CallerIdentity(name, roles, user.FindAll(RoleNames.WarehouseClaim).Select(c => c.Value).Distinct().ToArray())
            {
                MaxPendingHoldsPerLine = own.MaxPendingHoldsPerLine,
                MaxQuantityPerLine = own.MaxQuantityPerLine,
                MaxHoldSeconds = own.MaxHoldSeconds,
            };
        }

        context.Items[ItemKey] = identity;
        return identity;
    }
}
