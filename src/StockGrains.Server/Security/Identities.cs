using System.Runtime.CompilerServices;
using System.Security.Claims;
using Microsoft.Extensions.Options;
using StockGrains.Security;

namespace StockGrains.Server.Security;

/// <summary>Turns the authenticated principal into the <see cref="CallerIdentity"/> that travels to the grains.</summary>
public sealed class Identities
{
    public const string ItemKey = "sg.identity";

    private readonly IOptionsMonitor<AuthOptions> _auth;
    private readonly IOptionsMonitor<LimitOptions> _limits;
    private readonly ConditionalWeakTable<ClaimsPrincipal, CallerIdentity>.CreateValueCallback _make;

    // An API key's principal is one object per client (ApiKeyIndex), so its identity is made once too and not on every
    // request. A new table whenever the keys or the limits change: an identity carries the client's limits.
    private volatile ConditionalWeakTable<ClaimsPrincipal, CallerIdentity> _byKeyPrincipal = new();

    public Identities(IOptionsMonitor<AuthOptions> auth, IOptionsMonitor<LimitOptions> limits)
    {
        _auth = auth;
        _limits = limits;
        _make = Make;
        auth.OnChange(_ => _byKeyPrincipal = new());
        limits.OnChange(_ => _byKeyPrincipal = new());
    }

    public CallerIdentity? From(HttpContext context)
    {
        if (context.Items.TryGetValue(ItemKey, out var cached))
        {
            return cached as CallerIdentity;
        }

        var user = context.User;
        CallerIdentity? identity = null;
        if (user.Identity is { IsAuthenticated: true, Name: { Length: > 0 } } authenticated)
        {
            // A JWT's principal is new with every request; caching it would only fill the table.
            identity = authenticated.AuthenticationType == ApiKeys.Scheme ? _byKeyPrincipal.GetValue(user, _make) : Make(user);
        }

        context.Items[ItemKey] = identity;
        return identity;
    }

    private CallerIdentity Make(ClaimsPrincipal user)
    {
        var name = user.Identity!.Name!;
        var roles = Roles.None;
        foreach (var claim in user.FindAll(ClaimTypes.Role))
        {
            roles |= RoleNames.TryParse(claim.Value, out var role) ? role : Roles.None;
        }

        _auth.CurrentValue.Clients.TryGetValue(name, out var client);
        var own = _limits.CurrentValue.For(client?.Limits);
        return new CallerIdentity(name, roles, user.FindAll(RoleNames.WarehouseClaim).Select(c => c.Value).Distinct().ToArray())
        {
            MaxPendingHoldsPerLine = own.MaxPendingHoldsPerLine,
            MaxQuantityPerLine = own.MaxQuantityPerLine,
            MaxHoldSeconds = own.MaxHoldSeconds,
        };
    }
}
