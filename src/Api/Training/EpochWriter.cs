using Engine.Training;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Storage;
using Storage.Entities;

namespace Api.Training;

/// <summary>An epoch's results, taken from the session (<see cref="TrainingSession.CaptureEpochEnd"/>) before the next epoch trains.</summary>
public sealed record EpochRecord(EpochMetrics Metrics, EpochCapture Capture);

/// <summary>
/// Stores one epoch of a run and announces it: the checkpoint's file, then one transaction with the job's progress, the
/// metrics, diagnostics and checkpoint rows, the pruned checkpoints and the lease renewed, then the events. Stored only
/// while the job is Running and the run holds its lease (<see cref="TrainingLeases"/>).
/// </summary>
public sealed class EpochWriter(
    IDbContextFactory<TrainingDbContext> contexts, CheckpointFiles checkpointFiles, JobEvents events, TrainingLeases leases,
    TrainingMetrics metrics, LayerStatsRecorder diagnostics, IOptions<WorkerOptions> options)
{
    /// <summary>
    /// Stores and announces one epoch while the next one trains; false when the job is no longer Running.
    /// Then, or when the write fails, it cancels <paramref name="stop"/>, so the epoch in progress ends at its next batch.
    /// </summary>
    public async Task<bool> StoreAsync(long jobId, string run, EpochRecord epoch, CancellationTokenSource stop)
    {
        try
        {
            if (!await RecordAsync(jobId, run, epoch))
            {
                stop.Cancel();
                return false;
            }
            await diagnostics.SendAsync(jobId, epoch.Metrics.Epoch, epoch.Capture.Diagnostics);
            return true;
        }
        catch
        {
            stop.Cancel();
            throw;
        }
    }

    /// <summary>
    /// Stores the state of a run that yields its slot between two batches (<see cref="FairShare"/>) as the job's newest
    /// checkpoint, marked with its batch, in place of an earlier yield's, and counts the yield; false when the job is no
    /// longer Running or the run lost its lease. Under the job's event lock, like an epoch, so a cancel either precedes it
    /// (and nothing is stored) or follows it.
    /// </summary>
    public async Task<bool> StoreYieldAsync(long jobId, string run, int completedEpochs, int batch, byte[] state, byte[] sha256)
    {
        string file = checkpointFiles.Write(jobId, completedEpochs, state);
        List<string>? superseded = null;
        try
        {
            await events.ExclusiveAsync(jobId, async () =>
            {
                await using var db = await contexts.CreateDbContextAsync();
                await using var tx = await db.Database.BeginTransactionAsync();
                var now = DateTime.UtcNow;
                var rows = await db.Jobs.Where(j => j.Id == jobId && j.Status == JobStatus.Running)
                    .ExecuteUpdateAsync(s => s.SetProperty(j => j.Yields, j => j.Yields + 1).SetProperty(j => j.UpdatedAt, now));
                if (rows == 0 || !await leases.RenewAsync(db, jobId, run)) return;
                var earlier = db.Checkpoints.Where(c => c.JobId == jobId && c.Batch != null);
                var files = await earlier.Select(c => c.FileName).ToListAsync();
                await earlier.ExecuteDeleteAsync();
                db.Checkpoints.Add(Checkpoints.Create(jobId, completedEpochs, file, state.LongLength, sha256, isBest: false, batch));
                await db.SaveChangesAsync();
                await tx.CommitAsync();
                superseded = files;
            });
        }
        finally
        {
            // Not committed: no row names the file.
            if (superseded is null) checkpointFiles.Delete([file]);
        }
        if (superseded is null) return false;
        checkpointFiles.Delete(superseded);
        return true;
    }

    /// <summary>Stores the epoch (and checkpoint) and announces it; false when the job is no longer Running.</summary>
    private async Task<bool> RecordAsync(long jobId, string run, EpochRecord epoch)
    {
        var (m, state) = (epoch.Metrics, epoch.Capture.State);
        metrics.EpochTrained(m.Seconds);
        // On disk before the row naming it commits, and outside the lock, which subscribers' history replays share.
        string? file = state is null ? null : checkpointFiles.Write(jobId, m.Epoch, state);
        bool recorded = false;
        List<string> pruned = [];
        try
        {
            await events.ExclusiveAsync(jobId, async () =>
            {
                if (await CommitAsync(jobId, run, epoch, file) is not { } stored) return;
                recorded = true;
                pruned = stored.Pruned;
                await events.EpochCompletedAsync(stored.Metric, stored.Committed);
            });
        }
        finally
        {
            // Not committed (the job was cancelled or deleted meanwhile, or the write failed): no row names the file.
            if (!recorded && file is not null) checkpointFiles.Delete([file]);
        }
        // After the event, which subscribers wait for; the rows naming these files are gone already.
        checkpointFiles.Delete(pruned);
        return recorded;
    }

    /// <summary>
    /// One transaction: the job's progress, the metrics, diagnostics and checkpoint rows, with the checkpoints pruning
    /// drops, and the lease renewed. Null when the job is no longer Running or the run lost its lease; else the commit time and the pruned checkpoints' files.
    /// </summary>
    private async Task<(EpochMetric Metric, DateTime Committed, List<string> Pruned)?> CommitAsync(long jobId, string run, EpochRecord epoch, string? file)
    {
        var m = epoch.Metrics;
        var capture = epoch.Capture;
        await using var db = await contexts.CreateDbContextAsync();
        await using var tx = await db.Database.BeginTransactionAsync();
        var now = DateTime.UtcNow;
        var rows = await db.Jobs.Where(j => j.Id == jobId && j.Status == JobStatus.Running)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.CurrentEpoch, m.Epoch).SetProperty(j => j.UpdatedAt, now));
        if (rows == 0 || !await leases.RenewAsync(db, jobId, run)) return null;
        var metric = new EpochMetric
        {
            JobId = jobId, Epoch = m.Epoch, TrainLoss = m.TrainLoss, TrainAccuracy = m.TrainAccuracy, ValLoss = m.ValLoss,
            ValAccuracy = m.ValAccuracy, LearningRate = m.LearningRate, Seconds = m.Seconds, SamplesPerSecond = m.SamplesPerSecond,
            IsBest = m.IsBest, CreatedAt = now,
        };
        db.EpochMetrics.Add(metric);
        LayerStatsRecorder.Add(db, jobId, m.Epoch, capture.Diagnostics);
        if (file is not null) db.Checkpoints.Add(Checkpoints.Create(jobId, m.Epoch, file, capture.State!.LongLength, capture.Sha256!, m.IsBest));
        await db.SaveChangesAsync();
        List<string> pruned = file is null ? [] : await Checkpoints.PruneAsync(db, jobId, options.Value.KeepCheckpoints, CancellationToken.None);
        await tx.CommitAsync();
        return (metric, DateTime.UtcNow, pruned);
    }
}
