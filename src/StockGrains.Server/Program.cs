using StockGrains.Server.Hosting;

var app = StockGrainsHost.Build(args);
app.Run();

/// <summary>The entry point, visible to tests.</summary>
public partial class Program;
