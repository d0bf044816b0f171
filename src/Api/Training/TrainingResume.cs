using Engine.Data;
using Engine.Specs;
using Engine.Training;
using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;
using Dataset = Engine.Data.Dataset;

namespace Api.Training;

/// <summary>
/// Where a run of a job starts: from its newest intact checkpoint (<see cref="Checkpoints.LatestIntactAsync"/>), or from
/// scratch, and what the rows after that point become. Resume, recovery after a crash and restarts all come through here.
/// </summary>
public sealed class TrainingResume(
    IDbContextFactory<TrainingDbContext> contexts, CheckpointFiles checkpointFiles, WeightFiles weightFiles, ILogger<TrainingResume> logger)
{
    /// <summary>
    /// The session that continues <paramref name="job"/>, at an epoch end or between two batches where it yielded. Epochs
    /// after its checkpoint are trained again (identically: the state includes the RNG), so their metrics, diagnostics and
    /// checkpoints are deleted here; the unique (job, epoch) indexes would refuse them otherwise.
    /// </summary>
    public async Task<TrainingSession> StartAsync(Job job, ModelSpec spec, TrainingOptions options, Dataset train, Dataset? validation)
    {
        await using var db = await contexts.CreateDbContextAsync();
        var (state, notice) = await Checkpoints.LatestIntactAsync(db, checkpointFiles, job.Id);
        if (notice is not null)
        {
            logger.LogWarning("Job {JobId}: {Notice}", job.Id, notice);
            await db.Jobs.Where(j => j.Id == job.Id).ExecuteUpdateAsync(s => s.SetProperty(j => j.Notice, notice));
        }
        var session = state is null
            ? TrainingSession.Create(spec, options, train, validation)
            : TrainingSession.Restore(state, options, train, validation);
        // A model imported from elsewhere starts from its weights; once a checkpoint exists, that carries them.
        if (state is null && job.InitialWeightsSha256 is { } sha256) ImportInitialWeights(session.Network, sha256);
        var (done, batch) = (session.CompletedEpochs, session.BatchesDoneInEpoch);
        await db.EpochMetrics.Where(m => m.JobId == job.Id && m.Epoch > done).ExecuteDeleteAsync();
        await db.LayerStats.Where(s => s.JobId == job.Id && s.Epoch > done).ExecuteDeleteAsync();
        var later = db.Checkpoints.Where(c => c.JobId == job.Id && (c.Epoch > done || (c.Epoch == done && c.Batch > batch)));
        var laterFiles = await later.Select(c => c.FileName).ToListAsync();
        await later.ExecuteDeleteAsync();
        checkpointFiles.Delete(laterFiles);
        await db.Jobs.Where(j => j.Id == job.Id).ExecuteUpdateAsync(s => s.SetProperty(j => j.CurrentEpoch, done));
        return session;
    }

    private void ImportInitialWeights(Engine.Network network, string sha256)
    {
        var bytes = weightFiles.ReadIntact(sha256)
                    ?? throw new InvalidDataException("the imported weights file of the model is missing or does not match its SHA-256");
        var tensors = Engine.Serialization.SafeTensors.Read(bytes, out _, out var counters);
        network.ImportTensors(tensors, counters);
    }
}
