using System.Text.Json;
using Api.Infrastructure;
using Api.Jobs;
using Api.Models;
using Api.Training;
using Engine.Specs;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;

namespace Api.Experiments;

public static class ExperimentsApi
{
    private const int MaxVariations = 16;

    public static IEndpointRouteBuilder MapExperiments(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/experiments").WithTags("Experiments");
        group.MapPost("/", Create).WithName("CreateExperiment").ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        group.MapGet("/", List).WithName("ListExperiments");
        group.MapGet("/{id:long}", Get).WithName("GetExperiment").ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    /// <summary>Queue one job per variation of a base job, all with the base's seed, data, epochs and batch size.</summary>
    /// <remarks>
    /// Every variation is validated before any job is queued; errors are keyed <c>variations[i]...</c>. The
    /// first epoch sees the same sample order in every job as long as the variation draws as many initial
    /// weights from the seed (optimizer, learning rate, weight decay, BatchNorm and dropout changes all do).
    /// </remarks>
    internal static async Task<Results<Accepted<ExperimentDto>, ProblemHttpResult>> Create(CreateExperimentRequest r,
        IDbContextFactory<TrainingDbContext> contexts, JobSubmitter submitter, CancellationToken ct)
    {
        if (r.BaseJob is not { } baseJob) return Problems.Field("baseJob", "is required");
        if (r.Name is { Length: > 200 }) return Problems.Field("name", "must be at most 200 characters");
        if (r.Variations is not { Length: > 0 and <= MaxVariations } variations)
            return Problems.Field("variations", $"must list 1 to {MaxVariations} variations");
        var errors = new Dictionary<string, string[]>();
        for (int i = 0; i < variations.Length; i++)
        {
            var name = variations[i].Name;
            if (string.IsNullOrWhiteSpace(name) || name.Length > 100) errors[$"variations[{i}].name"] = ["is required, at most 100 characters"];
            else if (variations.Take(i).Any(v => v.Name == name)) errors[$"variations[{i}].name"] = [$"'{name}' is used twice"];
        }
        if (errors.Count > 0) return Problems.Errors(errors);

        await using var db = await contexts.CreateDbContextAsync(ct);
        ModelSpec? baseSpec = baseJob.Spec;
        if (baseJob.ModelId is { } modelId && baseJob.Spec is null)
        {
            var model = await db.Models.AsNoTracking().FirstOrDefaultAsync(m => m.Id == modelId, ct);
            if (model is null) return Problems.NotFound("model", modelId, "baseJob.modelId");
            baseSpec = StoredJson.ReadSpec(model.SpecJson);
        }
        if (baseSpec is null || (baseJob.ModelId is not null && baseJob.Spec is not null))
            return Problems.Field("baseJob.modelId", "give modelId or spec, not both");

        var requests = new List<CreateJobRequest>();
        var parameters = new List<long>();
        var specErrors = new List<SpecError>();
        for (int i = 0; i < variations.Length; i++)
        {
            var v = variations[i];
            var spec = ExperimentVariations.Apply(baseSpec, v);
            var optimizer = baseJob.Optimizer ?? new OptimizerSpec();
            if (v.Optimizer is { } type) optimizer = optimizer with { Type = type };
            if (v.LearningRate is { } lr) optimizer = optimizer with { LearningRate = lr };
            var request = baseJob with
            {
                Name = Truncate($"{r.Name ?? "experiment"}: {v.Name}", 200), ModelId = null, Spec = spec, Optimizer = optimizer,
                WeightDecay = v.WeightDecay ?? baseJob.WeightDecay,
            };
            specErrors.AddRange(SpecValidator.Validate(spec).Errors.Select(e => e with { Path = Join($"variations[{i}].spec", e.Path) }));
            specErrors.AddRange(OptionsValidator.Validate(JobSubmitter.OptionsOf(request)).Select(e => e with { Path = Join($"variations[{i}]", e.Path) }));
            requests.Add(request);
        }
        if (specErrors.Count > 0) return Problems.Spec(specErrors);
        var jobs = new List<Job>();
        for (int i = 0; i < requests.Count; i++)
        {
            // All share model, data and the options checked above; they differ in size, so the cost is keyed per variation.
            var (job, problem) = await submitter.PrepareAsync(db, requests[i], ct, costField: $"variations[{i}]");
            if (job is null) return problem!;
            jobs.Add(job);
        }
        var experiment = new Experiment { Name = r.Name, RequestJson = JsonSerializer.Serialize(r, ApiJson.Options), CreatedAt = DateTime.UtcNow };
        db.Experiments.Add(experiment);
        await db.SaveChangesAsync(ct);
        for (int i = 0; i < jobs.Count; i++)
        {
            jobs[i].ExperimentId = experiment.Id;
            jobs[i].VariationName = variations[i].Name;
        }
        if (await submitter.SubmitAsync(db, jobs, "variations", ct) is { } full)
        {
            await db.Experiments.Where(e => e.Id == experiment.Id).ExecuteDeleteAsync(ct);
            return full;
        }
        return TypedResults.Accepted($"/experiments/{experiment.Id}", await BuildAsync(db, experiment, ct));
    }

    /// <summary>List experiments, newest first (at most 100), with their job counts.</summary>
    internal static async Task<Ok<ExperimentSummaryDto[]>> List(IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        // The owner filters on both sets keep the list and its counts to the caller's own rows.
        var rows = await db.Experiments.AsNoTracking().OrderByDescending(e => e.Id).Take(100)
            .Select(e => new ExperimentSummaryDto(e.Id, e.Name, e.CreatedAt, db.Jobs.Count(j => j.ExperimentId == e.Id)))
            .ToArrayAsync(ct);
        return TypedResults.Ok(rows);
    }

    /// <summary>Each variation's job with its status, final and best metrics and training time.</summary>
    internal static async Task<Results<Ok<ExperimentDto>, ProblemHttpResult>> Get(long id, IDbContextFactory<TrainingDbContext> contexts,
        CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var experiment = await db.Experiments.AsNoTracking().FirstOrDefaultAsync(e => e.Id == id, ct);
        return experiment is null ? Problems.NotFound("experiment", id) : TypedResults.Ok(await BuildAsync(db, experiment, ct));
    }

    private static async Task<ExperimentDto> BuildAsync(TrainingDbContext db, Experiment experiment, CancellationToken ct)
    {
        var jobs = await db.Jobs.AsNoTracking().Where(j => j.ExperimentId == experiment.Id).OrderBy(j => j.Id).ToListAsync(ct);
        var ids = jobs.Select(j => j.Id).ToList();
        var metrics = (await db.EpochMetrics.AsNoTracking().Where(m => ids.Contains(m.JobId)).ToListAsync(ct))
            .GroupBy(m => m.JobId).ToDictionary(g => g.Key, g => g.OrderBy(m => m.Epoch).ToList());
        return new ExperimentDto(experiment.Id, experiment.Name, experiment.CreatedAt, [.. jobs.Select(j =>
        {
            var list = metrics.GetValueOrDefault(j.Id) ?? [];
            var final = list.LastOrDefault();
            var best = list.LastOrDefault(m => m.IsBest);
            return new ExperimentJobDto(j.VariationName ?? "", j.Id, j.Status, j.CurrentEpoch, j.Epochs,
                final?.AsDto(), best?.AsDto(), list.Sum(m => m.Seconds));
        })]);
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length];

    private static string Join(string prefix, string path) =>
        path.Length == 0 ? prefix : path.StartsWith('[') ? prefix + path : $"{prefix}.{path}";
}
