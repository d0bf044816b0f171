using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;

namespace Api.Infrastructure;

/// <summary>The contracts' JSON dialect (<see cref="ServiceJson"/>) for request bodies, responses, SignalR payloads and stored JSON.</summary>
public static class ApiJson
{
    /// <summary>The options specs and training options are stored with, equal to the HTTP ones.</summary>
    public static JsonSerializerOptions Options => ServiceJson.Options;

    public static JsonSerializerOptions Configure(JsonSerializerOptions o) => ServiceJson.Configure(o);

    public static IServiceCollection AddApiJson(this IServiceCollection services)
    {
        services.Configure<JsonOptions>(o => Configure(o.SerializerOptions));
        return services;
    }
}
