using System.Text.Json;
using System.Text.Json.Serialization;

namespace TrainingService.Contracts;

/// <summary>
/// The one JSON dialect of the service: request and response bodies, SignalR payloads and what it stores as JSON.
/// A client reads and writes the contracts with <see cref="Options"/>.
/// </summary>
public static class ServiceJson
{
    /// <summary>Web defaults (camelCase) configured by <see cref="Configure"/>.</summary>
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    /// <summary>Applies the dialect to options someone else owns (ASP.NET Core's, SignalR's).</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        // Pasted layer objects often put "type" after the other fields; without this they fail to bind.
        options.AllowOutOfOrderMetadataProperties = true;
        // Enums without their own names (statuses, normalization) read and write as camelCase words.
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        return options;
    }
}
