using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Api.Infrastructure;

/// <summary>Endpoint metadata: the endpoint reads a multipart form shaped like <see cref="FormType"/> by hand.</summary>
public sealed record MultipartForm(Type FormType);

public static class MultipartFormExtensions
{
    /// <summary>Documents the endpoint's request body as a multipart form of <typeparamref name="TForm"/>.</summary>
    public static RouteHandlerBuilder DocumentMultipartForm<TForm>(this RouteHandlerBuilder builder) =>
        builder.WithMetadata(new MultipartForm(typeof(TForm)));
}

/// <summary>
/// Documents the multipart form of endpoints marked with <see cref="MultipartForm"/>. Not done with
/// <c>.Accepts&lt;T&gt;()</c>, because that also makes routing answer a wrong content type with a bare 415 before
/// the endpoint can name the problem.
/// </summary>
internal sealed class MultipartFormFilter : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        var form = context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<MultipartForm>().LastOrDefault();
        if (form is null) return;
        var schema = context.SchemaGenerator.GenerateSchema(form.FormType, context.SchemaRepository);
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Content = new Dictionary<string, IOpenApiMediaType> { ["multipart/form-data"] = new OpenApiMediaType { Schema = schema } },
        };
    }
}
