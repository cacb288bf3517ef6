using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Security;

/// <summary>
/// A server with one client per role, scoped narrowly: two checkout clients (to prove one cannot touch the other's
/// orders), an operator of warehouse <see cref="Own"/> only, an auditor and an admin. Tight per-client limits are
/// configured on clients of their own so the other tests are never limited.
/// </summary>
public sealed class AuthorizationFixture : IAsyncLifetime
{
    public const string Own = "wh-own";
    public const string Other = "wh-other";

    public ServerHost Host { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        string[] settings =
        [
            .. TestKeys.Client("co-a", ["checkout"], []),
            .. TestKeys.Client("co-b", ["checkout"], []),
            .. TestKeys.Client("op-a", ["operator"], [Own]),
            .. TestKeys.Client("aud", ["auditor"], []),
            .. TestKeys.Client("adm", ["admin"], []),
            .. TestKeys.Client("burst", ["checkout"], [], "Limits:Burst=5", "Limits:RequestsPerSecond=1"),
            .. TestKeys.Client("hoarder", ["checkout"], [], "Limits:MaxPendingHoldsPerLine=2", "Limits:MaxQuantityPerLine=10",
                "Limits:MaxHoldSeconds=600"),

            // A budget refills once an hour here, so a burst past it is refused deterministically however slow the machine.
            "--StockGrains:Limits:ReplenishmentMilliseconds=3600000",
            "--StockGrains:Limits:Burst=100000",
        ];
        Host = await ServerHost.StartAsync(null, null, settings);
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}

[CollectionDefinition(nameof(AuthorizationCollection))]
public sealed class AuthorizationCollection : ICollectionFixture<AuthorizationFixture>;
