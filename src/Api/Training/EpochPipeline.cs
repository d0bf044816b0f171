using Engine.Diagnostics;
using Engine.Training;

namespace Api.Training;

/// <summary>
/// Trains one run's epochs back to back while the previous epoch is stored: at an epoch end only the state and the
/// diagnostics are taken from the network (<see cref="TrainingSession.CaptureEpochEnd"/>); the state's file, the
/// transaction and the events (<see cref="EpochWriter"/>) follow concurrently, one epoch at a time and in order.
/// </summary>
/// <remarks>
/// One per run: it holds the write under way and the state array it uses, which only this run's thread touches. When
/// <c>yieldAt</c> fires (<see cref="FairShare"/>) the epoch in progress stops at its next batch and the state there is
/// stored as a yield's checkpoint, after the previous epoch's write.
/// </remarks>
internal sealed class EpochPipeline(
    TrainingSession session, long jobId, int checkpointEvery, int? stopAfterEpoch, RunningJob running, CancellationToken yieldAt, string run, EpochWriter writer,
    JobEvents events, ILogger logger) : IDisposable
{
    private static readonly Task<bool> Stored = Task.FromResult(true);

    // Fires with the job's token and at a yield (fair share), and also when the previous epoch's write finds the job no
    // longer Running (or fails): then the epoch in progress stops at its next batch rather than training for nothing.
    private readonly CancellationTokenSource _stop = CancellationTokenSource.CreateLinkedTokenSource(running.Token, yieldAt);
    private readonly DiagnosticsProbe _probe = DiagnosticsProbe.From(session.TrainData);
    // The previous epoch's write, under way while the next epoch trains; at most one at a time, started in epoch order,
    // so epochs are stored and announced in order.
    private Task<bool> _previous = Stored;
    private byte[]? _previousState;
    // The state where the run yielded, saved on the training thread.
    private (byte[] State, byte[] Sha256)? _yieldState;

    /// <summary>The run's outcome.</summary>
    public enum Outcome
    {
        /// <summary>Every epoch trained and stored, or every epoch up to a search trial's stop (its rung).</summary>
        Finished,
        /// <summary>A write found the job no longer Running (cancelled or deleted: whoever changed it announced it).</summary>
        Stopped,
        /// <summary>The job yielded its slot (at <c>yieldAt</c>): its state between two batches is stored.</summary>
        Yielded,
    }

    /// <summary>
    /// Trains until the session is finished or the run yields. Throws <see cref="OperationCanceledException"/> on the job's
    /// token. Returns or throws only after the last write has committed or rolled back, so nothing of this run is stored
    /// after it ends.
    /// </summary>
    public async Task<Outcome> RunAsync()
    {
        try
        {
            // One thread trains the job's epochs back to back, at the training priority: a new thread per epoch cost
            // 0.3 ms, and up to 8 ms when the cores were busy, between every two epochs.
            var outcome = await Task.Factory.StartNew(TrainEpochs, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (outcome != Outcome.Yielded) return outcome;
            // Saved on the training thread above; stored here, after the last epoch's write.
            var (state, sha256) = _yieldState!.Value;
            return await writer.StoreYieldAsync(jobId, run, session.CompletedEpochs, session.BatchesDoneInEpoch, state, sha256)
                ? Outcome.Yielded
                : Outcome.Stopped;
        }
        finally
        {
            // Leaving early (cancel, shutdown, a failure in training): the write under way still commits or rolls back
            // as a whole (a kill meanwhile leaves the previous checkpoint). Awaited, so a resume never overlaps it.
            try
            {
                await _previous;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Job {JobId}: storing an epoch failed while training stopped", jobId);
            }
        }
    }

    /// <summary>A search trial pauses at its rung with a checkpoint there; a promotion continues it from that.</summary>
    private bool AtStop() => session.CompletedEpochs >= stopAfterEpoch;

    private Outcome TrainEpochs()
    {
        // Named for operators (top -H, /proc/<pid>/task/*/comm): which thread trains which job.
        Thread.CurrentThread.Name = $"train-job-{jobId}";
        ComputePriority.LowerCurrentThread();
        while (!session.IsFinished && !AtStop())
        {
            EpochMetrics metrics;
            try
            {
                metrics = session.RunEpoch(_stop.Token, p =>
                {
                    running.Progress = p;
                    events.BatchProgress(jobId, p);
                });
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested && !running.Token.IsCancellationRequested)
            {
                // The previous epoch's write stops training when it found the job cancelled or deleted (whoever changed it
                // announced it), or failed, which this rethrows; else it was a yield, stored after that write.
                if (!Take()) return Outcome.Stopped;
                if (!yieldAt.IsCancellationRequested) throw; // not expected: nothing else cancels only `_stop`
                var state = session.SaveState(out var sha256);
                _yieldState = (state, sha256);
                return Outcome.Yielded;
            }
            // Whatever needs this epoch's network is taken now, before the next epoch changes it; the rest of
            // the epoch's cost (the state's file, the transaction, pruning, events) overlaps the next epoch.
            bool checkpoint = session.IsFinished || AtStop() || metrics.IsBest || metrics.Epoch % checkpointEvery == 0;
            var epoch = new EpochRecord(metrics, session.CaptureEpochEnd(checkpoint, _probe));
            if (!Take()) return Outcome.Stopped;
            // Task.Run: SQLite's async calls complete synchronously, so the write would otherwise run here, before the next epoch.
            _previous = Task.Run(() => writer.StoreAsync(jobId, run, epoch, _stop));
            _previousState = epoch.Capture.State;
        }
        return Take() ? Outcome.Finished : Outcome.Stopped;
    }

    /// <summary>
    /// The previous write's outcome, once: <see cref="RunAsync"/> does not see (and log) it again. Waited for on the
    /// training thread, which has nothing else to do meanwhile; it is normally done long before the epoch.
    /// </summary>
    private bool Take()
    {
        var write = _previous;
        _previous = Stored;
        bool stored = write.GetAwaiter().GetResult();
        // Stored, so its state array takes the state after next: two arrays serve the whole job.
        if (_previousState is not null) session.RecycleState(_previousState);
        _previousState = null;
        return stored;
    }

    public void Dispose() => _stop.Dispose();
}
