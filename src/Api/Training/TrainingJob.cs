using System.Text.Json;
using Api.Datasets;
using Api.Infrastructure;
using Engine.Data;
using Engine.Training;
using Hangfire;
using Storage.Entities;

namespace Api.Training;

/// <summary>
/// Hangfire's entry point for one training job: takes the job's lease, maps the run's outcome to the job's status, and
/// trains it epoch by epoch (<see cref="EpochPipeline"/>): metrics are stored at every epoch end, a checkpoint every
/// <c>checkpointEvery</c> epochs (and at the best and the last epoch). A job that already has checkpoints continues
/// from the latest (<see cref="TrainingResume"/>), which is how resume, recovery after a crash and restarts all work.
/// </summary>
/// <remarks>
/// <para>Hangfire may run a job more than once, so a run trains only while it holds the job's lease
/// (<see cref="TrainingLeases"/>): a second run of the same job, on this node or another, finds it taken and does
/// nothing, while different jobs still run side by side up to Training:Concurrency.</para>
/// </remarks>
public sealed class TrainingJob(
    TrainingData data, TrainingResume resume, EpochWriter writer, FairShare fairShare, TrainingRegistry registry, JobEvents events,
    JobLifecycle lifecycle, TrainingLeases leases, TrainingQueue queue, ILogger<TrainingJob> logger)
{
    /// <summary>
    /// Hangfire's entry point. Returns when the job is done with (succeeded, failed, cancelled, or trained elsewhere), or
    /// when it yielded its slot to another owner's job (<see cref="FairShare"/>) and is queued again; throws
    /// <see cref="OperationCanceledException"/> when the service stops, so Hangfire never marks an interrupted run
    /// succeeded. Failed runs are final: no automatic retry.
    /// </summary>
    [AutomaticRetry(Attempts = 0)]
    [JobDisplayName("Train job {0}")]
    public async Task RunAsync(long jobId, CancellationToken cancellationToken)
    {
        using var turn = await registry.TakeTurnAsync(jobId, cancellationToken);
        using var activity = TrainingMetrics.Activities.StartActivity("train job");
        activity?.SetTag("job.id", jobId);
        activity?.SetTag("node.id", leases.NodeId);
        var run = await leases.TryTakeAsync(jobId, cancellationToken);
        if (run is null)
        {
            // The holder may be a node that was killed: its lease stops being renewed and expires, and then this comes back.
            if (await leases.RemainingWhileActiveAsync(jobId, cancellationToken) is { } left)
            {
                var delay = left + TimeSpan.FromSeconds(1);
                queue.Schedule(jobId, delay);
                logger.LogInformation("Job {JobId} is held by another run; this one looks again in {Seconds:0} s", jobId, delay.TotalSeconds);
            }
            else
            {
                logger.LogInformation("Job {JobId} is held by another run; this one leaves it", jobId);
            }
            return;
        }
        // Registered before the job is marked Running, so a cancel that finds it Running always reaches this run's token.
        var running = registry.Start(jobId, cancellationToken);
        bool yielded = false;
        try
        {
            var job = await lifecycle.MoveAsync(jobId, JobStatus.Running, JobLifecycle.Active, ct: cancellationToken);
            // Finished, cancelled or deleted since it was queued: nothing to do.
            if (job is null) return;
            yielded = await TrainHeldAsync(job, running, run, cancellationToken);
        }
        finally
        {
            registry.Remove(running);
            await leases.ReleaseAsync(jobId, run);
        }
        // After the lease is free, so the next run (on any node) can take it at once; behind the jobs already waiting.
        if (yielded) queue.Enqueue(jobId);
    }

    /// <returns>True when the job yielded its slot and is Queued again.</returns>
    private async Task<bool> TrainHeldAsync(Job job, RunningJob running, string run, CancellationToken cancellationToken)
    {
        var jobId = job.Id;
        using var keepAlive = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewing = KeepLeaseAsync(jobId, run, keepAlive.Token);
        try
        {
            return await TrainAsync(job, running, run);
        }
        catch (OperationCanceledException) when (running.CancelRequested)
        {
            // The cancel endpoint normally moved the job already; this covers a cancel racing the start.
            await lifecycle.MoveAsync(jobId, JobStatus.Cancelled, [JobStatus.Running]);
            return false;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutdown: the job stays Running and continues from its last checkpoint at the next start. Rethrown, so
            // Hangfire counts the run as interrupted, not succeeded.
            logger.LogInformation("Job {JobId} interrupted by shutdown; it resumes at the next start", jobId);
            throw;
        }
        catch (Exception e) when (e is TrainingDivergedException or InvalidTrainingStateException or DataFormatException
                                      or InvalidDataException or IOException or ArgumentException or JsonException)
        {
            await lifecycle.MoveAsync(jobId, JobStatus.Failed, [JobStatus.Running], e.Message);
            return false;
        }
        catch (Exception e)
        {
            logger.LogError(e, "Job {JobId} failed unexpectedly", jobId);
            await lifecycle.MoveAsync(jobId, JobStatus.Failed, [JobStatus.Running], $"internal error: {e.Message}");
            return false;
        }
        finally
        {
            await keepAlive.CancelAsync();
            await renewing;
            if (running.CancelRequested)
            {
                var (at, stopped) = (running.ProgressAtCancel, running.Progress);
                logger.LogInformation("Job {JobId} stopped by its cancel after epoch {Epoch} batch {Batch}: {After} batch(es) trained after the cancel",
                    jobId, stopped?.Epoch ?? 0, stopped?.Batch ?? 0, BatchIndex(stopped) - BatchIndex(at));
            }
        }
    }

    private static long BatchIndex(BatchProgress? p) => p is { } b ? (long)(b.Epoch - 1) * b.Batches + b.Batch : 0;

    /// <summary>Renews the lease every third of its duration, so an epoch longer than the lease does not lose it.</summary>
    private async Task KeepLeaseAsync(long jobId, string run, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(leases.Duration / 3);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
                if (!await leases.RenewAsync(jobId, run, ct))
                    logger.LogWarning("Job {JobId}: the lease of this run was taken over; its next epoch will not be stored", jobId);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // The epoch's transaction renews it too; a failed renewal here only shortens the margin.
            logger.LogWarning(e, "Job {JobId}: renewing its lease failed", jobId);
        }
    }

    /// <returns>True when the job yielded its slot and is Queued again.</returns>
    private async Task<bool> TrainAsync(Job job, RunningJob running, string run)
    {
        var spec = StoredJson.ReadSpec(job.SpecJson);
        var trainingOptions = StoredJson.ReadOptions(job.OptionsJson);
        var (train, validation) = await Task.Run(() => data.LoadAsync(job, spec), running.Token);
        var session = await resume.StartAsync(job, spec, trainingOptions, train, validation);
        logger.LogInformation("Job {JobId} training from epoch {Epoch} of {Epochs}", job.Id, session.CompletedEpochs, trainingOptions.Epochs);

        using var yieldAt = new CancellationTokenSource();
        using var pipeline = new EpochPipeline(session, job.Id, job.CheckpointEvery, job.StopAfterEpoch, running, yieldAt.Token, run, writer, events, logger);
        using var watchEnd = new CancellationTokenSource();
        var watching = fairShare.WatchAsync(job, yieldAt, watchEnd.Token);
        EpochPipeline.Outcome outcome;
        try
        {
            outcome = await pipeline.RunAsync();
        }
        finally
        {
            await watchEnd.CancelAsync();
            await watching;
        }
        switch (outcome)
        {
            case EpochPipeline.Outcome.Finished:
                // A search trial that reached its rung (and not its last epoch) pauses there until promoted or pruned.
                await lifecycle.MoveAsync(job.Id, session.IsFinished ? JobStatus.Succeeded : JobStatus.Paused, [JobStatus.Running],
                    earlyStopped: session.EarlyStopped);
                return false;
            case EpochPipeline.Outcome.Yielded:
                logger.LogInformation("Job {JobId} yielded its slot at epoch {Epoch} batch {Batch}; queued again behind the waiting jobs",
                    job.Id, session.CompletedEpochs + 1, session.BatchesDoneInEpoch);
                return await lifecycle.MoveAsync(job.Id, JobStatus.Queued, [JobStatus.Running]) is not null;
            default:
                // Cancelled or deleted meanwhile: whoever changed it announced it.
                return false;
        }
    }
}
