using System.Reflection;
using Engine.Specs;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Api.Infrastructure;

/// <summary>Swagger document and UI: XML comments, layer specs as oneOf on <c>type</c>, pasteable request examples.</summary>
public static class ApiDocs
{
    public static IServiceCollection AddApiDocs(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "Neural-network training service",
                Version = "v1",
                Description = "Upload or generate data sets, define models, train them as background jobs, watch progress " +
                              "over SignalR at /hubs/training, download weights and predict. Errors are application/problem+json.",
            });
            // The API's own comments, and the engine's for the spec and option records it exposes.
            o.IncludeXmlComments(Assembly.GetExecutingAssembly());
            o.IncludeXmlComments(typeof(ModelSpec).Assembly);
            o.SupportNonNullableReferenceTypes();
            // LayerSpec is [JsonPolymorphic] on "type": describe it as oneOf with that discriminator.
            o.UseOneOfForPolymorphism();
            o.SelectDiscriminatorNameUsing(t => t == typeof(LayerSpec) ? "type" : null);
            o.SelectDiscriminatorValueUsing(t => t.GetCustomAttributes<System.Text.Json.Serialization.JsonDerivedTypeAttribute>(false)
                .Select(a => a.TypeDiscriminator as string).FirstOrDefault() ?? DiscriminatorOf(t));
            o.CustomSchemaIds(t => t.Name);
            // Swagger UI's Authorize button: the key is sent as X-Api-Key with every "Try it out".
            o.AddSecurityDefinition("ApiKey", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = "X-Api-Key",
                Description = "An API key (the first admin key is in <DataDirectory>/admin.key). See the README, Security.",
            });
            o.AddSecurityRequirement(document => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("ApiKey", document)] = [] });
            o.OperationFilter<RequestExamplesFilter>();
            o.OperationFilter<MultipartFormFilter>();
        });
        // Swashbuckle would otherwise describe MVC's JSON options, not the ones minimal APIs serialize with.
        services.AddTransient<ISerializerDataContractResolver>(sp =>
            new JsonSerializerDataContractResolver(sp.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions));
        return services;
    }

    public static WebApplication UseApiDocs(this WebApplication app)
    {
        app.UseSwagger();
        app.UseSwaggerUI(o => o.SwaggerEndpoint("/swagger/v1/swagger.json", "v1"));
        return app;
    }

    /// <summary>The discriminator a derived layer type is registered with on <see cref="LayerSpec"/>.</summary>
    private static string? DiscriminatorOf(Type t) => typeof(LayerSpec)
        .GetCustomAttributes<System.Text.Json.Serialization.JsonDerivedTypeAttribute>(false)
        .Where(a => a.DerivedType == t).Select(a => a.TypeDiscriminator as string).FirstOrDefault();
}
