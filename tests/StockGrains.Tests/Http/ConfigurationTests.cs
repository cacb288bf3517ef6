using StockGrains.Server.Hosting;

namespace StockGrains.Tests.Http;

public sealed class ConfigurationTests
{
    // Proves bad settings stop the server at start with a message naming the setting.
    [Theory]
    [InlineData("--StockGrains:Store=PostgreSql", "ConnectionString")]
    [InlineData("--StockGrains:AdvertisedAddress=not-an-ip", "AdvertisedAddress")]
    [InlineData("--StockGrains:SiloPort=0", "SiloPort")]
    [InlineData("--StockGrains:ClusterId=has spaces", "ClusterId")]
    public void Bad_settings_stop_the_server_with_a_clear_error(string setting, string named)
    {
        var error = Assert.Throws<InvalidOperationException>(() => StockGrainsHost.Build([setting, "--StockGrains:DataDirectory=" + Path.GetTempPath()]));
        Assert.Contains(named, error.Message);
    }
}
