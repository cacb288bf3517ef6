using Microsoft.Data.Sqlite;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Operations;

/// <summary>The reconciliation report: empty on a healthy store, and it sees a balance that was tampered with.</summary>
public sealed class ReconciliationTests
{
    // Proves the report lists no mismatch on a healthy store, lists a negative line, and catches a snapshot whose balance was corrupted on purpose.
    [Fact]
    public async Task The_report_sees_a_corrupted_balance_and_a_negative_line()
    {
        await using var host = await ServerHost.StartAsync(null, null, "--StockGrains:StockLine:SnapshotEvery=2");
        var http = host.Http;
        await http.PostJsonAsync("/v1/stock/w1/healthy/receipts", new { quantity = 10 });
        await http.PostJsonAsync("/v1/stock/w1/healthy/receipts", new { quantity = 1 });
        await http.PostJsonAsync("/v1/stock/w1/tampered/receipts", new { quantity = 10 });
        await http.PostJsonAsync("/v1/stock/w1/tampered/receipts", new { quantity = 1 });
        await http.PostJsonAsync("/v1/reservations", new { reservationId = "o1", lines = new[] { new { sku = "short", warehouse = "w1", quantity = 1 } } });
        await http.PostJsonAsync("/v1/stock/w1/short/receipts", new { quantity = 3 });
        await http.PostJsonAsync("/v1/reservations", new { reservationId = "o2", lines = new[] { new { sku = "short", warehouse = "w1", quantity = 3 } } });
        await http.PostJsonAsync("/v1/stock/w1/short/counts", new { countedQuantity = 1 });

        // Snapshots are written in the background once their entries are durable; wait until both are there.
        for (var i = 0; i < 50 && await SnapshotsAsync(host) < 2; i++)
        {
            await Task.Delay(100);
        }

        var (_, clean) = await http.GetJsonAsync("/v1/reports/reconciliation");
        Assert.Empty(clean.GetProperty("mismatchedLines").EnumerateArray());
        var negative = Assert.Single(clean.GetProperty("negativeLines").EnumerateArray());
        Assert.Equal("short", negative.Str("sku"));

        await using (var connection = await host.Database.OpenWriterAsync())
        await using (var command = connection.CreateCommand())
        {
            command.CommandText =
                "UPDATE OrleansStorage SET PayloadBinary = CAST(replace(CAST(PayloadBinary AS TEXT), '\"onHand\":11', '\"onHand\":12') AS BLOB) " +
                "WHERE GrainIdExtensionString = 'w1/tampered'";
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        var (_, report) = await http.GetJsonAsync("/v1/reports/reconciliation");
        var mismatch = Assert.Single(report.GetProperty("mismatchedLines").EnumerateArray());
        Assert.Equal("tampered", mismatch.Str("sku"));
        Assert.Contains("snapshot", mismatch.Str("problem"));
    }

    private static async Task<long> SnapshotsAsync(ServerHost host)
    {
        await using var connection = await host.Database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM OrleansStorage WHERE GrainIdExtensionString IN ('w1/healthy', 'w1/tampered') AND PayloadBinary IS NOT NULL";
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
