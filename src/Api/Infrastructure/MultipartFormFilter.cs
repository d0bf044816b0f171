using Api.Datasets;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Api.Infrastructure;

/// <summary>
/// Documents the upload endpoint's multipart form. Not done with <c>.Accepts&lt;T&gt;()</c>, because that also
/// makes routing answer a wrong content type with a bare 415 before the endpoint can name the problem.
/// </summary>
internal sealed class MultipartFormFilter : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.OperationId != "UploadDataset") return;
        var schema = context.SchemaGenerator.GenerateSchema(typeof(DatasetUploadForm), context.SchemaRepository);
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Content = new Dictionary<string, IOpenApiMediaType> { ["multipart/form-data"] = new OpenApiMediaType { Schema = schema } },
        };
    }
}
