using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Storage;

namespace Api.Training;

/// <summary>
/// The training side's instruments, for an operator watching several nodes (exported by Telemetry when configured):
/// queue length and jobs by status (from the shared database, so every node reports the cluster's), epoch duration
/// and this node's running jobs. Each node's series carry its node id as a resource attribute.
/// </summary>
public sealed class TrainingMetrics : IDisposable
{
    public const string Name = "TrainingService";

    /// <summary>One span per training run (take the lease, train, release), named after the job.</summary>
    public static readonly ActivitySource Activities = new(Name);

    private readonly Meter _meter;
    private readonly Histogram<double> _epochSeconds;

    public TrainingMetrics(IMeterFactory meters, TrainingRegistry registry, IDbContextFactory<TrainingDbContext> contexts)
    {
        _meter = meters.Create(Name);
        _epochSeconds = _meter.CreateHistogram<double>("training.epoch.duration", "s", "Time to train one epoch");
        _meter.CreateObservableGauge("training.node.running_jobs", () => registry.Count, "{job}", "Jobs training on this node");
        _meter.CreateObservableGauge("training.jobs", () => JobsByStatus(contexts), "{job}", "Jobs by status, in the shared database");
    }

    public void EpochTrained(double seconds) => _epochSeconds.Record(seconds);

    private static IEnumerable<Measurement<long>> JobsByStatus(IDbContextFactory<TrainingDbContext> contexts)
    {
        using var db = contexts.CreateDbContext();
        var counts = db.Jobs.AsNoTracking().GroupBy(j => j.Status).Select(g => new { g.Key, Count = g.LongCount() }).ToList();
        foreach (var status in Enum.GetValues<JobStatus>())
        {
            // Queued is the queue length: one series per status, so a dashboard reads it directly.
            long count = counts.FirstOrDefault(c => c.Key == status)?.Count ?? 0;
            yield return new Measurement<long>(count, new KeyValuePair<string, object?>("status", status.ToString()));
        }
    }

    public void Dispose() => _meter.Dispose();
}
