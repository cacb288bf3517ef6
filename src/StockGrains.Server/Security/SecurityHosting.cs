using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using StockGrains.Security;
using StockGrains.Server.Http;

namespace StockGrains.Server.Security;

/// <summary>Authentication (API keys, optionally JWT), authorisation policies and per-client rate limits.</summary>
public static partial class SecurityHosting
{
    private const string PolicyScheme = "StockGrains";

    public static WebApplicationBuilder AddStockGrainsSecurity(this WebApplicationBuilder builder, string dataDirectory)
    {
        var configured = builder.Configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
        string? developmentKeys = null;
        if (!configured.Configured)
        {
            if (!builder.Environment.IsDevelopment())
            {
                // A server that anyone on the network could change must not start by accident.
                throw new InvalidOperationException(
                    $"No API keys or JWT issuer are configured ({AuthOptions.Section}). Outside the Development environment " +
                    "the server refuses to start without them. Make a key with: dotnet StockGrains.Server.dll keys new");
            }

            developmentKeys = DevelopmentKeys.Ensure(dataDirectory, builder.Configuration);
            configured = builder.Configuration.GetSection(AuthOptions.Section).Get<AuthOptions>()!;
        }

        var services = builder.Services;
        services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<LimitOptions>().BindConfiguration(LimitOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ApiKeyIndex>();
        services.AddSingleton<Identities>();
        services.AddSingleton(new DevelopmentKeysNotice(developmentKeys));

        // With JWTs a policy scheme picks the handler by the request's header; with API keys alone their handler is the
        // default itself, so that a request does not make and run a forwarding handler first.
        var authentication = configured.Jwt.Enabled
            ? services.AddAuthentication(PolicyScheme)
                .AddPolicyScheme(PolicyScheme, "API key or JWT", o => o.ForwardDefaultSelector = context =>
                    context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.Ordinal)
                        ? JwtBearerDefaults.AuthenticationScheme
                        : ApiKeys.Scheme)
            : services.AddAuthentication(ApiKeys.Scheme);
        authentication.AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(ApiKeys.Scheme, null);
        if (configured.Jwt.Enabled)
        {
            var jwt = configured.Jwt;
            authentication.AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                o.Authority = jwt.Authority;
                o.RequireHttpsMetadata = jwt.Authority?.StartsWith("https://", StringComparison.Ordinal) ?? false;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = jwt.Issuer,
                    ValidAudience = jwt.Audience,
                    ValidateAudience = jwt.Audience is not null,
                    IssuerSigningKey = jwt.SigningKey is null ? null : new SymmetricSecurityKey(Convert.FromBase64String(jwt.SigningKey)),
                    NameClaimType = "sub",
                    RoleClaimType = "roles",
                    ClockSkew = TimeSpan.FromSeconds(30),
                };
                o.Events = new JwtBearerEvents
                {
                    // Roles and warehouses arrive as "roles" and "warehouses"; the API reads roles from the standard claim type.
                    OnTokenValidated = context =>
                    {
                        if (context.Principal?.Identity is ClaimsIdentity identity)
                        {
                            // A caller without a subject has no identity to check: requests without one come from inside
                            // the cluster, which every order and warehouse trusts, so such a token is refused outright.
                            if (identity.FindFirst("sub")?.Value is not { Length: > 0 } subject)
                            {
                                context.Fail("The token names no subject (sub).");
                                return Task.CompletedTask;
                            }

                            identity.AddClaims(identity.FindAll("roles").Select(c => new Claim(ClaimTypes.Role, c.Value)).ToList());
                            identity.AddClaim(new Claim(ClaimTypes.Name, subject));
                        }

                        return Task.CompletedTask;
                    },
                };
            });
        }

        services.AddAuthorization(Access.AddPolicies);
        services.AddRateLimiter(o =>
        {
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(Partition);
            o.OnRejected = async (context, cancellationToken) =>
            {
                var wait = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await Problems.Problem(StatusCodes.Status429TooManyRequests, "rate_limited", "Too many requests from this client.",
                    $"Retry after {seconds} s; nothing was changed.").ExecuteAsync(context.HttpContext);
            };
        });
        return builder;
    }

    /// <summary>
    /// One token bucket per client (or, before authentication succeeds, per remote address). Health probes and
    /// metrics scrapes are never limited. The buckets live in this silo's memory: N silos admit up to N times the
    /// rate, which is why the durable caps (pending holds, quantity, hold lifetime) are enforced in the grains.
    /// </summary>
    private static RateLimitPartition<string> Partition(HttpContext context)
    {
        var path = context.Request.Path;
        if (path.StartsWithSegments("/health") || path.StartsWithSegments("/metrics"))
        {
            return RateLimitPartition.GetNoLimiter("probes");
        }

        var limits = context.RequestServices.GetRequiredService<IOptionsMonitor<LimitOptions>>().CurrentValue;
        var auth = context.RequestServices.GetRequiredService<IOptionsMonitor<AuthOptions>>().CurrentValue;
        var name = context.User.Identity is { IsAuthenticated: true, Name: { } n } ? n : null;
        var key = name is null ? $"address:{context.Connection.RemoteIpAddress}" : $"client:{name}";
        var own = limits.For(name is not null && auth.Clients.TryGetValue(name, out var client) ? client.Limits : null);
        var perSecond = own.RequestsPerSecond!.Value;
        var period = TimeSpan.FromMilliseconds(limits.ReplenishmentMilliseconds);
        return RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = own.Burst!.Value,
            TokensPerPeriod = Math.Max(1, (int)Math.Round(perSecond * period.TotalSeconds)),
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    /// <summary>
    /// Authenticate, limit, authorise; then put the caller's identity into the Orleans request context so every grain
    /// the request reaches can re-check it.
    /// </summary>
    public static WebApplication UseStockGrainsSecurity(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        app.Use(async (context, next) =>
        {
            if (context.RequestServices.GetRequiredService<Identities>().From(context) is { } identity)
            {
                Orleans.Runtime.RequestContext.Set(CallerIdentity.ContextKey, identity);
            }

            await next(context);
        });

        var notice = app.Services.GetRequiredService<DevelopmentKeysNotice>();
        if (notice.Path is { } path)
        {
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("StockGrains");
            app.Lifetime.ApplicationStarted.Register(() => LogDevelopmentKeys(logger, path, ApiKeys.Header));
        }

        return app;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message =
        "No API keys are configured, so this Development server made one per role in {Directory} (checkout.key, operator.key, " +
        "operator2.key, auditor.key, admin.key). Send one as a header, e.g. curl -H \"{Header}: $(cat {Directory}/operator.key)\" ...")]
    private static partial void LogDevelopmentKeys(ILogger logger, string directory, string header);
}

/// <summary>Where the development keys were written, if they were.</summary>
public sealed record DevelopmentKeysNotice(string? Path);
