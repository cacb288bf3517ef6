using System.Globalization;

namespace StockGrains.LoadGenerator;

/// <summary>What one run does. Parsed from the command line; every number has a bound.</summary>
public sealed record LoadOptions
{
    public string Scenario { get; init; } = "flash-sale";

    /// <summary>Simultaneous callers (closed loop: each sends its next order when the last one is answered).</summary>
    public int Callers { get; init; } = 64;

    /// <summary>
    /// Open loop: this many arrivals per second whatever the answers, latency measured from each request's scheduled
    /// start (so a stall is not hidden by coordinated omission). Zero means closed loop.
    /// </summary>
    public int Rate { get; init; }

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Fire the same workload this long first, unrecorded, so the JIT and caches have settled (zero: none).</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.Zero;

    /// <summary>Units of the hot SKU in a flash sale; of each SKU in the uniform scenario; of the hot SKU in each warehouse for reads.</summary>
    public long Stock { get; init; } = 1_000_000;

    /// <summary>SKUs in the uniform scenario.</summary>
    public int Skus { get; init; } = 10_000;

    /// <summary><c>sqlite</c> (embedded) or <c>postgres</c> (needs <see cref="Connection"/>).</summary>
    public string Store { get; init; } = "sqlite";

    public string? Connection { get; init; }

    /// <summary>Also run the same workload against PostgreSQL's conditional UPDATE (needs <see cref="Connection"/>).</summary>
    public bool PostgresBaseline { get; init; }

    /// <summary>
    /// The most connections the PostgreSQL baselines open; callers beyond them wait in the pool for one. Null means one
    /// per caller (up to <see cref="DefaultMaxBaselineConnections"/>, Npgsql's own default): a checkout fleet in which
    /// every checkout in flight holds a connection. A small pool queues the callers in the client instead, which on one
    /// hot row spares PostgreSQL the waiters on its row lock and is faster.
    /// </summary>
    public int? BaselineConnections { get; init; }

    /// <summary>The baselines' pool at most: the local PostgreSQL allows 400 connections, and the embedded server needs its own.</summary>
    public const int MaxBaselineConnections = 256;

    /// <summary>The baselines' pool without <c>--baseline-connections</c> at most: Npgsql's default pool size.</summary>
    public const int DefaultMaxBaselineConnections = 100;

    /// <summary>The PostgreSQL baselines' pool size as it is used.</summary>
    public int EffectiveBaselineConnections => BaselineConnections ?? Math.Min(Callers, DefaultMaxBaselineConnections);

    /// <summary>Also run the same workload against a Lua check-and-decrement on Redis (needs <see cref="Redis"/>).</summary>
    public bool RedisBaseline { get; init; }

    /// <summary>
    /// How many times to run StockGrains and then each baseline, in turn. A ratio is taken within each round, and the
    /// summary gives their median: on a shared machine a noisy minute then moves one round, not the figure.
    /// </summary>
    public int Rounds { get; init; } = 1;

    /// <summary>
    /// After the closed-loop run, run StockGrains again as an open loop at half the rate it just reached: the latency
    /// target is a p99 at half of peak, and the peak of this machine at this minute is the one that counts.
    /// </summary>
    public bool HalfPeak { get; init; }

    /// <summary>The Redis of the baseline, as <c>host:port</c>.</summary>
    public string? Redis { get; init; }

    /// <summary>
    /// How StockGrains is called: <c>embedded</c> (the in-process server's own grain factory), <c>orleans</c> (a
    /// separate Orleans client over TCP) or <c>http</c> (the HTTP API).
    /// </summary>
    public string Target { get; init; } = "embedded";

    /// <summary>
    /// <c>lines</c> reserves on the stock line directly; <c>orders</c> places a one-line order reservation, the path
    /// the HTTP API takes. Null means the target's natural path: orders over HTTP, lines otherwise.
    /// </summary>
    public string? Via { get; init; }

    /// <summary>
    /// What each caller does with a hold it got before its next reservation: <c>none</c> (it stays open), <c>commit</c>
    /// (the order was paid), or <c>ship</c> (paid, then picked and shipped, which closes the hold). A checkout that
    /// ships is the whole life of a unit: it shows what a line that has forgotten old holds costs.
    /// </summary>
    public string Then { get; init; } = "none";

    /// <summary>Each caller commits what it held (<c>--then commit</c> or <c>ship</c>).</summary>
    public bool Commits => Then != "none";

