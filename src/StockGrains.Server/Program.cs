using StockGrains.Server.Hosting;
using StockGrains.Server.Security;

// `keys new` makes an API key and the hash to configure for it; the server stores only the hash.
if (args is ["keys", "new", ..])
{
    var key = ApiKeys.NewKey();
    Console.WriteLine($"key:  {key}");
    Console.WriteLine($"hash: {ApiKeys.Hash(key)}");
    Console.WriteLine("Configure the hash, e.g. StockGrains__Auth__Clients__<name>__KeyHashes__0=<hash> with __Roles__0=<role>;");
    Console.WriteLine("give the key to the client, who sends it as the X-Api-Key header. Keep a second hash while rotating.");
    return;
}

var app = StockGrainsHost.Build(args);
app.Run();

/// <summary>The entry point, visible to tests.</summary>
public partial class Program;
