using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Storage;

namespace StockGrains.Grains.Storage;

/// <summary>
/// Orleans grain storage on the embedded SQLite file, with optimistic concurrency: the ETag is the row's version, a
/// first write inserts (and fails if another writer inserted first), later writes update only the version they read.
/// </summary>
public sealed class SqliteGrainStorage(SqliteDatabase database, IOptions<ClusterOptions> cluster) : IGrainStorage
{
    private readonly string _serviceId = cluster.Value.ServiceId;
    private readonly SnapshotSerializer _serializer = new();

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await using var connection = await database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT version, payload FROM grain_state WHERE service_id = $s AND grain_id = $g AND state_name = $n";
        Identify(command, stateName, grainId);
        await using var reader = await command.ExecuteReaderAsync();
        if (await reader.ReadAsync())
        {
            grainState.ETag = reader.GetInt64(0).ToString(CultureInfo.InvariantCulture);
            grainState.State = _serializer.Deserialize<T>(BinaryData.FromString(reader.GetString(1)));
            grainState.RecordExists = true;
        }
        else
        {
            grainState.ETag = null;
            grainState.State = Activator.CreateInstance<T>();
            grainState.RecordExists = false;
        }
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var payload = _serializer.Serialize(grainState.State).ToString();
        await using var connection = await database.OpenWriterAsync();
        await using var command = connection.CreateCommand();
        Identify(command, stateName, grainId);
        command.Parameters.AddWithValue("$p", payload);
        command.Parameters.AddWithValue("$t", DateTimeOffset.UtcNow.UtcTicks);
        long version;
        if (grainState.ETag is null)
        {
            command.CommandText =
                "INSERT INTO grain_state (service_id, grain_id, state_name, version, payload, updated_at_ticks) VALUES ($s, $g, $n, 1, $p, $t)";
            try
            {
                await command.ExecuteNonQueryAsync();
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
            {
                throw new InconsistentStateException($"State {stateName} of {grainId} was written first by another activation.", "", "");
            }

            version = 1;
        }
        else
        {
            var expected = long.Parse(grainState.ETag, CultureInfo.InvariantCulture);
            command.CommandText =
                "UPDATE grain_state SET version = version + 1, payload = $p, updated_at_ticks = $t " +
                "WHERE service_id = $s AND grain_id = $g AND state_name = $n AND version = $v";
            command.Parameters.AddWithValue("$v", expected);
            if (await command.ExecuteNonQueryAsync() != 1)
            {
                throw new InconsistentStateException($"State {stateName} of {grainId} changed since version {expected}.", "", grainState.ETag);
            }

            version = expected + 1;
        }

        grainState.ETag = version.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await using var connection = await database.OpenWriterAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM grain_state WHERE service_id = $s AND grain_id = $g AND state_name = $n AND version = $v";
        Identify(command, stateName, grainId);
        command.Parameters.AddWithValue("$v", grainState.ETag is null ? 0 : long.Parse(grainState.ETag, CultureInfo.InvariantCulture));
        if (grainState.ETag is not null && await command.ExecuteNonQueryAsync() != 1)
        {
            throw new InconsistentStateException($"State {stateName} of {grainId} changed since version {grainState.ETag}.", "", grainState.ETag);
        }

        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
    }

    private void Identify(SqliteCommand command, string stateName, GrainId grainId)
    {
        command.Parameters.AddWithValue("$s", _serviceId);
        command.Parameters.AddWithValue("$g", grainId.ToString());
        command.Parameters.AddWithValue("$n", stateName);
    }
}
