using System.Text.Json;
using Api.Datasets;
using Api.Infrastructure;
using Api.Models;
using Api.Training;
using Engine.Specs;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;
using EngineDataset = Engine.Data.Dataset;

namespace Api.Jobs;

public static partial class JobsApi
{
    private const int MaxPageSize = 100;
    /// <summary>(page − 1) × pageSize stays far inside int: a huge page would overflow into page 1.</summary>
    private const int MaxPage = 1_000_000;

    /// <summary>The services the job endpoints use: the submitter shared with experiments, the view cache.</summary>
    public static WebApplicationBuilder AddJobs(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<JobSubmitter>();
        builder.Services.AddSingleton<JobViewCache>();
        return builder;
    }

    public static IEndpointRouteBuilder MapJobs(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/jobs").WithTags("Jobs");
        group.MapPost("/", Create).WithName("CreateJob").ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        group.MapGet("/", List).WithName("ListJobs").ProducesValidationProblem();
        group.MapGet("/{id:long}", Get).WithName("GetJob").ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/{id:long}/metrics", Metrics).WithName("GetJobMetrics").ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:long}/cancel", Cancel).WithName("CancelJob")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/{id:long}/resume", Resume).WithName("ResumeJob")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapDelete("/{id:long}", Delete).WithName("DeleteJob")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        MapResults(group);
        return app;
    }

    /// <summary>Submit a training job; it is queued and trained in the background.</summary>
    /// <remarks>
    /// Answers 202 with the job and its Location. Watch it with GET /jobs/{id} or over SignalR at /hubs/training.
    /// Option errors are 400 keyed by path (<c>optimizer.learningRate</c>, <c>epochs</c>); an unknown model or data set is
    /// 404; a model that does not fit the data (input width, classes) is 422.
    /// </remarks>
    internal static async Task<Results<Accepted<JobDto>, ProblemHttpResult>> Create(
        CreateJobRequest r, IDbContextFactory<TrainingDbContext> contexts, JobSubmitter submitter, TrainingRegistry registry,
        JobViewCache views, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var (job, problem) = await submitter.PrepareAsync(db, r, ct);
        if (job is null) return problem!;
        if (await submitter.SubmitAsync(db, [job], "status", ct) is { } full) return full;
        return TypedResults.Accepted($"/jobs/{job.Id}", await JobViews.BuildAsync(db, job, registry, views, ct));
    }

    /// <summary>List jobs, newest first, optionally only those with one status.</summary>
    /// <param name="status">queued, running, succeeded, failed, cancelled, paused (a search trial at a rung) or pruned.</param>
    /// <param name="page">1-based page number; default 1.</param>
    /// <param name="pageSize">Jobs per page, 1 to 100; default 20.</param>
    internal static async Task<Results<Ok<JobPage>, ProblemHttpResult>> List(
        IDbContextFactory<TrainingDbContext> contexts, TrainingRegistry registry, JobViewCache views, CancellationToken ct,
        string? status = null, int page = 1, int pageSize = 20)
    {
        JobStatus? filter = null;
        if (status is not null)
        {
            if (!Enum.TryParse<JobStatus>(status, ignoreCase: true, out var s) || int.TryParse(status, out _))
                return Problems.Field("status", "must be queued, running, succeeded, failed, cancelled, paused or pruned");
            filter = s;
        }
        if (page is < 1 or > MaxPage) return Problems.Field("page", $"must be between 1 and {MaxPage}");
        if (pageSize is < 1 or > MaxPageSize) return Problems.Field("pageSize", $"must be between 1 and {MaxPageSize}");
        await using var db = await contexts.CreateDbContextAsync(ct);
        var query = db.Jobs.AsNoTracking();
        if (filter is { } f) query = query.Where(j => j.Status == f);
        int total = await query.CountAsync(ct);
        var jobs = await query.OrderByDescending(j => j.Id).Skip((page - 1) * pageSize).Take(pageSize).ToListAsync(ct);
        return TypedResults.Ok(new JobPage(await JobViews.BuildAsync(db, jobs, registry, views, ct), page, pageSize, total));
    }

    /// <summary>Compiled once: the job poll is the hottest query, and this skips EF's per-call query-cache lookup.</summary>
    private static readonly Func<TrainingDbContext, long, Task<Job?>> JobById =
        EF.CompileAsyncQuery((TrainingDbContext db, long id) => db.Jobs.AsNoTracking().FirstOrDefault(j => j.Id == id));

    /// <summary>Get a job: status, epoch, progress %, ETA and the latest metrics.</summary>
    internal static async Task<Results<Ok<JobDto>, ProblemHttpResult>> Get(
        long id, IDbContextFactory<TrainingDbContext> contexts, TrainingRegistry registry, JobViewCache views, CancellationToken ct)
    {
        if (views.TryGetRow(id, out var kept) && views.TryGetAggregates(kept, out var aggregates))
            return TypedResults.Ok(JobViews.Build(kept, aggregates, registry, views));
        var stamp = views.RowStamp();
        await using var db = await contexts.CreateDbContextAsync(ct);
        var job = await JobById(db, id);
        if (job is null) return Problems.NotFound("job", id);
        views.SetRow(stamp, job);
        return TypedResults.Ok(await JobViews.BuildAsync(db, job, registry, views, ct));
    }

    /// <summary>Per-epoch metrics of a job, in epoch order.</summary>
    internal static async Task<Results<Ok<MetricDto[]>, ProblemHttpResult>> Metrics(
        long id, IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        if (!await db.Jobs.AnyAsync(j => j.Id == id, ct)) return Problems.NotFound("job", id);
        var rows = await db.EpochMetrics.AsNoTracking().Where(m => m.JobId == id).OrderBy(m => m.Epoch).ToListAsync(ct);
        return TypedResults.Ok(rows.Select(m => m.AsDto()).ToArray());
    }

    /// <summary>Cancel a queued or running job; a running one stops within one batch.</summary>
    /// <remarks>Epochs finished before the cancel keep their metrics and checkpoints; POST /jobs/{id}/resume continues from the last checkpoint.</remarks>
    internal static async Task<Results<Ok<JobDto>, ProblemHttpResult>> Cancel(
        long id, IDbContextFactory<TrainingDbContext> contexts, JobLifecycle lifecycle, TrainingRegistry registry,
        JobViewCache views, CancellationToken ct)
    {
        // A search trial paused at a rung can be cancelled too; its search then counts it out.
        var job = await lifecycle.MoveAsync(id, JobStatus.Cancelled, [.. JobLifecycle.Active, JobStatus.Paused], ct: ct);
        if (job is null) return await NotActive(id, contexts, "cancelled", ct);
        // The status is stored first, so a worker that stops now finds the job already Cancelled.
        registry.Cancel(id);
        await using var db = await contexts.CreateDbContextAsync(ct);
        return TypedResults.Ok(await JobViews.BuildAsync(db, job, registry, views, ct));
    }

    /// <summary>Continue a cancelled or failed job from its last checkpoint (from the start when it has none).</summary>
    internal static async Task<Results<Accepted<JobDto>, ProblemHttpResult>> Resume(
        long id, IDbContextFactory<TrainingDbContext> contexts, JobLifecycle lifecycle, TrainingRegistry registry,
        TrainingQueue queue, JobViewCache views, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var existing = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == id, ct);
        if (existing is null) return Problems.NotFound("job", id);
        if (existing.DatasetId is null) return Problems.Conflict("datasetId", "the job's training data set was deleted; it cannot be resumed");
        var job = await lifecycle.MoveAsync(id, JobStatus.Queued, [JobStatus.Cancelled, JobStatus.Failed], ct: ct);
        if (job is null) return await NotActive(id, contexts, "resumed", ct, onlyStopped: true);
        queue.Enqueue(id);
        return TypedResults.Accepted($"/jobs/{id}", await JobViews.BuildAsync(db, job, registry, views, ct));
    }

    /// <summary>Delete a finished job with its metrics and checkpoints. A queued or running job must be cancelled first (409).</summary>
    internal static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        long id, IDbContextFactory<TrainingDbContext> contexts, CheckpointFiles checkpointFiles, JobEvents events,
        JobViewCache views, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        int deleted = 0;
        await events.ExclusiveAsync(id, async () =>
            deleted = await db.Jobs.Where(j => j.Id == id && j.Status != JobStatus.Queued && j.Status != JobStatus.Running).ExecuteDeleteAsync(ct));
        if (deleted == 0) return await NotActive(id, contexts, "deleted", ct, mustBeFinished: true);
        // The rows went with the job (cascade); their files after them, so a failure here leaves only files the next start sweeps.
        checkpointFiles.DeleteJob(id);
        events.Forget(id);
        views.Forget(id);
        return TypedResults.NoContent();
    }

    /// <summary>404 for an unknown job, else 409 saying why the job is not in a state for <paramref name="verb"/>.</summary>
    private static async Task<ProblemHttpResult> NotActive(long id, IDbContextFactory<TrainingDbContext> contexts, string verb,
        CancellationToken ct, bool onlyStopped = false, bool mustBeFinished = false)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var status = await db.Jobs.Where(j => j.Id == id).Select(j => (JobStatus?)j.Status).FirstOrDefaultAsync(ct);
        if (status is null) return Problems.NotFound("job", id);
        var name = status.Value.ToString().ToLowerInvariant();
        var rule = onlyStopped ? "only a cancelled or failed job can be resumed"
            : mustBeFinished ? "cancel it first" : "only a queued, running or paused job can be cancelled";
        return Problems.Conflict("status", $"job {id} is {name} and cannot be {verb}: {rule}");
    }
}
