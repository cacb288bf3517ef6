using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using StockGrains.Grains.Reservations;
using StockGrains.Server.Hosting;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Http;

public sealed class ConfigurationTests
{
    // Proves bad settings stop the server at start with a message naming the setting.
    [Theory]
    [InlineData("--StockGrains:Store=PostgreSql", "ConnectionString")]
    [InlineData("--StockGrains:AdvertisedAddress=not-an-ip", "AdvertisedAddress")]
    [InlineData("--StockGrains:SiloPort=0", "SiloPort")]
    [InlineData("--StockGrains:ClusterId=has spaces", "ClusterId")]
    [InlineData("--StockGrains:LedgerWriters=2", "LedgerWriters")]
    [InlineData("--StockGrains:LedgerWriters=9", "LedgerWriters")]
    public void Bad_settings_stop_the_server_with_a_clear_error(string setting, string named)
    {
        var error = Assert.Throws<InvalidOperationException>(() => StockGrainsHost.Build([setting, "--StockGrains:DataDirectory=" + Path.GetTempPath()]));
        Assert.Contains(named, error.Message);
    }

    // Proves the orders' idle time reaches Orleans' collector for the order grain alone, by default and when set, and
    // that an idle time below Orleans' collection quantum is refused by name.
    [Fact]
    public async Task The_orders_idle_time_is_what_Orleans_collects_orders_by()
    {
        static async Task<TimeSpan?> AgeOf(params string[] settings)
        {
            await using var app = StockGrainsHost.Build([.. settings, "--environment=Development", "--StockGrains:DataDirectory=" + ServerHost.NewDataDirectory()]);
            var collection = app.Services.GetRequiredService<IOptions<GrainCollectionOptions>>().Value;
            return collection.ClassSpecificCollectionAge.TryGetValue(typeof(ReservationGrain).FullName!, out var age) ? age : null;
        }

        Assert.Equal(TimeSpan.FromSeconds(120), await AgeOf());
        Assert.Equal(TimeSpan.FromSeconds(300), await AgeOf("--StockGrains:Reservations:IdleSeconds=300"));

        await using var bad = StockGrainsHost.Build(["--StockGrains:Reservations:IdleSeconds=30", "--environment=Development",
            "--StockGrains:DataDirectory=" + ServerHost.NewDataDirectory()]);
        var error = Assert.Throws<OptionsValidationException>(() => bad.Services.GetRequiredService<IOptions<ReservationOptions>>().Value);
        Assert.Contains("IdleSeconds", error.Message, StringComparison.Ordinal);
    }
}
