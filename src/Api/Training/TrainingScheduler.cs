using Quartz;

namespace Api.Training;

/// <summary>Puts training jobs on the Quartz scheduler: one Quartz job per training job, keyed by its id.</summary>
public sealed class TrainingScheduler(ISchedulerFactory factory, ILogger<TrainingScheduler> logger)
{
    public const string Group = "training";

    public static JobKey KeyOf(long jobId) => new($"job-{jobId}", Group);

    /// <summary>
    /// Fires <see cref="TrainingJob"/> for the job as soon as a worker is free. The Quartz job asks for
    /// recovery, so a process killed mid-training re-fires it at the next start.
    /// </summary>
    public async Task EnqueueAsync(long jobId, CancellationToken ct)
    {
        var scheduler = await factory.GetScheduler(ct);
        var job = JobBuilder.Create<TrainingJob>()
            .WithIdentity(KeyOf(jobId))
            // A string, so the value reads back the same whatever the store's serializer does with numbers.
            .UsingJobData(TrainingJob.JobIdKey, jobId.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .RequestRecovery()
            .Build();
        var trigger = TriggerBuilder.Create()
            .WithIdentity($"job-{jobId}-{Guid.NewGuid():N}", Group)
            .ForJob(job.Key)
            .StartNow()
            .Build();
        await scheduler.ScheduleJob(job, [trigger], new ScheduleJobOptions { Replace = true }, ct);
    }

    /// <summary>Whether the job has a trigger waiting to fire.</summary>
    public async Task<bool> IsPendingAsync(long jobId, CancellationToken ct)
    {
        var scheduler = await factory.GetScheduler(ct);
        return (await scheduler.GetTriggersOfJob(KeyOf(jobId), ct)).Count > 0;
    }

    /// <summary>Removes the job's Quartz job and triggers; a running execution is stopped through the registry instead.</summary>
    public async Task RemoveAsync(long jobId, CancellationToken ct)
    {
        var scheduler = await factory.GetScheduler(ct);
        try
        {
            await scheduler.DeleteJob(KeyOf(jobId), ct);
        }
        catch (SchedulerException e)
        {
            // Quartz cannot unschedule a trigger that is firing. Asking whether the job still runs would race:
            // the cancel that calls this stops the worker within a batch, usually before Quartz has completed
            // the trigger. Quartz drops the non-durable job when the trigger completes, and a leftover trigger
            // is harmless anyway: the worker only trains a job the database still calls queued or running.
            logger.LogDebug(e, "Quartz job of training job {JobId} not deleted now; it goes when its trigger completes", jobId);
        }
    }
}
