using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Engine.Specs;
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
        // LayerSpec.TypeName is [JsonIgnore] on the base only, so the overrides would echo it as "typeName"
        // beside the real discriminator "type".
        o.TypeInfoResolver = (o.TypeInfoResolver ?? new DefaultJsonTypeInfoResolver()).WithAddedModifier(HideLayerTypeName);
        return o;
    }

    private static void HideLayerTypeName(JsonTypeInfo info)
    {
        if (!typeof(LayerSpec).IsAssignableFrom(info.Type) || info.Kind != JsonTypeInfoKind.Object) return;
        for (int i = info.Properties.Count - 1; i >= 0; i--)
            if (info.Properties[i].Name == "typeName") info.Properties.RemoveAt(i);
    }

    public static IServiceCollection AddApiJson(this IServiceCollection services)
    {
        services.Configure<JsonOptions>(o => Configure(o.SerializerOptions));
        return services;
    }
}
