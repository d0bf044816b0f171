using Api.Datasets;
using Api.Infrastructure;
using Api.Security;
using Api.Training;
using Engine.Specs;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Storage;
using Storage.Entities;
using EngineDataset = Engine.Data.Dataset;

namespace Api.Jobs;

/// <summary>
/// How a job enters the queue, for POST /jobs and for every variation of POST /experiments: the request is checked
/// (its options, its spec or model, the data sets it names, the owner's cap), the row is inserted complete and its id
/// is handed to the scheduler.
/// </summary>
public sealed class JobSubmitter(TrainingQueue queue, IOptions<SecurityOptions> security, StorageQuota quota)
{
    /// <summary>The training options a request asks for; whatever it leaves out takes <see cref="TrainingOptions"/>' defaults.</summary>
    public static TrainingOptions OptionsOf(CreateJobRequest r)
    {
        var d = new TrainingOptions(r.Optimizer ?? new OptimizerSpec());
        return d with
        {
            Epochs = r.Epochs ?? d.Epochs, BatchSize = r.BatchSize ?? d.BatchSize, Seed = r.Seed ?? d.Seed,
            WeightDecay = r.WeightDecay ?? d.WeightDecay, ClipNorm = r.ClipNorm ?? d.ClipNorm, Schedule = r.Schedule ?? d.Schedule,
            EarlyStopping = r.EarlyStopping ?? d.EarlyStopping, ValidationSplit = r.ValidationSplit ?? d.ValidationSplit,
        };
    }

    /// <summary>
    /// Checks one request and builds its row, not yet stored: 400 keyed by the field for option and spec errors, 404 for
    /// an unknown model or data set, 422 for a model that does not fit the data or costs more than Security:MaxJobCost
    /// (keyed <paramref name="costField"/>).
    /// </summary>
    public async Task<(Job? Job, ProblemHttpResult? Problem)> PrepareAsync(TrainingDbContext db, CreateJobRequest r, CancellationToken ct,
        string costField = "epochs")
    {
        if (r.ModelId is not null && r.Spec is not null) return (null, Problems.Field("modelId", "give modelId or spec, not both"));
        if (r.ModelId is null && r.Spec is null) return (null, Problems.Field("modelId", "modelId or an inline spec is required"));
        if (r.DatasetId is not { } datasetId) return (null, Problems.Field("datasetId", "is required"));
        if (r.ValidationDatasetId is not null && r.ValidationSplit is > 0)
            return (null, Problems.Field("validationSplit", "give validationSplit or validationDatasetId, not both"));
        if (r.Name is { Length: > 200 }) return (null, Problems.Field("name", "must be at most 200 characters"));
        int checkpointEvery = r.CheckpointEvery ?? 1;
        if (checkpointEvery < 1) return (null, Problems.Field("checkpointEvery", "must be at least 1"));
        var options = OptionsOf(r);
        var optionErrors = OptionsValidator.Validate(options);
        if (optionErrors.Count > 0) return (null, Problems.Spec(optionErrors));

        ModelSpec spec;
        string? initialWeights = null;
        long parameters;
        if (r.Spec is not null)
        {
            var report = SpecValidator.Validate(r.Spec);
            if (!report.IsValid) return (null, Problems.Spec(report.Errors));
            spec = r.Spec;
            parameters = report.TotalParameters;
        }
        else
        {
            var model = await db.Models.AsNoTracking().FirstOrDefaultAsync(m => m.Id == r.ModelId, ct);
            if (model is null) return (null, Problems.NotFound("model", r.ModelId!.Value, "modelId"));
            spec = StoredJson.ReadSpec(model.SpecJson);
            initialWeights = model.WeightsSha256;
            parameters = model.ParameterCount;
        }
        var dataset = await db.Datasets.AsNoTracking().FirstOrDefaultAsync(d => d.Id == datasetId, ct);
        if (dataset is null) return (null, Problems.NotFound("dataset", datasetId, "datasetId"));
        var fitErrors = SpecValidator.CheckDataset(spec, Shape(dataset)).ToList();
        if (r.ValidationDatasetId is { } validationId)
        {
            var validation = await db.Datasets.AsNoTracking().FirstOrDefaultAsync(d => d.Id == validationId, ct);
            if (validation is null) return (null, Problems.NotFound("dataset", validationId, "validationDatasetId"));
            fitErrors.AddRange(SpecValidator.CheckDataset(spec, Shape(validation)).Select(e => e with { Path = "validationDatasetId" }));
        }
        if (fitErrors.Count > 0) return (null, Problems.Errors(Problems.ToDictionary(fitErrors), StatusCodes.Status422UnprocessableEntity));
        if (CostError(parameters, dataset.SampleCount, options.Epochs, security.Value.MaxJobCost) is { } tooCostly)
            return (null, Problems.Field(costField, tooCostly, StatusCodes.Status422UnprocessableEntity));

        var now = DateTime.UtcNow;
        return (new Job
        {
            Name = r.Name, ModelId = r.ModelId, DatasetId = datasetId, ValidationDatasetId = r.ValidationDatasetId,
            SpecJson = StoredJson.WriteSpec(spec), OptionsJson = StoredJson.WriteOptions(options),
            InitialWeightsSha256 = initialWeights,
            Epochs = options.Epochs, CheckpointEvery = checkpointEvery, Status = JobStatus.Queued, CreatedAt = now, UpdatedAt = now,
        }, null);
    }