    /// <summary>Each caller also ships what it committed (<c>--then ship</c>).</summary>
    public bool Ships => Then == "ship";

    /// <summary>An external server's Orleans gateway port on 127.0.0.1; without it the orleans target starts the embedded server.</summary>
    public int? Gateway { get; init; }

    /// <summary>An external server's HTTP address; without it the http target starts the embedded server.</summary>
    public Uri? Url { get; init; }

    /// <summary>Sent as <c>X-Api-Key</c> to an external HTTP server.</summary>
    public string? ApiKey { get; init; }

    public string ServiceId { get; init; } = "stockgrains";

    public string ClusterId { get; init; } = "stockgrains-dev";

    /// <summary>
    /// Keep the PostgreSQL databases a run creates (the embedded server's and the row-lock baseline's) for inspection;
    /// by default they are dropped when the run ends, since a hot run leaves hundreds of thousands of ledger rows.
    /// </summary>
    public bool KeepDatabases { get; init; }

    /// <summary>No per-second progress lines on standard error.</summary>
    public bool Quiet { get; init; }

    public string? JsonPath { get; init; }

    /// <summary>Run a deliberately broken server that skips the stock check: the invariant check must fail.</summary>
    public bool BrokenSkipStockCheck { get; init; }

    /// <summary>True when the run starts a StockGrains server in this process.</summary>
    public bool Embedded => Target == "embedded" || (Target == "orleans" && Gateway is null) || (Target == "http" && Url is null);

    /// <summary>The path requests take: what <see cref="Via"/> says, or the target's natural one; <c>availability</c> for reads.</summary>
    public string EffectiveVia => Scenario switch
    {
        "orders" => "orders",
        "reads" => "availability",
        _ => Via ?? (Target == "http" ? "orders" : "lines"),
    };

    /// <summary>Rounds of one invocation at most: twenty runs of each target are already most of an hour at the defaults.</summary>
    public const int MaxRounds = 20;

