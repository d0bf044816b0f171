using Api.Training;
using Engine.Specs;
using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;

namespace Api.Jobs;

/// <summary>
/// Builds <see cref="JobDto"/>s: stored state, metric aggregates (three queries per page, skipped for jobs
/// whose aggregates <see cref="JobViewCache"/> still holds) and live batch progress.
/// </summary>
internal static class JobViews
{
    public static async Task<JobDto> BuildAsync(TrainingDbContext db, Job job, TrainingRegistry registry, JobViewCache cache, CancellationToken ct) =>
        (await BuildAsync(db, [job], registry, cache, ct))[0];

    public static async Task<JobDto[]> BuildAsync(
        TrainingDbContext db, IReadOnlyList<Job> jobs, TrainingRegistry registry, JobViewCache cache, CancellationToken ct)
    {
        var found = new Dictionary<long, JobViewCache.Aggregates>();
        foreach (var j in jobs)
            if (cache.TryGetAggregates(j, out var cached)) found[j.Id] = cached;
        var ids = jobs.Where(j => !found.ContainsKey(j.Id)).Select(j => j.Id).ToList();
        if (ids.Count > 0)
        {
            var metrics = db.EpochMetrics.AsNoTracking().Where(m => ids.Contains(m.JobId));
            var meanSeconds = await metrics.GroupBy(m => m.JobId)
                .Select(g => new { JobId = g.Key, Mean = g.Average(m => m.Seconds) })
                .ToDictionaryAsync(x => x.JobId, x => x.Mean, ct);
            var best = await metrics.Where(m => m.IsBest).GroupBy(m => m.JobId)
                .Select(g => new { JobId = g.Key, Epoch = g.Max(m => m.Epoch) })
                .ToDictionaryAsync(x => x.JobId, x => x.Epoch, ct);
            var latest = await metrics
                .Where(m => m.Epoch == db.EpochMetrics.Where(x => x.JobId == m.JobId).Max(x => x.Epoch))
                .ToDictionaryAsync(m => m.JobId, ct);
            foreach (var j in jobs.Where(j => !found.ContainsKey(j.Id)))
                found[j.Id] = cache.SetAggregates(j, latest.GetValueOrDefault(j.Id), best.TryGetValue(j.Id, out var b) ? b : null,
                    meanSeconds.TryGetValue(j.Id, out var s) ? s : null);
        }
        return [.. jobs.Select(j => Build(j, found[j.Id], registry, cache))];
    }

    public static JobDto Build(Job j, JobViewCache.Aggregates a, TrainingRegistry registry, JobViewCache cache)
    {
        var (latest, bestEpoch, meanSeconds) = (a.Latest, a.BestEpoch, a.MeanSeconds);
        BatchDto? batch = null;
        double fraction = 0;
        if (j.Status == JobStatus.Running && registry.TryGet(j.Id, out var running) && running.Progress is { } p && p.Epoch == j.CurrentEpoch + 1)
        {
            batch = new BatchDto(p.Epoch, p.Batch, p.Batches, p.Loss);
            fraction = p.Batches == 0 ? 0 : (double)p.Batch / p.Batches;
        }
        double done = j.Status == JobStatus.Succeeded ? j.Epochs : Math.Min(j.Epochs, j.CurrentEpoch + fraction);
        double? eta = j.Status switch
        {
            JobStatus.Succeeded => 0,
            JobStatus.Running when meanSeconds is { } mean => Math.Max(0, mean * (j.Epochs - done)),
            _ => null,
        };
        var (options, spec) = cache.OptionsAndSpec(j);
        return new JobDto(
            j.Id, j.Name, j.Status, j.ModelId, j.DatasetId, j.ValidationDatasetId, j.CurrentEpoch, j.Epochs,
            j.Epochs == 0 ? 100 : Math.Round(100 * done / j.Epochs, 2), eta, j.Attempts, j.EarlyStopped, j.Error,
            latest?.AsDto(), bestEpoch, batch,
            options, j.CheckpointEvery, spec, j.CreatedAt, j.StartedAt, j.FinishedAt, j.Notice, j.ExperimentId, j.Yields);
    }
}
