using StockGrains.Chaos;

namespace StockGrains.Tests.Infrastructure;

/// <summary>Real silo processes for the crash tests, authenticated as the default test client.</summary>
public static class TestSilos
{
    /// <summary>Starts a silo that knows every test client; its <c>Http</c> client sends the default client's key.</summary>
    public static Task<SiloProcess> StartAsync(string connectionString, string clusterId, params string[] settings) =>
        SiloProcess.StartAsync(connectionString, clusterId, TestKeys.KeyOf(TestKeys.DefaultClient),
            [.. TestKeys.Settings("__").Select(s => $"{s.Key}={s.Value}"), .. settings]);
}