    public const string Help = """
        StockGrains load generator: simultaneous orders, baselines side by side, an invariant check after every run.

        Usage: dotnet run --project src/StockGrains.LoadGenerator -c Release -- [options]

          --scenario flash-sale|uniform|orders|reads|activation
                                          one hot SKU; reservations over --skus SKUs; orders of
                                          1-3 lines allocated by a trade policy over 3 warehouses;
                                          one hot SKU's availability over a trade policy of 3
                                          warehouses, read (a product page's "in stock"), never
                                          changed; or --skus lines made active (a receipt and a
                                          hold each): bytes per active line, re-activation rate,
                                          idle lines go                                            (flash-sale)
          --callers N                     simultaneous callers, closed loop, 1-4096                (64)
          --rate N                        open loop instead: N arrivals per second, 1-1000000
          --duration SECONDS              how long to fire, 1-3600                                 (10)
          --warmup SECONDS                fire this long first without recording, 0-600 (what it
                                          reserves still counts in the invariant check)           (0)
          --stock N                       units of the hot SKU, or of each SKU (reads: of the hot
                                          SKU in each of its 3 warehouses), 1-1000000000           (1000000)
          --skus N                        SKUs in the uniform and orders scenarios, 1-1000000      (10000)

        How StockGrains is called:
          --target embedded|orleans|http  embedded: an in-process server, called through its own grain
                                          factory; orleans: a separate Orleans client over TCP; http:
                                          POST /v1/reservations over HTTP (reads: GET
                                          /v1/availability/{sku})                                  (embedded)
          --via lines|orders              reserve on the stock line (IStockLineGrain.ReserveAsync), or
                                          place a one-line order (IReservationGrain.PlaceAsync), which
                                          is the path HTTP takes; http supports only orders  (lines; http: orders)
          --then none|commit|ship         what each caller does with a unit it held, before its next
                                          reservation: nothing, commit it, or commit and ship it (on
                                          the line, or the order's commit and ship, over HTTP too);
                                          a result then counts checkouts, each two or three durable
                                          changes, and the baselines do the same steps as updates
                                          of their own                                           (none)
          --gateway PORT                  orleans: an external server's gateway on 127.0.0.1, 1-65535;
                                          with --connection the client finds every gateway in that
                                          database's membership table instead. Without --gateway the
                                          embedded server starts and the client connects to its gateway
          --service-id ID, --cluster-id ID
                                          the external cluster's Orleans identities (stockgrains, stockgrains-dev)
          --url URL                       http: an external server's address, e.g. http://127.0.0.1:5080;
                                          without it the embedded server starts and its Kestrel is used
          --api-key KEY                   http: sent as X-Api-Key (the embedded server gets a fresh key
                                          of its own every run, with the checkout, operator and auditor roles)

        The embedded server:
          --store sqlite|postgres         its store                                                (sqlite)
          --connection STRING             PostgreSQL connection string (store, baseline, membership)
          --broken-skip-stock-check       a deliberately broken server; the check must catch it
                                          (not with reads, which take no stock)
          --keep-databases                keep the PostgreSQL databases the run creates (server and
                                          baseline) and print their names; by default they are dropped

        Baselines, the same workload one after the other, each with its own invariant check:
          --postgres-baseline             a conditional UPDATE per reservation on PostgreSQL (needs --connection);
                                          with --scenario reads, a SELECT of the SKU's rows in the 3 warehouses
          --baseline-connections N        the PostgreSQL baselines' pool: at most N connections, 1-256;
                                          callers beyond them wait for one     (one per caller, up to 100)
          --redis-baseline                a Lua check-and-decrement per reservation on Redis (needs --redis);
                                          with --scenario reads, an MGET of the SKU's 3 counts;
                                          start one with: bash deploy/redis-local.sh start DIR PORT
          --redis HOST:PORT               the Redis of the baseline
          --half-peak                     after the closed loop, run StockGrains again as an open loop
                                          at half the rate it reached, and print that run's p99
          --rounds N                      run StockGrains and then each baseline N times in turn, 1-20;
                                          each round's ratio and their median are printed        (1)

        Output:
          --quiet                         no progress line per second on standard error
          --json PATH                     write the report, with the ratios, as JSON too
          --help                          this text

        Every second of a run prints that second's successes, 99th percentile, refusals and errors to
        standard error. The invariant check reads back each line and its durable ledger (through the
        embedded server's store, or through the target for an external server); after reads it checks
        every answer and the lines' balances, and counts the read model's reads of the embedded
        server's store. Each report also gives
        the processor time of a request (cpu/req): this process's, and its database server's when that
        runs on this machine, which shows where a request's cost lies.

        Exit code: 0 when every invariant holds, 1 when one is violated, 2 for bad arguments,
        3 when a target or a baseline could not be reached or set up.
        """;

    public static LoadOptions Parse(string[] args)
    {
        var options = new LoadOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            options = args[i] switch
            {
                "--scenario" => options with { Scenario = OneOf(Next(), "--scenario", "flash-sale", "uniform", "orders", "reads", "activation") },
                "--callers" => options with { Callers = Bounded(Next(), 1, 4096, "--callers") },
                "--rate" => options with { Rate = Bounded(Next(), 1, 1_000_000, "--rate") },
                "--duration" => options with { Duration = TimeSpan.FromSeconds(Bounded(Next(), 1, 3600, "--duration")) },
                "--warmup" => options with { Warmup = TimeSpan.FromSeconds(Bounded(Next(), 0, 600, "--warmup")) },
                "--stock" => options with { Stock = Bounded(Next(), 1, 1_000_000_000, "--stock") },
                "--skus" => options with { Skus = Bounded(Next(), 1, 1_000_000, "--skus") },
                "--store" => options with { Store = OneOf(Next(), "--store", "sqlite", "postgres") },
                "--connection" => options with { Connection = Next() },
                "--postgres-baseline" => options with { PostgresBaseline = true },
                "--baseline-connections" => options with { BaselineConnections = Bounded(Next(), 1, MaxBaselineConnections, "--baseline-connections") },
                "--redis-baseline" => options with { RedisBaseline = true },
                "--redis" => options with { Redis = Endpoint(Next(), "--redis") },
                "--half-peak" => options with { HalfPeak = true },
                "--rounds" => options with { Rounds = Bounded(Next(), 1, MaxRounds, "--rounds") },
                "--target" => options with { Target = OneOf(Next(), "--target", "embedded", "orleans", "http") },
                "--via" => options with { Via = OneOf(Next(), "--via", "lines", "orders") },
                "--then" => options with { Then = OneOf(Next(), "--then", "none", "commit", "ship") },
                "--gateway" => options with { Gateway = Bounded(Next(), 1, 65_535, "--gateway") },
                "--url" => options with { Url = HttpAddress(Next()) },
                "--api-key" => options with { ApiKey = Key(Next()) },
                "--service-id" => options with { ServiceId = Identity(Next(), "--service-id") },
                "--cluster-id" => options with { ClusterId = Identity(Next(), "--cluster-id") },
                "--keep-databases" => options with { KeepDatabases = true },
                "--quiet" => options with { Quiet = true },
                "--json" => options with { JsonPath = Next() },
                "--broken-skip-stock-check" => options with { BrokenSkipStockCheck = true },
                _ => throw new ArgumentException($"Unknown option {args[i]}; see --help."),
            };
        }

