using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Storage;
using Storage.Entities;

namespace Api.Training;

/// <summary>
/// Fair share between owners: a job that has trained for Training:TimeSliceSeconds while a job of another owner waits
/// (is <c>queued</c>) yields its slot at the next batch; it is checkpointed between two batches, queued again behind the
/// waiting jobs and continues exactly where it stopped. Jobs of one owner never yield to each other, so they run first in,
/// first out. Who waits is read from the database, so every node sharing it decides alike.
/// </summary>
public sealed class FairShare(IDbContextFactory<TrainingDbContext> contexts, IOptions<WorkerOptions> options, ILogger<FairShare> logger)
{
    /// <summary>How often a job past its slice looks again whether another owner waits.</summary>
    private static readonly TimeSpan Recheck = TimeSpan.FromSeconds(1);

    /// <summary>True when a job of an owner other than <paramref name="ownerId"/> is queued.</summary>
    public async Task<bool> OtherOwnersWaitingAsync(string ownerId, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Jobs.AnyAsync(j => j.Status == JobStatus.Queued && j.OwnerId != ownerId, ct);
    }

    /// <summary>
    /// Cancels <paramref name="yield"/> once the job has trained a time slice (from now) and another owner's job waits; returns
    /// then, or when <paramref name="ct"/> fires (the run ended). Does nothing when TimeSliceSeconds is 0.
    /// </summary>
    public async Task WatchAsync(Job job, CancellationTokenSource yield, CancellationToken ct)
    {
        int slice = options.Value.TimeSliceSeconds;
        if (slice <= 0) return;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(slice), ct);
            while (!await OthersWaitAsync(job, ct)) await Task.Delay(Recheck, ct);
            logger.LogInformation("Job {JobId} has trained its {Seconds} s slice and another owner's job waits: it yields at the next batch",
                job.Id, slice);
            await yield.CancelAsync();
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task<bool> OthersWaitAsync(Job job, CancellationToken ct)
    {
        try
        {
            return await OtherOwnersWaitingAsync(job.OwnerId, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The job trains on meanwhile; the next check may succeed.
            logger.LogWarning(e, "Job {JobId}: checking for other owners' waiting jobs failed", job.Id);
            return false;
        }
    }
}
