using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;

namespace Api.Training;

/// <summary>
/// Every status change of a job, made as a guarded UPDATE (only from the expected statuses), so the
/// worker and the cancel/resume endpoints can race without a lost or reversed transition. A change that
/// happens is announced as JobStatusChanged under the job's event lock.
/// </summary>
public sealed class JobLifecycle(IDbContextFactory<TrainingDbContext> contexts, JobEvents events, IEnumerable<IJobStatusObserver> observers)
{
    public static readonly JobStatus[] Active = [JobStatus.Queued, JobStatus.Running];

    /// <summary>The job after the change, or null when it was not in one of <paramref name="from"/> (or does not exist).</summary>
    public async Task<Job?> MoveAsync(long jobId, JobStatus to, JobStatus[] from, string? error = null, bool earlyStopped = false,
        CancellationToken ct = default)
    {
        Job? changed = null;
        await events.ExclusiveAsync(jobId, async () =>
        {
            await using var db = await contexts.CreateDbContextAsync(ct);
            var now = DateTime.UtcNow;
            bool terminal = to is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled;
            var rows = await db.Jobs.Where(j => j.Id == jobId && from.Contains(j.Status)).ExecuteUpdateAsync(s =>
            {
                s.SetProperty(j => j.Status, to);
                s.SetProperty(j => j.Error, error);
                s.SetProperty(j => j.UpdatedAt, now);
                s.SetProperty(j => j.FinishedAt, terminal ? now : null);
                s.SetProperty(j => j.EarlyStopped, earlyStopped);
                if (to == JobStatus.Running)
                {
                    s.SetProperty(j => j.Attempts, j => j.Attempts + 1);
                    s.SetProperty(j => j.StartedAt, j => j.StartedAt ?? now);
                }
            }, ct);
            if (rows == 0) return;
            changed = await db.Jobs.AsNoTracking().FirstAsync(j => j.Id == jobId, ct);
            await events.StatusChangedAsync(changed);
        });
        if (changed is not null)
            foreach (var observer in observers) await observer.StatusChangedAsync(changed);
        return changed;
    }
}
