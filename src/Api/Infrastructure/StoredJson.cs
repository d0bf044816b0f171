using System.Text.Json;
using Engine.Specs;

namespace Api.Infrastructure;

/// <summary>
/// The one place that reads and writes the JSON stored in rows: a model's or job's spec (<c>SpecJson</c>) and a job's
/// training options (<c>OptionsJson</c>), in the service's JSON dialect.
/// </summary>
public static class StoredJson
{
    public static ModelSpec ReadSpec(string json) =>
        JsonSerializer.Deserialize<ModelSpec>(json, ApiJson.Options) ?? throw new InvalidDataException("The stored spec is empty.");

    public static string WriteSpec(ModelSpec spec) => JsonSerializer.Serialize(spec, ApiJson.Options);

    public static TrainingOptions ReadOptions(string json) =>
        JsonSerializer.Deserialize<TrainingOptions>(json, ApiJson.Options) ?? throw new InvalidDataException("The stored training options are empty.");

    public static string WriteOptions(TrainingOptions options) => JsonSerializer.Serialize(options, ApiJson.Options);
}
