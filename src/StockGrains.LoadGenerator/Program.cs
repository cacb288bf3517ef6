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

Console.WriteLine($"{options.Scenario}: {options.Callers} callers for {options.Duration.TotalSeconds:N0} s, stock {options.Stock:N0}" +
    (options.Scenario == "uniform" ? $" on each of {options.Skus:N0} SKUs" : " on one hot SKU") + $", store {options.Store}");
var reports = await new Runner(options, Console.Out).RunAsync();
if (options.JsonPath is { } path)
{
    await File.WriteAllTextAsync(path, JsonSerializer.Serialize(new { options.Scenario, options.Callers, options.Store, reports },
        new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }));
}

return reports.Any(r => r.Violations.Count > 0) ? 1 : 0;
