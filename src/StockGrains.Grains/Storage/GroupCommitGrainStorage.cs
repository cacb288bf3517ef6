using System.Globalization;
using Orleans.Storage;

namespace StockGrains.Grains.Storage;

/// <summary>
/// Grain storage whose writes go through the ledger's silo-wide writers: the states of many grains, and the ledger
/// appends of many lines, share each writer's transactions and commits. Order reservations use it. Through Orleans' own
/// ADO.NET storage every order write was a transaction of its own, so orders were capped at the database's commit
/// rate, whatever the stock lines could do. Orders stored there before this storage existed were moved over by the
/// schema script that created its table (<c>*-005-grain-states.sql</c>).
/// <para>
/// A write names the version its grain read and fails with <see cref="InconsistentStateException"/> unless the stored
/// state is still at that version, so a second activation can never write over the first. A write completes only
/// after its commit.
/// </para>
/// </summary>
public sealed class GroupCommitGrainStorage(ILedgerStore store, IGrainStorageSerializer serializer) : IGrainStorage
{
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var stored = await store.ReadGrainStateAsync(Id(stateName, grainId));
        grainState.ETag = stored?.Version.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = stored?.Payload is not null;
        grainState.State = stored?.Payload is { } payload ? serializer.Deserialize<T>(BinaryData.FromBytes(payload)) : Activator.CreateInstance<T>();
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        StoreAsync(stateName, grainId, grainState, serializer.Serialize(grainState.State).ToArray());

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await StoreAsync(stateName, grainId, grainState, null);
        grainState.State = Activator.CreateInstance<T>();
    }

    private async Task StoreAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, byte[]? payload)
    {
        long? expected = grainState.ETag is null ? null : long.Parse(grainState.ETag, CultureInfo.InvariantCulture);
        try
        {
            var version = await store.WriteGrainStateAsync(Id(stateName, grainId), expected, payload);
            grainState.ETag = version.ToString(CultureInfo.InvariantCulture);
            grainState.RecordExists = payload is not null;
        }
        catch (GrainStateConflictException ex)
        {
            throw new InconsistentStateException(ex.Message, grainState.ETag ?? "", "unknown", ex);
        }
    }

    /// <summary>The stored identity: the state's name and the grain's id (<c>reservation/reservation/{key}</c>), both stable.</summary>
    private static string Id(string stateName, GrainId grainId) => $"{stateName}/{grainId}";
}
