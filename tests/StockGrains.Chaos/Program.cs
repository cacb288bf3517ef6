using StockGrains.Chaos;

ChaosOptions options;
try
{
    if (args.Contains("--help"))
    {
        Console.WriteLine(ChaosOptions.Help);
        return 0;
    }

    options = ChaosOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

var report = await ChaosRun.RunAsync(options, Console.Out);
return report.Clean ? 0 : 1;
