using System.Text.Json;
using StockGrains.LoadGenerator;

LoadOptions options;
try
{
    if (args.Contains("--help"))
    {
        Console.WriteLine(LoadOptions.Help);
        return 0;
    }

    options = LoadOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

if (options.Scenario == "activation")
{
    var activation = await Activation.RunAsync(options, Console.Out);
    Console.WriteLine(activation);
    if (options.JsonPath is { } activationJson)
    {
        await File.WriteAllTextAsync(activationJson, JsonSerializer.Serialize(activation, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }));
    }

    return activation.Violations.Count > 0 ? 1 : 0;
}

var target = options.Target + (options.Embedded ? $" (embedded server, store {options.Store})" : " (external server)");
Console.WriteLine($"{options.Scenario}: " + (options.Rate > 0 ? $"{options.Rate:N0} arrivals/s" : $"{options.Callers} callers") +
    $" for {options.Duration.TotalSeconds:N0} s, stock {options.Stock:N0}" +
    options.Scenario switch
    {
        "flash-sale" => " on one hot SKU",
        "reads" => " in each of 3 warehouses of one hot SKU",
        _ => $" on each of {options.Skus:N0} SKUs",
    } +
    $", target {target} via {options.EffectiveVia}" + (options.Commits ? $", then {options.Then} each hold" : ""));

var runtimeSettings = RuntimeSettings.From(Environment.GetEnvironmentVariables());
// The GC reports the young generation's cap as it took it, from the runtime configuration or the environment alike.
var youngCap = GC.GetConfigurationVariables().TryGetValue("GCGen0MaxBudget", out var budget) && budget is long bytes && bytes > 0
    ? $", young generation at most {bytes / (1024 * 1024)} MiB a heap"
    : "";
Console.WriteLine($"runtime: {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC, {System.Runtime.GCSettings.LatencyMode}{youngCap}" +
    (runtimeSettings.Length > 0 ? ", " + string.Join(", ", runtimeSettings) : ""));
IReadOnlyList<Round> rounds;
try
{
    rounds = await Rounds.RunAsync(options, Console.Out, options.Quiet ? null : Console.Error);
}
catch (Exception ex) when (ex is not OutOfMemoryException)
{
    // A target or baseline that cannot be reached or set up is no finding about invariants: say what failed, plainly.
    Console.Error.WriteLine($"The run could not complete: {ex.GetType().Name}: {ex.Message}");
    return 3;
}

var reports = rounds.SelectMany(r => r.Reports).ToList();
if (options.JsonPath is { } path)
{
    await File.WriteAllTextAsync(path, Rounds.Json(options, rounds));
}

return reports.Any(r => r.Violations.Count > 0) ? 1 : 0;
