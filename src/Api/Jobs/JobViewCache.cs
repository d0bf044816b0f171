using System.Collections.Concurrent;
using System.Text.Json;
using Api.Infrastructure;
using Api.Models;
using Engine.Specs;
using Storage.Entities;

namespace Api.Jobs;

/// <summary>
/// What <see cref="JobViews"/> derives from a job besides its row: the metric aggregates (three queries) and
/// the parsed options and spec. A job's metrics only change together with its CurrentEpoch and UpdatedAt
/// (an epoch is stored with both in one transaction; a resume that drops epochs moves CurrentEpoch back),
/// so aggregates tagged with those two are current while the row still shows them. Polling a running job
/// (dashboards, GET /jobs/{id}) then costs one query instead of four.
/// </summary>
public sealed class JobViewCache
{
    private readonly ConcurrentDictionary<long, Aggregates> _aggregates = new();
    private readonly ConcurrentDictionary<long, Parsed> _parsed = new();

    internal sealed record Aggregates(int Epoch, DateTime UpdatedAt, EpochMetric? Latest, int? BestEpoch, double? MeanSeconds);

    private sealed record Parsed(string OptionsJson, string SpecJson, TrainingOptions Options, ModelSpec Spec);

    internal bool TryGetAggregates(Job job, out Aggregates aggregates) =>
        _aggregates.TryGetValue(job.Id, out aggregates!) && aggregates.Epoch == job.CurrentEpoch && aggregates.UpdatedAt == job.UpdatedAt;

    internal Aggregates SetAggregates(Job job, EpochMetric? latest, int? bestEpoch, double? meanSeconds) =>
        _aggregates[job.Id] = new Aggregates(job.CurrentEpoch, job.UpdatedAt, latest, bestEpoch, meanSeconds);

    /// <summary>The stored JSON is compared in full, so a reused id or a rewritten row never gets another job's values.</summary>
    internal (TrainingOptions Options, ModelSpec Spec) OptionsAndSpec(Job job)
    {
        if (_parsed.TryGetValue(job.Id, out var p) && p.OptionsJson == job.OptionsJson && p.SpecJson == job.SpecJson) return (p.Options, p.Spec);
        p = new Parsed(job.OptionsJson, job.SpecJson,
            StoredJson.ReadOptions(job.OptionsJson), StoredJson.ReadSpec(job.SpecJson));
        _parsed[job.Id] = p;
        return (p.Options, p.Spec);
    }

    /// <summary>Drops a deleted job's entries.</summary>
    public void Forget(long jobId)
    {
        _aggregates.TryRemove(jobId, out _);
        _parsed.TryRemove(jobId, out _);
    }
}
