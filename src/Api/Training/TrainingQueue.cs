using Hangfire;

namespace Api.Training;

/// <summary>Puts training jobs on Hangfire's queue: one fire-and-forget Hangfire job per training run, naming the job's id.</summary>
/// <remarks>
/// The service database, not Hangfire, is the record of what must train: a Hangfire job whose training job is no longer
/// Queued or Running does nothing, and <see cref="TrainingRecovery"/> enqueues again what the database says is unfinished.
/// So a cancel or delete leaves any Hangfire job to run out harmlessly instead of racing to remove it.
/// </remarks>
public sealed class TrainingQueue(IBackgroundJobClient client)
{
    /// <summary>Trains (or continues) the job as soon as a worker is free; returns Hangfire's id for it.</summary>
    public string Enqueue(long jobId) => client.Enqueue<TrainingJob>(j => j.RunAsync(jobId, CancellationToken.None));

    /// <summary>Runs the job again after <paramref name="delay"/>: when another run's lease on it may have expired.</summary>
    public string Schedule(long jobId, TimeSpan delay) => client.Schedule<TrainingJob>(j => j.RunAsync(jobId, CancellationToken.None), delay);
}
