using System.Text.Json;
using Engine.Diagnostics;
using Storage;
using Storage.Entities;

namespace Api.Training;

/// <summary>
/// A network's layer diagnostics at an epoch end (<see cref="LayerDiagnostics.Compute"/>, on the training side
/// between epochs), stored with the epoch's metrics and streamed on the hub while the next epoch trains.
/// </summary>
public sealed class LayerStatsRecorder(JobEvents events)
{
    /// <summary>Adds the epoch's diagnostics to <paramref name="db"/>, to be saved in the epoch's transaction.</summary>
    public static void Add(TrainingDbContext db, long jobId, int epoch, IReadOnlyList<LayerStats> stats) =>
        db.LayerStats.AddRange(stats.Select(s => new LayerStatRow
        {
            JobId = jobId, Epoch = epoch, LayerIndex = s.Index, Type = s.Type, WeightNorm = s.WeightNorm, GradNorm = s.GradNorm,
            GradToWeight = s.GradToWeight, Mean = s.Mean, Std = s.Std, DeadFraction = s.DeadFraction,
            HistogramMin = s.HistogramMin, HistogramMax = s.HistogramMax, HistogramJson = JsonSerializer.Serialize(s.Histogram),
        }));

    /// <summary>Queues stored diagnostics as LayerStats for the job's subscribers (<see cref="JobEvents"/>: never waits on a client).</summary>
    public Task SendAsync(long jobId, int epoch, IReadOnlyList<LayerStats> stats)
    {
        events.LayerStats(new LayerStatsEvent(jobId, epoch, [.. stats.Select(ToDto)]));
        return Task.CompletedTask;
    }

    private static LayerStatsDto ToDto(LayerStats s) => new(s.Index, s.Type, s.WeightNorm, s.GradNorm, s.GradToWeight, s.Mean, s.Std,
        s.DeadFraction, s.HistogramMin, s.HistogramMax, s.Histogram);

    public static LayerStatsDto ToDto(LayerStatRow r) => new(r.LayerIndex, r.Type, r.WeightNorm, r.GradNorm, r.GradToWeight, r.Mean, r.Std,
        r.DeadFraction, r.HistogramMin, r.HistogramMax, JsonSerializer.Deserialize<int[]>(r.HistogramJson) ?? []);
}
