using System.Text.Json;
using System.Text.Json.Serialization;
using Orleans.Storage;

namespace StockGrains.Grains.Storage;

/// <summary>
/// The serializer of every stored snapshot and reservation state: System.Text.Json, camelCase, enums as
/// snake_case words, no .NET type names. Named explicitly because Orleans' default grain-storage JSON embeds type
/// names, which would tie stored rows to class names forever.
/// </summary>
public sealed class SnapshotSerializer : IGrainStorageSerializer
{
    public static readonly JsonSerializerOptions Options = CreateOptions();

    public BinaryData Serialize<T>(T? input) => BinaryData.FromBytes(JsonSerializer.SerializeToUtf8Bytes(input, Options));

    public T Deserialize<T>(BinaryData input) => input.ToObjectFromJson<T>(Options)!;

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
            WriteIndented = false,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        return options;
    }
}
