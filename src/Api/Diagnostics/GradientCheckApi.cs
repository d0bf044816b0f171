using Api.Datasets;
using Api.Infrastructure;
using Api.Models;
using Engine;
using Engine.Data;
using Engine.Diagnostics;
using Engine.Specs;
using Engine.Tensors;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Storage;

namespace Api.Diagnostics;

public static class GradientCheckApi
{
    private const int MaxBatchSize = 64;
    private const int DefaultBatchSize = 8;

    public static IEndpointRouteBuilder MapGradientChecks(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/models").WithTags("Models");
        group.MapPost("/{id:long}/gradient-check", CheckModel).WithName("GradientCheckModel").ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        group.MapPost("/gradient-check", CheckSpec).WithName("GradientCheckSpec").ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        return app;
    }

    /// <summary>Backprop against central differences for a stored model's freshly initialized weights.</summary>
    /// <remarks>
    /// Per layer and parameter: max absolute and relative error over at most 64 sampled entries, and pass/fail.
    /// BatchNorm runs in training mode on the batch; Dropout uses one frozen mask for every pass.
    /// </remarks>
    internal static async Task<Results<Ok<GradientCheckDto>, ProblemHttpResult>> CheckModel(long id, GradientCheckRequest request,
        IDbContextFactory<TrainingDbContext> contexts, DatasetFiles files,
        Microsoft.Extensions.Options.IOptions<Api.Security.SecurityOptions> options, Api.Security.ModelWork work, HttpContext http, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var model = await db.Models.AsNoTracking().FirstOrDefaultAsync(m => m.Id == id, ct);
        if (model is null) return Problems.NotFound("model", id);
        return await RunAsync(StoredJson.ReadSpec(model.SpecJson), model.ParameterCount, "id", request.DatasetId, request.BatchSize,
            request.Seed, db, files, new Limits(options.Value, work, http), ct);
    }

    /// <summary>Backprop against central differences for an inline spec; nothing is stored.</summary>
    internal static async Task<Results<Ok<GradientCheckDto>, ProblemHttpResult>> CheckSpec(InlineGradientCheckRequest request,
        IDbContextFactory<TrainingDbContext> contexts, DatasetFiles files,
        Microsoft.Extensions.Options.IOptions<Api.Security.SecurityOptions> options, Api.Security.ModelWork work, HttpContext http, CancellationToken ct)
    {
        if (request.Spec is null) return Problems.Field("spec", "is required");
        var report = SpecValidator.Validate(request.Spec);
        if (!report.IsValid) return Problems.Spec(report.Errors, "spec");
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await RunAsync(request.Spec, report.TotalParameters, "spec", request.DatasetId, request.BatchSize, request.Seed, db, files, new Limits(options.Value, work, http), ct);
    }

    /// <summary>The settings and the shared limiter a gradient check is held to.</summary>
    private sealed record Limits(Api.Security.SecurityOptions Options, Api.Security.ModelWork Work, HttpContext Http);

    private static async Task<Results<Ok<GradientCheckDto>, ProblemHttpResult>> RunAsync(ModelSpec spec, long parameters, string specField,
        long? datasetId, int? batchSize, ulong? seed, TrainingDbContext db, DatasetFiles files, Limits limits, CancellationToken ct)
    {
        long maxParameters = limits.Options.MaxGradientCheckParameters;
        if (parameters > maxParameters)
            return Problems.Field(specField, $"the model has {parameters} parameters, more than the limit of {maxParameters} for a gradient check " +
                "(Security:MaxGradientCheckParameters)", StatusCodes.Status422UnprocessableEntity);
        if (datasetId is not { } dsId) return Problems.Field("datasetId", "is required");
        int size = batchSize ?? DefaultBatchSize;
        if (size is < 1 or > MaxBatchSize) return Problems.Field("batchSize", $"must be between 1 and {MaxBatchSize}");
        var row = await db.Datasets.AsNoTracking().FirstOrDefaultAsync(d => d.Id == dsId, ct);
        if (row is null) return Problems.NotFound("dataset", dsId, "datasetId");
        // The whole data set is read and a network built: one of the few requests that may run at once.
        var (lease, busy) = await limits.Work.Limiter.AcquireAsync(limits.Http, ct);
        if (busy is not null) return busy;
        using (lease) return await CheckAsync(spec, row, size, seed, files, ct);
    }

    private static async Task<Results<Ok<GradientCheckDto>, ProblemHttpResult>> CheckAsync(ModelSpec spec, Storage.Entities.Dataset row, int size,
        ulong? seed, DatasetFiles files, CancellationToken ct)
    {
        // Normalized exactly as the trainer would, so the check sees the activations training sees.
        var data = Normalization.Fit(files.Load(row), DatasetMapping.ParseNormalization(row.Normalization));
        var fitErrors = SpecValidator.CheckDataset(spec, data).ToList();
        if (fitErrors.Count > 0) return Problems.Errors(Problems.ToDictionary(fitErrors), StatusCodes.Status422UnprocessableEntity);

        var options = new GradientCheckOptions { Seed = seed ?? 1 };
        // CPU-bound for up to a few seconds: off the request thread.
        var result = await Task.Run(() =>
        {
            var rng = new Rng(options.Seed);
            var network = Network.Create(spec, rng.Clone());
            var order = Enumerable.Range(0, data.Count).ToArray();
            rng.Shuffle(order);
            return GradientChecker.Check(network, data.Subset(order.AsSpan(0, Math.Min(size, data.Count))), options);
        }, ct);
        return TypedResults.Ok(new GradientCheckDto(result.Passed,
            new GradientToleranceDto(result.AbsoluteTolerance, result.RelativeTolerance, options.Step, options.MaxEntriesPerParameter),
            result.BatchSize, result.Loss,
            [.. result.Results.Select(r => new GradientCheckEntryDto(r.LayerIndex, r.Layer, r.Parameter, r.Size,
                r.MaxAbsError, r.MaxRelError, r.Checked, r.Skipped, r.Passed))]));
    }
}