    /// <summary>
    /// Inserts the prepared rows in one transaction and queues each, or answers 409 (keyed <paramref name="field"/>) when
    /// they would take the owner past <see cref="SecurityOptions.MaxActiveJobsPerOwner"/>: all of them or none.
    /// </summary>
    public async Task<ProblemHttpResult?> SubmitAsync(TrainingDbContext db, IReadOnlyList<Job> jobs, string field, CancellationToken ct)
    {
        if (await CheckRoomAsync(db, jobs.Count, field, ct) is { } full) return full;
        db.Jobs.AddRange(jobs);
        await db.SaveChangesAsync(ct);
        foreach (var job in jobs) queue.Enqueue(job.Id);
        return null;
    }

    /// <summary>
    /// 409 (keyed <paramref name="field"/>) when <paramref name="count"/> more active jobs would take the owner past
    /// <see cref="SecurityOptions.MaxActiveJobsPerOwner"/>, or the owner's storage is full; null when they fit.
    /// </summary>
    public async Task<ProblemHttpResult?> CheckRoomAsync(TrainingDbContext db, int count, string field, CancellationToken ct)
    {
        // New checkpoints would pass the owner's storage quota: refused before anything is queued.
        if (await quota.CheckNotFullAsync(db, "datasetId", ct) is { } full) return full;
        // 409, not 429: the owner's own queue is full, which waiting on a clock does not fix; cancelling does.
        // The context is scoped to the owner, so this counts only their jobs.
        int maxActive = security.Value.MaxActiveJobsPerOwner;
        int active = await db.Jobs.CountAsync(j => j.Status == JobStatus.Queued || j.Status == JobStatus.Running, ct);
        if (active + count > maxActive)
            return Problems.Conflict(field, $"{count} more job(s) would exceed your {maxActive} queued or running jobs " +
                $"(Security:MaxActiveJobsPerOwner; {active} now); cancel some or wait");
        return null;
    }

    /// <summary>Why a job of this size is refused (Security:MaxJobCost), or null when it is within the limit.</summary>
    internal static string? CostError(long parameters, int samples, int epochs, double maxCost)
    {
        double cost = (double)parameters * samples * epochs;
        return cost <= maxCost ? null
            : $"{parameters} parameters × {samples} samples × {epochs} epochs = {cost:G3}, more than the limit of {maxCost:G3} " +
              "per job (Security:MaxJobCost); use fewer epochs, a smaller model or less data";
    }

    /// <summary>
    /// An empty data set with the stored shape, classes and target width: enough for the engine's
    /// compatibility check without reading the file. The worker checks the real data again.
    /// </summary>
    private static EngineDataset Shape(Storage.Entities.Dataset d)
    {
        bool labels = d.Classes > 0 && d.TargetWidth == 1;
        return new EngineDataset([], DatasetMapping.ParseShape(d.Shape), 0, labels ? [] : null, labels ? null : [], d.TargetWidth, d.Classes);
    }
}
