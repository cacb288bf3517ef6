using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace StockGrains.Grains.Storage;

/// <summary>Durable Orleans reminders on the embedded SQLite file. The ETag is the row's version.</summary>
public sealed class SqliteReminderTable(SqliteDatabase database, IOptions<ClusterOptions> cluster) : IReminderTable
{
    private const string Columns = "grain_id, reminder_name, start_at_ticks, period_ticks, version";
    private readonly string _serviceId = cluster.Value.ServiceId;

    public async Task<ReminderTableData> ReadRows(GrainId grainId)
    {
        await using var connection = await database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM reminders WHERE service_id = $s AND grain_id = $g";
        command.Parameters.AddWithValue("$s", _serviceId);
        command.Parameters.AddWithValue("$g", grainId.ToString());
        return new ReminderTableData(await ReadAsync(command));
    }

    public async Task<ReminderTableData> ReadRows(uint begin, uint end)
    {
        await using var connection = await database.OpenAsync();
        await using var command = connection.CreateCommand();

        // The ring range (begin, end] wraps around when begin >= end.
        command.CommandText = begin < end
            ? $"SELECT {Columns} FROM reminders WHERE service_id = $s AND grain_hash > $b AND grain_hash <= $e"
            : $"SELECT {Columns} FROM reminders WHERE service_id = $s AND (grain_hash > $b OR grain_hash <= $e)";
        command.Parameters.AddWithValue("$s", _serviceId);
        command.Parameters.AddWithValue("$b", (long)begin);
        command.Parameters.AddWithValue("$e", (long)end);
        return new ReminderTableData(await ReadAsync(command));
    }

    public async Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName)
    {
        await using var connection = await database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM reminders WHERE service_id = $s AND grain_id = $g AND reminder_name = $n";
        command.Parameters.AddWithValue("$s", _serviceId);
        command.Parameters.AddWithValue("$g", grainId.ToString());
        command.Parameters.AddWithValue("$n", reminderName);
        return (await ReadAsync(command)).FirstOrDefault();
    }

    public async Task<string?> UpsertRow(ReminderEntry entry)
    {
        await using var connection = await database.OpenWriterAsync();
        await using var command = connection.CreateCommand();
        command.CommandText =
            "INSERT INTO reminders (service_id, grain_id, reminder_name, grain_hash, start_at_ticks, period_ticks, version) " +
            "VALUES ($s, $g, $n, $h, $a, $p, 1) " +
            "ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE SET start_at_ticks = excluded.start_at_ticks, " +
            "period_ticks = excluded.period_ticks, version = reminders.version + 1 RETURNING version";
        command.Parameters.AddWithValue("$s", _serviceId);
        command.Parameters.AddWithValue("$g", entry.GrainId.ToString());
        command.Parameters.AddWithValue("$n", entry.ReminderName);
        command.Parameters.AddWithValue("$h", (long)entry.GrainId.GetUniformHashCode());
        command.Parameters.AddWithValue("$a", entry.StartAt.ToUniversalTime().Ticks);
        command.Parameters.AddWithValue("$p", entry.Period.Ticks);
        var version = (long)(await command.ExecuteScalarAsync())!;
        return version.ToString(CultureInfo.InvariantCulture);
    }

    public async Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag)
    {
        await using var connection = await database.OpenWriterAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM reminders WHERE service_id = $s AND grain_id = $g AND reminder_name = $n AND version = $v";
        command.Parameters.AddWithValue("$s", _serviceId);
        command.Parameters.AddWithValue("$g", grainId.ToString());
        command.Parameters.AddWithValue("$n", reminderName);
        command.Parameters.AddWithValue("$v", long.Parse(eTag, CultureInfo.InvariantCulture));
        return await command.ExecuteNonQueryAsync() == 1;
    }

    public async Task TestOnlyClearTable()
    {
        await using var connection = await database.OpenWriterAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM reminders WHERE service_id = $s";
        command.Parameters.AddWithValue("$s", _serviceId);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<List<ReminderEntry>> ReadAsync(SqliteCommand command)
    {
        var entries = new List<ReminderEntry>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            entries.Add(new ReminderEntry
            {
                GrainId = GrainId.Parse(reader.GetString(0)),
                ReminderName = reader.GetString(1),
                StartAt = new DateTime(reader.GetInt64(2), DateTimeKind.Utc),
                Period = TimeSpan.FromTicks(reader.GetInt64(3)),
                ETag = reader.GetInt64(4).ToString(CultureInfo.InvariantCulture),
            });
        }

        return entries;
    }
}