        Check(!(options.Store == "postgres" || options.PostgresBaseline) || !string.IsNullOrWhiteSpace(options.Connection),
            "--store postgres and --postgres-baseline need --connection.");
        Check(!options.RedisBaseline || options.Redis is not null, "--redis-baseline needs --redis HOST:PORT.");
        Check(options.BaselineConnections is null || options.PostgresBaseline, "--baseline-connections sizes the pool of --postgres-baseline.");
        Check(options.Gateway is null || options.Target == "orleans", "--gateway goes with --target orleans.");
        Check(options.Url is null || options.Target == "http", "--url goes with --target http.");
        Check(options.ApiKey is null || options.Target == "http", "--api-key goes with --target http.");
        Check(!(options.Target == "http" && options.Via == "lines"), "--target http reserves through orders (POST /v1/reservations); --via lines is not available over HTTP.");
        Check(!(options.Scenario == "orders" && options.Via == "lines"), "--scenario orders places orders; --via lines does not apply.");
        Check(!(options.Scenario == "reads" && options.Via is not null), "--scenario reads reads availability; --via does not apply.");
        Check(!(options.Scenario == "reads" && options.BrokenSkipStockCheck),
            "--broken-skip-stock-check breaks reservations, and --scenario reads makes none: the check could not catch it.");
        Check(!options.Commits || options.Scenario is "flash-sale" or "uniform",
            "--then finishes the holds of one-unit reservations: it needs --scenario flash-sale or uniform.");

        Check(!(options.HalfPeak && options.Rate > 0), "--half-peak measures the peak with a closed loop first; leave out --rate.");
        Check(!(options.HalfPeak && options.Scenario == "activation"), "--half-peak needs a load scenario, not activation.");
        Check(options.Rounds == 1 || options.Scenario != "activation", "--rounds repeats a load scenario; the activation scenario runs once.");

        // These settings shape the server this tool starts; an external server was configured by whoever started it.
        Check(options.Embedded || (options.Store == "sqlite" && !options.BrokenSkipStockCheck),
            "--store and --broken-skip-stock-check apply to the embedded server, not to an external one.");
        return options;
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new ArgumentException(message);
        }
    }

    private static string OneOf(string value, string name, params string[] allowed) =>
        allowed.Contains(value) ? value : throw new ArgumentException($"{name} is one of {string.Join(", ", allowed)}.");

    private static int Bounded(string text, int min, int max, string name) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"{name} is a whole number from {min} to {max}.");

    /// <summary>A <c>host:port</c>; the host may be a name, an IPv4 address or a bracketed IPv6 address.</summary>
    private static string Endpoint(string text, string name)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            throw new ArgumentException($"{name} is HOST:PORT, e.g. 127.0.0.1:56379.");
        }

        Bounded(text[(colon + 1)..], 1, 65_535, $"The port of {name}");
        return text;
    }

    private static Uri HttpAddress(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? uri
            : throw new ArgumentException("--url is an absolute http:// or https:// address, e.g. http://127.0.0.1:5080.");

    // Keys are sent as a header value: a longer one, or one with control characters, would be refused by the server anyway.
    private static string Key(string text) =>
        text.Length is >= 1 and <= 128 && text.All(c => c > ' ' && c < 127)
            ? text
            : throw new ArgumentException("--api-key is 1 to 128 printable characters without spaces.");

    // The same rule the server applies to its ServiceId and ClusterId settings.
    private static string Identity(string text, string name) =>
        text.Length is >= 1 and <= 64 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')
            ? text
            : throw new ArgumentException($"{name} is 1 to 64 characters of A-Z a-z 0-9 . _ -.");
}
