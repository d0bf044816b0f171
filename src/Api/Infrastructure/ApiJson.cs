using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Json;

namespace Api.Infrastructure;

/// <summary>One JSON dialect for request bodies, responses, SignalR payloads and what is stored as JSON.</summary>
public static class ApiJson
{
    /// <summary>The options specs and training options are stored with, equal to the HTTP ones.</summary>
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions o)
    {
        // Pasted layer objects often put "type" after the other fields; without this they fail to bind.
        o.AllowOutOfOrderMetadataProperties = true;
        // Enums without their own names (statuses, normalization) read and write as camelCase words.
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        return o;
    }

    public static IServiceCollection AddApiJson(this IServiceCollection services)
    {
        services.Configure<JsonOptions>(o => Configure(o.SerializerOptions));
        return services;
    }
}
