using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using StockGrains.Server.Hosting;
using StockGrains.Tests.Infrastructure;
using YamlDotNet.RepresentationModel;

namespace StockGrains.Tests.Deploy;

/// <summary>
/// Docker and Kubernetes cannot run on these machines, so their files are checked here: they parse, and every port,
/// variable, image and probe they name is one the server really has.
/// </summary>
[Collection(nameof(ServerCollection))]
public sealed partial class DeployFilesTests(ServerFixture fixture)
{
    private static readonly StockGrainsOptions Defaults = new();

    // Proves the compose file parses, runs PostgreSQL and three silos, and sets only settings the server binds.
    [Fact]
    public void The_compose_file_names_real_settings_ports_and_images()
    {
        var root = Load("compose.yaml").Single();
        var services = (YamlMappingNode)root["services"];
        var silos = services.Children.Where(s => s.Key.ToString().StartsWith("silo", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, silos.Count);
        Assert.Contains(services.Children, s => s.Key.ToString() == "postgres");
        foreach (var (_, node) in silos)
        {
            var silo = (YamlMappingNode)node;
            Assert.Equal("stockgrains:latest", silo["image"].ToString());
            var environment = (YamlMappingNode)silo["environment"];
            AssertRealSettings(environment.Children.Keys.Select(k => k.ToString()));
            Assert.Equal("PostgreSql", environment["StockGrains__Store"].ToString());
            Assert.Equal(Defaults.SiloPort.ToString(), environment["StockGrains__SiloPort"].ToString());
            Assert.Equal(Defaults.GatewayPort.ToString(), environment["StockGrains__GatewayPort"].ToString());
            Assert.EndsWith(":5080", ((YamlSequenceNode)silo["ports"]).Children.Single().ToString());
        }
    }

    // Proves the Kubernetes manifests parse, name the server's ports, real settings and health routes, and keep the cluster serving through updates.
    [Fact]
    public async Task The_kubernetes_manifests_name_real_ports_settings_and_probes()
    {
        var documents = Load(Path.Combine("k8s", "stockgrains.yaml"));
        var kinds = documents.Select(d => d["kind"].ToString()).ToList();
        Assert.Contains("PodDisruptionBudget", kinds);
        Assert.Contains("Service", kinds);
        var deployment = documents.Single(d => d["kind"].ToString() == "Deployment");
        var update = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)deployment["spec"])["strategy"])["rollingUpdate"];
        Assert.Equal("0", update["maxUnavailable"].ToString());

        var container = (YamlMappingNode)((YamlSequenceNode)((YamlMappingNode)((YamlMappingNode)((YamlMappingNode)deployment["spec"])["template"])["spec"])["containers"])[0];
        Assert.Equal("stockgrains:latest", container["image"].ToString());
        var ports = ((YamlSequenceNode)container["ports"]).Cast<YamlMappingNode>().ToDictionary(p => p["name"].ToString(), p => int.Parse(p["containerPort"].ToString()));
        Assert.Equal(new Dictionary<string, int> { ["http"] = 5080, ["silo"] = Defaults.SiloPort, ["gateway"] = Defaults.GatewayPort }, ports);
        var env = ((YamlSequenceNode)container["env"]).Cast<YamlMappingNode>().Select(e => e["name"].ToString()).ToList();
        AssertRealSettings(env.Where(e => e.StartsWith("StockGrains__", StringComparison.Ordinal)));
        Assert.Contains("POD_IP", env);

        foreach (var probe in new[] { "readinessProbe", "livenessProbe" })
        {
            var path = ((YamlMappingNode)((YamlMappingNode)container[probe])["httpGet"])["path"].ToString();
            using var response = await fixture.Host.Http.GetAsync(path, TestContext.Current.CancellationToken);
            Assert.True(response.IsSuccessStatusCode, $"{probe} path {path} answered {(int)response.StatusCode}");
        }
    }

    // Proves the Dockerfile publishes the real server, exposes its real ports, and sets only settings the server binds.
    [Fact]
    public void The_dockerfile_builds_the_server_and_exposes_its_ports()
    {
        var text = File.ReadAllText(DeployPath("Dockerfile"));
        Assert.Contains("src/StockGrains.Server/StockGrains.Server.csproj", text);
        Assert.True(File.Exists(Path.Combine(RepositoryRoot(), "src", "StockGrains.Server", "StockGrains.Server.csproj")));
        Assert.Contains($"EXPOSE 5080 {Defaults.SiloPort} {Defaults.GatewayPort}", text);
        Assert.Contains("\"StockGrains.Server.dll\"", text);
        AssertRealSettings(SettingPattern().Matches(text).Select(m => m.Value));
        var readme = File.ReadAllText(DeployPath("README.md"));
        foreach (var file in new[] { "Dockerfile", "compose.yaml", "k8s/stockgrains.yaml", "local-cluster.sh", "postgres-local.sh" })
        {
            Assert.Contains(file, readme);
        }
    }

    // Proves the server and the load generator ship with a cap on the young generation between 4 and 64 MiB a heap, which bounds each young collection's pause.
    [Theory]
    [InlineData("StockGrains.Server")]
    [InlineData("StockGrains.LoadGenerator")]
    public void The_server_and_the_load_generator_cap_the_young_generation(string program)
    {
        var budget = ShippedYoungGenerationCap(program);
        Assert.True(budget is not null, $"{program} runs with the GC's own young generation.");
        Assert.InRange(budget.Value, 4L << 20, 64L << 20);
    }

    // Proves the GC of a real process takes that cap from the runtime configuration: the load generator reports the cap its GC runs with.
    [Fact]
    public async Task A_process_started_from_the_build_runs_with_the_capped_young_generation()
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "StockGrains.LoadGenerator.dll"),
            "--scenario", "flash-sale", "--callers", "1", "--duration", "1", "--warmup", "0", "--stock", "10", "--quiet"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment.Remove("DOTNET_GCGen0MaxBudget");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await errors}");
        Assert.Contains($"young generation at most {ShippedYoungGenerationCap("StockGrains.LoadGenerator") >> 20} MiB a heap", await output);
    }

    /// <summary>The young generation's cap in a program's runtime configuration, as built beside the tests; null without one.</summary>
    private static long? ShippedYoungGenerationCap(string program)
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, $"{program}.runtimeconfig.json")));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        return properties.TryGetProperty("System.GC.Gen0MaxBudget", out var budget) ? budget.GetInt64() : null;
    }

    /// <summary>
    /// Every <c>StockGrains__X</c> variable must be a property the server binds; <c>StockGrains__Auth__Clients__NAME__Y</c>
    /// must name a property of a client.
    /// </summary>
    private static void AssertRealSettings(IEnumerable<string> variables)
    {
        var known = typeof(StockGrainsOptions).GetProperties().Select(p => p.Name).ToHashSet();
        var client = typeof(StockGrains.Server.Security.ClientOptions).GetProperties().Select(p => p.Name).ToHashSet();
        foreach (var variable in variables.Where(v => v.StartsWith("StockGrains__", StringComparison.Ordinal)))
        {
            var parts = variable.Split("__");
            if (parts is [_, "Auth", "Clients", _, var setting, ..])
            {
                Assert.Contains(setting, client);
            }
            else
            {
                Assert.Contains(variable["StockGrains__".Length..], known);
            }
        }
    }

    private static List<YamlMappingNode> Load(string relative)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(DeployPath(relative));

        // Compose files share settings through merge keys (<<: *silo); resolve them as Docker does.
        stream.Load(new YamlDotNet.Core.MergingParser(new YamlDotNet.Core.Parser(reader)));
        return stream.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
    }

    private static string DeployPath(string relative) => Path.Combine(RepositoryRoot(), "deploy", relative);

    private static string RepositoryRoot([CallerFilePath] string here = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", ".."));

    [GeneratedRegex(@"StockGrains__[A-Za-z]+(__Clients__[A-Za-z0-9_.-]+?__[A-Za-z]+)?")]
    private static partial Regex SettingPattern();
}
