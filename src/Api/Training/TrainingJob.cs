using System.Text.Json;
using Api.Datasets;
using Api.Infrastructure;
using Api.Models;
using Engine.Data;
using Engine.Specs;
using Engine.Training;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Hangfire;
using Storage;
using Storage.Entities;
using Dataset = Engine.Data.Dataset;

namespace Api.Training;

/// <summary>
/// Trains one job, epoch by epoch: metrics are stored at every epoch end, a checkpoint every
/// <c>checkpointEvery</c> epochs (and at the best and the last epoch). A job that already has checkpoints
/// continues from the latest, which is how resume, recovery after a crash and restarts all work.
/// </summary>
/// <remarks>
/// <para>An epoch's write runs while the next epoch trains (the engine alone is the speed target): at the epoch end
/// only the state and the diagnostics are taken from the network; the state's file, the transaction and the events
/// follow concurrently, one epoch at a time and in order. The job succeeds only after the last write.</para>
/// <para>Hangfire may run a job more than once, so a run trains only while it holds the job's lease
/// (<see cref="TrainingLeases"/>): a second run of the same job, on this node or another, finds it taken and does
/// nothing, while different jobs still run side by side up to Training:Concurrency.</para>
/// </remarks>
public sealed class TrainingJob(
    IDbContextFactory<TrainingDbContext> contexts, DatasetFiles datasets, CheckpointFiles checkpointFiles, WeightFiles weightFiles,
    TrainingRegistry registry, JobEvents events, JobLifecycle lifecycle, TrainingLeases leases, TrainingQueue queue, TrainingMetrics metrics,
    IOptions<WorkerOptions> options, ILogger<TrainingJob> logger, LayerStatsRecorder diagnostics)
{
    /// <summary>
    /// Hangfire's entry point. Returns when the job is done with (succeeded, failed, cancelled, or trained elsewhere);
    /// throws <see cref="OperationCanceledException"/> when the service stops, so Hangfire never marks an interrupted
    /// run succeeded. Failed runs are final: no automatic retry.
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
        try
        {
            var job = await lifecycle.MoveAsync(jobId, JobStatus.Running, JobLifecycle.Active, ct: cancellationToken);
            // Finished, cancelled or deleted since it was queued: nothing to do.
            if (job is null) return;
            await TrainHeldAsync(job, running, run, cancellationToken);
        }
        finally
        {
            registry.Remove(running);
            await leases.ReleaseAsync(jobId, run);
        }
    }

    private async Task TrainHeldAsync(Job job, RunningJob running, string run, CancellationToken cancellationToken)
    {
        var jobId = job.Id;
        using var keepAlive = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewing = KeepLeaseAsync(jobId, run, keepAlive.Token);
        try
        {
            await TrainAsync(job, running, run);
        }
        catch (OperationCanceledException) when (running.CancelRequested)
        {
            // The cancel endpoint normally moved the job already; this covers a cancel racing the start.
            await lifecycle.MoveAsync(jobId, JobStatus.Cancelled, [JobStatus.Running]);
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
        }
        catch (Exception e)
        {
            logger.LogError(e, "Job {JobId} failed unexpectedly", jobId);
            await lifecycle.MoveAsync(jobId, JobStatus.Failed, [JobStatus.Running], $"internal error: {e.Message}");
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

    private async Task TrainAsync(Job job, RunningJob running, string run)
    {
        var spec = StoredJson.ReadSpec(job.SpecJson);
        var trainingOptions = StoredJson.ReadOptions(job.OptionsJson);
        var (train, validation) = await Task.Run(() => LoadDataAsync(job, spec), running.Token);

        TrainingSession session;
        await using (var db = await contexts.CreateDbContextAsync())
        {
            var (state, notice) = await LatestIntactCheckpointAsync(db, job.Id);
            if (notice is not null)
            {
                logger.LogWarning("Job {JobId}: {Notice}", job.Id, notice);
                await db.Jobs.Where(j => j.Id == job.Id).ExecuteUpdateAsync(s => s.SetProperty(j => j.Notice, notice));
            }
            session = state is null
                ? TrainingSession.Create(spec, trainingOptions, train, validation)
                : TrainingSession.Restore(state, trainingOptions, train, validation);
            // A model imported from elsewhere starts from its weights; once a checkpoint exists, that carries them.
            if (state is null && job.InitialWeightsSha256 is { } sha256) ImportInitialWeights(session.Network, sha256);
            // Epochs after the checkpoint are trained again (identically: the state includes the RNG), so
            // their old rows go; the unique (job, epoch) index would refuse them otherwise.
            int done = session.CompletedEpochs;
            await db.EpochMetrics.Where(m => m.JobId == job.Id && m.Epoch > done).ExecuteDeleteAsync();
            await db.LayerStats.Where(s => s.JobId == job.Id && s.Epoch > done).ExecuteDeleteAsync();
            var later = db.Checkpoints.Where(c => c.JobId == job.Id && c.Epoch > done);
            var laterFiles = await later.Select(c => c.FileName).ToListAsync();
            await later.ExecuteDeleteAsync();
            checkpointFiles.Delete(laterFiles);
            await db.Jobs.Where(j => j.Id == job.Id).ExecuteUpdateAsync(s => s.SetProperty(j => j.CurrentEpoch, done));
        }
        logger.LogInformation("Job {JobId} training from epoch {Epoch} of {Epochs}", job.Id, session.CompletedEpochs, trainingOptions.Epochs);

        var probe = Engine.Diagnostics.DiagnosticsProbe.From(session.TrainData);
        // Fires with the job's token, and also when the previous epoch's write finds the job no longer Running
        // (or fails): then the epoch in progress stops at its next batch rather than training for nothing.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(running.Token);
        // The previous epoch's write (metrics, checkpoint, diagnostics, events), under way while the next epoch
        // trains. At most one at a time, started in epoch order, so epochs are stored and announced in order.
        var previous = Stored;
        byte[]? previousState = null;
        try
        {
            // One thread trains the job's epochs back to back, at the training priority: a new thread per epoch cost
            // 0.3 ms, and up to 8 ms when the cores were busy, between every two epochs.
            bool stored = await Task.Factory.StartNew(TrainEpochs, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (!stored) return; // Cancelled or deleted meanwhile: whoever changed it announced it.
        }
        finally
        {
            // Leaving early (cancel, shutdown, a failure in training): the write under way still commits or rolls back
            // as a whole (a kill meanwhile leaves the previous checkpoint). Awaited, so nothing of this run is stored
            // after it has ended and a resume never overlaps it.
            try
            {
                await previous;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Job {JobId}: storing an epoch failed while training stopped", job.Id);
            }
        }
        await lifecycle.MoveAsync(job.Id, session.IsFinished ? JobStatus.Succeeded : JobStatus.Paused, [JobStatus.Running], earlyStopped: session.EarlyStopped);

        // A search trial pauses at its rung (StopAfterEpoch) with a checkpoint there; a promotion continues it from that.
        bool AtStop() => session.CompletedEpochs >= job.StopAfterEpoch;

        // False when a write found the job no longer Running (cancelled or deleted), so the training stops.
        bool TrainEpochs()
        {
            // Named for operators (top -H, /proc/<pid>/task/*/comm): which thread trains which job.
            Thread.CurrentThread.Name = $"train-job-{job.Id}";
            ComputePriority.LowerCurrentThread();
            while (!session.IsFinished && !AtStop())
            {
                EpochMetrics metrics;
                try
                {
                    metrics = session.RunEpoch(stop.Token, p =>
                    {
                        running.Progress = p;
                        events.BatchProgress(job.Id, p);
                    });
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested && !running.Token.IsCancellationRequested)
                {
                    // Only the previous epoch's write stops training by itself: it found the job cancelled or deleted
                    // (whoever changed it announced it), or it failed, which this rethrows.
                    if (Take()) throw; // not expected: nothing else cancels only `stop`
                    return false;
                }
                // Whatever needs this epoch's network is taken now, before the next epoch changes it; the rest of
                // the epoch's cost (the state's file, the transaction, pruning, events) overlaps the next epoch.
                bool checkpoint = session.IsFinished || AtStop() || metrics.IsBest || metrics.Epoch % job.CheckpointEvery == 0;
                byte[]? state = null, sha256 = null;
                IReadOnlyList<Engine.Diagnostics.LayerStats> layerStats = [];
                // Side by side on the engine's two threads (the diagnostics write nothing a state holds): its worker is
                // idle between epochs and still spinning, where a pool thread would first have to be woken.
                Engine.Kernels.EngineThreads.Invoke(
                    () => { if (checkpoint) state = session.SaveState(out sha256); },
                    () => layerStats = Engine.Diagnostics.LayerDiagnostics.Compute(session.Network, probe));
                var epoch = new EpochRecord(metrics, state, sha256, layerStats);
                if (!Take()) return false;
                // Task.Run: SQLite's async calls complete synchronously, so the write would otherwise run here, before the next epoch.
                previous = Task.Run(() => StoreEpochAsync(job.Id, run, epoch, stop));
                previousState = epoch.State;
            }
            return Take();
        }

        // The previous write's outcome, once: the finally above does not see (and log) it again. Waited for on the
        // training thread, which has nothing else to do meanwhile; it is normally done long before the epoch.
        bool Take()
        {
            var write = previous;
            previous = Stored;
            bool stored = write.GetAwaiter().GetResult();
            // Stored, so its state array takes the state after next: two arrays serve the whole job.
            if (previousState is not null) session.RecycleState(previousState);
            previousState = null;
            return stored;
        }
    }

    private static readonly Task<bool> Stored = Task.FromResult(true);

    private void ImportInitialWeights(Engine.Network network, string sha256)
    {
        var bytes = weightFiles.ReadIntact(sha256)
                    ?? throw new InvalidDataException("the imported weights file of the model is missing or does not match its SHA-256");
        var tensors = Engine.Serialization.SafeTensors.Read(bytes, out _, out var counters);
        network.ImportTensors(tensors, counters);
    }

    /// <summary>An epoch's results, taken from the session before the next epoch trains.</summary>
    private sealed record EpochRecord(EpochMetrics Metrics, byte[]? State, byte[]? Sha256, IReadOnlyList<Engine.Diagnostics.LayerStats> Diagnostics);

    /// <summary>
    /// Stores and announces one epoch while the next one trains; false when the job is no longer Running.
    /// Then, or when the write fails, it cancels <paramref name="stop"/>, so the epoch in progress ends at its next batch.
    /// </summary>
    private async Task<bool> StoreEpochAsync(long jobId, string run, EpochRecord epoch, CancellationTokenSource stop)
    {
        try
        {
            if (!await RecordEpochAsync(jobId, run, epoch))
            {
                stop.Cancel();
                return false;
            }
            await diagnostics.SendAsync(jobId, epoch.Metrics.Epoch, epoch.Diagnostics);
            return true;
        }
        catch
        {
            stop.Cancel();
            throw;
        }
    }

    /// <summary>
    /// The state of the newest checkpoint whose file is still there and matches its size and SHA-256. A damaged one
    /// (a torn write, a bad disk, a hand edit, a deleted file) is skipped for the one before it rather than failing
    /// the job: the epochs after the good one are trained again, identically. The notice says what was skipped; null
    /// when nothing was.
    /// </summary>
    private async Task<(byte[]? State, string? Notice)> LatestIntactCheckpointAsync(TrainingDbContext db, long jobId)
    {
        var checkpoints = await db.Checkpoints.AsNoTracking().Where(c => c.JobId == jobId).OrderByDescending(c => c.Epoch).ToListAsync();
        var damaged = new List<int>();
        foreach (var checkpoint in checkpoints)
        {
            if (checkpointFiles.ReadIntact(checkpoint) is { } state)
                return (state, damaged.Count == 0 ? null : Damaged(damaged, $"resumed from the checkpoint of epoch {checkpoint.Epoch}"));
            damaged.Add(checkpoint.Epoch);
        }
        return (null, damaged.Count == 0 ? null : Damaged(damaged, "no intact checkpoint is left, so training started over from epoch 0"));

        static string Damaged(List<int> epochs, string outcome) =>
            $"the checkpoint of epoch {string.Join(", ", epochs)} was missing or did not match its SHA-256 and was discarded; {outcome}";
    }

    /// <summary>
    /// Normalization is fitted on the training data set and the same map applied to the validation set,
    /// so both (and later predictions, through the stored state) see identical inputs.
    /// </summary>
    private async Task<(Dataset Train, Dataset? Validation)> LoadDataAsync(Job job, ModelSpec spec)
    {
        await using var db = await contexts.CreateDbContextAsync();
        var trainRow = await db.Datasets.AsNoTracking().FirstOrDefaultAsync(d => d.Id == job.DatasetId)
                       ?? throw new InvalidDataException("the training data set was deleted");
        var train = Normalization.Fit(datasets.Load(trainRow), DatasetMapping.ParseNormalization(trainRow.Normalization));
        Dataset? validation = null;
        if (job.ValidationDatasetId is { } validationId)
        {
            var row = await db.Datasets.AsNoTracking().FirstOrDefaultAsync(d => d.Id == validationId)
                      ?? throw new InvalidDataException("the validation data set was deleted");
            validation = Normalization.Apply(datasets.Load(row), train.Transform);
        }
        var errors = SpecValidator.CheckDataset(spec, train).Concat(validation is null ? [] : SpecValidator.CheckDataset(spec, validation)).ToList();
        if (errors.Count > 0) throw new InvalidDataException(string.Join("; ", errors));
        return (train, validation);
    }

    /// <summary>Stores the epoch (and checkpoint) and announces it; false when the job is no longer Running.</summary>
    private async Task<bool> RecordEpochAsync(long jobId, string run, EpochRecord epoch)
    {
        var (m, state) = (epoch.Metrics, epoch.State);
        metrics.EpochTrained(m.Seconds);
        // On disk before the row naming it commits, and outside the lock, which subscribers' history replays share.
        string? file = state is null ? null : checkpointFiles.Write(jobId, m.Epoch, state);
        bool recorded = false;
        List<string> pruned = [];
        try
        {
            await events.ExclusiveAsync(jobId, async () =>
            {
                if (await CommitEpochAsync(jobId, run, epoch, file) is not { } stored) return;
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
    private async Task<(EpochMetric Metric, DateTime Committed, List<string> Pruned)?> CommitEpochAsync(long jobId, string run, EpochRecord epoch, string? file)
    {
        var m = epoch.Metrics;
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
        LayerStatsRecorder.Add(db, jobId, m.Epoch, epoch.Diagnostics);
        if (file is not null) db.Checkpoints.Add(Checkpoints.Create(jobId, m.Epoch, file, epoch.State!.LongLength, epoch.Sha256!, m.IsBest));
        await db.SaveChangesAsync();
        List<string> pruned = file is null ? [] : await Checkpoints.PruneAsync(db, jobId, options.Value.KeepCheckpoints, CancellationToken.None);
        await tx.CommitAsync();
        return (metric, DateTime.UtcNow, pruned);
    }
}
