using System.Text.Json;
using Api.Infrastructure;
using Engine.Specs;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;

namespace Api.Models;

public static class ModelsApi
{
    private const int MaxNameLength = 200;
    private const int DefaultBatchSize = 32;

    public static IEndpointRouteBuilder MapModels(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/models").WithTags("Models");
        group.MapPost("/", Create).WithName("CreateModel")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        group.MapPost("/validate", Validate).WithName("ValidateModel")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        ModelImport.MapImport(group);
        group.MapGet("/", List).WithName("ListModels");
        group.MapGet("/{id:long}", Get).WithName("GetModel").ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/{id:long}", Delete).WithName("DeleteModel").ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    /// <summary>Create a model: the spec is validated and shape-inferred, and the parameter count returned.</summary>
    /// <remarks>
    /// A broken rule is 400 with <c>errors</c> keyed by the spec path (<c>layers[3].rate</c>); a spec that is
    /// well formed but over the size limits (parameters, layers, width) is 422.
    /// </remarks>
    internal static async Task<Results<Created<ModelDto>, ProblemHttpResult>> Create(
        CreateModelRequest request, IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(request.Name)) return Problems.Field("name", "is required");
        if (request.Name.Length > MaxNameLength) return Problems.Field("name", $"must be at most {MaxNameLength} characters");
        if (request.Spec is null) return Problems.Field("spec", "is required");
        var report = SpecValidator.Validate(request.Spec);
        if (!report.IsValid) return Problems.Spec(report.Errors);

        var row = new Model
        {
            Name = request.Name,
            SpecJson = StoredJson.WriteSpec(request.Spec),
            ParameterCount = report.TotalParameters,
            OutputShape = JsonSerializer.Serialize(report.OutputShape),
            CreatedAt = DateTime.UtcNow,
        };
        await using var db = await contexts.CreateDbContextAsync(ct);
        db.Models.Add(row);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/models/{row.Id}", new ModelDto(row.Id, row.Name, request.Spec, report.TotalParameters,
            report.OutputShape, report.Layers.AsDto(), row.CreatedAt));
    }

    /// <summary>Dry run: per-layer output shapes, parameter counts and a training memory estimate, nothing stored.</summary>
    /// <remarks>An invalid spec is 400 with <c>errors</c> keyed by path and, in <c>layers</c>, the layers inferred before the first error.</remarks>
    internal static Results<Ok<SpecReportDto>, ProblemHttpResult> Validate(ValidateModelRequest request)
    {
        if (request.Spec is null) return Problems.Field("spec", "is required");
        int batchSize = request.BatchSize ?? DefaultBatchSize;
        if (batchSize < 1) return Problems.Field("batchSize", "must be at least 1");
        var report = SpecValidator.Validate(request.Spec);
        if (report.IsValid) return TypedResults.Ok(report.AsDto(batchSize));
        var problem = Problems.Spec(report.Errors);
        problem.ProblemDetails.Extensions["layers"] = report.Layers.AsDto();
        return problem;
    }

    /// <summary>List models, oldest first.</summary>
    internal static async Task<Ok<ModelDto[]>> List(IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Models.AsNoTracking().OrderBy(m => m.Id).ToListAsync(ct);
        return TypedResults.Ok(rows.Select(m => m.AsDto()).ToArray());
    }

    /// <summary>Get one model with its spec and inferred layer shapes.</summary>
    internal static async Task<Results<Ok<ModelDto>, ProblemHttpResult>> Get(long id, IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var row = await db.Models.AsNoTracking().FirstOrDefaultAsync(m => m.Id == id, ct);
        return row is null ? Problems.NotFound("model", id) : TypedResults.Ok(row.AsDto());
    }

    /// <summary>Delete a model. Jobs keep their own copy of the spec, so they are unaffected.</summary>
    internal static async Task<Results<NoContent, ProblemHttpResult>> Delete(long id, IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Models.Where(m => m.Id == id).ExecuteDeleteAsync(ct) == 0
            ? Problems.NotFound("model", id)
            : TypedResults.NoContent();
    }
}
