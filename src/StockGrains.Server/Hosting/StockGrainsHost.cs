using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Orleans.Dashboard;
using OpenTelemetry.Trace;
using StockGrains.Grains;
using StockGrains.Grains.Reservations;
using StockGrains.Grains.Stock;
using StockGrains.Grains.Storage;
using StockGrains.Grains.TradePolicies;
using StockGrains.Server.Http;
using StockGrains.Server.Reservations;
using StockGrains.Server.Security;
using StockGrains.Server.Operations;
using StockGrains.Server.Skus;
using StockGrains.Server.Stock;
using StockGrains.Server.TradePolicies;
using StockGrains.Server.Transfers;
using StockGrains.Stock;

namespace StockGrains.Server.Hosting;

/// <summary>Composes the one deployable: silo, HTTP API, telemetry, configuration.</summary>
public static partial class StockGrainsHost
{
    /// <summary>Builds the application; tests call this too, so they run the real composition.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);
        builder.AddStockGrains();
        var app = builder.Build();
        app.MapStockGrains();
        return app;
    }

    public static WebApplicationBuilder AddStockGrains(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<StockGrainsOptions>().BindConfiguration(StockGrainsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<StockLineOptions>().BindConfiguration(StockLineOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<ReservationOptions>().BindConfiguration(ReservationOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<Orleans.Configuration.GrainCollectionOptions>().Configure<IOptions<ReservationOptions>>((collection, orders) =>
            collection.ClassSpecificCollectionAge[typeof(ReservationGrain).FullName!] = TimeSpan.FromSeconds(orders.Value.IdleSeconds));

        // Options are read here once to wire the silo; ValidateOnStart reports the same values clearly if they are wrong.
        var settings = builder.Configuration.GetSection(StockGrainsOptions.Section).Get<StockGrainsOptions>() ?? new StockGrainsOptions();
        var problems = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        if (!System.ComponentModel.DataAnnotations.Validator.TryValidateObject(settings, new(settings), problems, validateAllProperties: true))
        {
            // The silo is wired from these values before the host starts, so a bad one must stop us here, by name.
            throw new InvalidOperationException("Invalid configuration: " + string.Join(" ", problems.Select(p => p.ErrorMessage)));
        }

        builder.AddStockGrainsSecurity(settings.DataDirectory);

        // Traces are made only when something exports them (an OTLP endpoint, by the standard variable or the setting).
        var tracing = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);

        // No route takes more than the JSON reader's limit; Kestrel refuses anything far past it before buffering it.
        builder.WebHost.ConfigureKestrel(o => o.Limits.MaxRequestBodySize = 4 * JsonBody.MaxBytes);
        services.TryAddSingleton(new StockGrainsTime(TimeProvider.System));
        services.AddSingleton<Reconciliation>();
        services.AddSingleton<OpenAlertsMetric>();
        services.AddSingleton<AvailabilityPublisher>();
        services.AddSingleton<StockGrains.Server.TradePolicies.TradePolicyCache>();
        if (settings.Store == StoreKind.PostgreSql)
        {
            var database = new PostgresDatabase(settings.ConnectionString!, settings.LedgerWriters ?? PostgresDatabase.DefaultWriterConnections);
            database.Initialize();
            services.AddSingleton(database);
            services.AddSingleton<ILedgerStore, PostgresLedgerStore>();
            builder.UseOrleans(silo =>
            {
                Identify(silo, settings);
                Observe(silo, builder.Environment.IsDevelopment(), tracing);

                // Failure detection can be tuned per environment (section Orleans:Membership), e.g. faster in crash tests.
                silo.Services.Configure<Orleans.Configuration.ClusterMembershipOptions>(builder.Configuration.GetSection("Orleans:Membership"));
                silo.UseAdoNetClustering(o =>
                {
                    o.Invariant = PostgresDatabase.Invariant;
                    o.ConnectionString = database.ConnectionString;
                });
                silo.ConfigureEndpoints(System.Net.IPAddress.Parse(settings.AdvertisedAddress), settings.SiloPort, settings.GatewayPort, listenOnAnyHostAddress: true);
                OrleansStorage.Configure(silo, PostgresDatabase.Invariant, database.ConnectionString);
                if (settings.Kubernetes)
                {
                    silo.UseKubernetesHosting();
                }
            });
        }
        else
        {
            var database = new SqliteDatabase(settings.DatabasePath);
            database.Initialize();
            services.AddSingleton(database);
            services.AddSingleton<ILedgerStore, SqliteLedgerStore>();
            builder.UseOrleans(silo =>
            {
                Identify(silo, settings);
                Observe(silo, builder.Environment.IsDevelopment(), tracing);
                silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, serviceId: settings.ServiceId, clusterId: settings.ClusterId);
                OrleansStorage.Configure(silo, SqliteDatabase.Invariant, database.ConnectionString);
            });
        }

        // Registered after the silo, so it starts after it and stops before it: its last send goes out while the silo
        // can still deliver it.
        services.AddHostedService(sp => sp.GetRequiredService<AvailabilityPublisher>());

        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull;
        });
        services.AddProblemDetails();
        services.AddOpenApi();
        services.AddHealthChecks().AddCheck<StoreHealthCheck>("store", tags: ["ready"]);
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("stockgrains", serviceInstanceId: $"{settings.AdvertisedAddress}:{settings.SiloPort}"))
            .WithMetrics(m => m.AddMeter(StockGrainsTelemetry.Name, "Microsoft.Orleans").AddAspNetCoreInstrumentation().AddPrometheusExporter());

        // OTLP only when an endpoint is configured, and traces only then: a span nobody exports still costs every grain
        // call and every append its activities.
        if (tracing)
        {
            telemetry
                .WithTracing(t => t.AddSource(StockGrainsTelemetry.Name, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application").AddAspNetCoreInstrumentation())
                .UseOtlpExporter();
        }
        return builder;
    }

    public static WebApplication MapStockGrains(this WebApplication app)
    {
        app.UseExceptionHandler(errors => errors.Run(HandleExceptionAsync));
        app.UseStatusCodePages(async context => await StatusProblem(context.HttpContext).ExecuteAsync(context.HttpContext));
        app.UseStockGrainsSecurity();

        // A malformed Idempotency-Key is refused on every route, also on those whose id is in the body or path: a
        // client sending one believes its retry is safe, and must learn at once that it is not.
        app.Use(async (context, next) =>
        {
            var keys = context.Request.Headers[Caller.IdempotencyHeader];
            if (keys.Count > 0 && (keys.Count > 1 || !StockGrains.Ids.IsValid(keys[0])))
            {
                await Problems.Validation(Caller.IdempotencyHeader, $"Must be one value of 1–{StockGrains.Ids.MaxLength} characters of A-Z a-z 0-9 . _ -")
                    .ExecuteAsync(context);
                return;
            }

            await next(context);
        });

        // Probes, scrapes and the API description need no key; everything else does.
        app.MapOpenApi().AllowAnonymous();
        app.MapHealthChecks("/health/live", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") })
            .AllowAnonymous();
        app.MapPrometheusScrapingEndpoint("/metrics").AllowAnonymous();

        // The dashboard shows every grain to whoever opens it, and a browser cannot send an API key: Development only.
        if (app.Environment.IsDevelopment())
        {
            app.MapOrleansDashboard("/dashboard").AllowAnonymous();
        }

        app.MapGet("/v1/me", (HttpContext context, Identities identities) => identities.From(context) is { } me
                ? TypedResults.Ok(new { client = me.Client, roles = RoleNames.All.Where(r => RoleNames.TryParse(r, out var role) && me.Has(role)),
                    warehouses = me.Warehouses })
                : Results.Unauthorized())
            .WithTags("Security").WithName("WhoAmI").WithSummary("The authenticated client, its roles and warehouses.");
        app.MapStockApi();
        app.MapReservationApi();
        app.MapSkuApi();
        app.MapTransferApi();
        app.MapOperationsApi();
        app.MapTradePolicyApi();

        app.Services.GetRequiredService<OpenAlertsMetric>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("StockGrains");
        var settings = app.Services.GetRequiredService<IOptions<StockGrainsOptions>>().Value;
        var location = settings.Store == StoreKind.PostgreSql
            ? $"PostgreSQL ({new Npgsql.NpgsqlConnectionStringBuilder(settings.ConnectionString) { Password = null }})"
            : settings.DatabasePath;
        app.Lifetime.ApplicationStarted.Register(() => LogDataLocation(logger, location));

        // Every silo makes sure the one expiry sweeper is scheduled; registering its reminder again is harmless.
        var grains = app.Services.GetRequiredService<IGrainFactory>();
        app.Lifetime.ApplicationStarted.Register(() => _ = StartSweeperAsync(grains, logger));
        return app;
    }

    /// <summary>
    /// Turns what escapes a handler into a problem document. A line that could not make a change durable, or a call
    /// that timed out, has an unknown outcome: the client retries with the same id.
    /// </summary>
    private static async Task HandleExceptionAsync(HttpContext context)
    {
        var error = context.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>()?.Error;
        var problem = error switch
        {
            StockLineUnavailableException e => Problems.Unavailable(e.Message),
            StockGrains.Security.AccessDeniedException e => Problems.Problem(StatusCodes.Status403Forbidden, "forbidden",
                "This client may not do that.", e.Message),
            TimeoutException => Problems.Problem(StatusCodes.Status503ServiceUnavailable, "outcome_unknown",
                "The request timed out; its outcome is unknown.", "Retry with the same id: a retry never applies twice."),
            BadHttpRequestException e => Problems.Problem(e.StatusCode, "bad_request", "The request could not be read.", e.Message),
            _ => Problems.Problem(StatusCodes.Status500InternalServerError, "internal_error", "Something went wrong.", "Retry with the same id."),
        };
        if (problem.StatusCode == StatusCodes.Status503ServiceUnavailable)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        await problem.ExecuteAsync(context);
    }

    private static async Task StartSweeperAsync(IGrainFactory grains, ILogger logger)
    {
        try
        {
            await grains.GetGrain<StockGrains.Grains.Stock.IExpirySweeperGrain>(0).StartAsync();
        }
        catch (Exception ex)
        {
            LogSweeperNotStarted(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The expiry sweeper could not be scheduled now; another silo, or the next start, will.")]
    private static partial void LogSweeperNotStarted(ILogger logger, Exception exception);

    /// <summary>
    /// When traces are exported, they flow from HTTP through grain calls. Without an exporter the propagation filters are
    /// left out: they would find no listener, yet every grain call would still take Orleans' filtered path on both the
    /// calling and the called side. The Orleans dashboard shows the cluster to developers; it is served in Development
    /// only, and only there does the silo pay for it (it profiles every grain call in a filter of its own).
    /// </summary>
    private static void Observe(ISiloBuilder silo, bool development, bool tracing)
    {
        if (tracing)
        {
            silo.AddActivityPropagation();
        }

        if (development)
        {
            silo.AddDashboard(_ => { });
        }
    }

    private static void Identify(ISiloBuilder silo, StockGrainsOptions settings) =>
        silo.Configure<Orleans.Configuration.ClusterOptions>(o =>
        {
            o.ServiceId = settings.ServiceId;
            o.ClusterId = settings.ClusterId;
        });

    /// <summary>Errors raised before a handler runs (no route, wrong method, wrong content type) get a stable code too.</summary>
    private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult StatusProblem(HttpContext context) => context.Response.StatusCode switch
    {
        StatusCodes.Status401Unauthorized => Problems.Problem(401, "unauthenticated", "A valid API key or bearer token is required.",
            $"Send the key as the {ApiKeys.Header} header."),
        StatusCodes.Status403Forbidden => Problems.Problem(403, "forbidden", "This client's roles do not allow that.", "Nothing was changed."),
        StatusCodes.Status404NotFound => Problems.Problem(404, "not_found", "No such route."),
        StatusCodes.Status405MethodNotAllowed => Problems.Problem(405, "method_not_allowed", "This route does not take that method."),
        StatusCodes.Status415UnsupportedMediaType => Problems.Problem(415, "unsupported_media_type", "The body must be application/json."),
        var status => Problems.Problem(status, "http_error", "The request could not be served."),
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "StockGrains data lives in {DatabasePath}")]
    private static partial void LogDataLocation(ILogger logger, string databasePath);
}
