using System.Collections.Concurrent;
using System.Text.Json;
using Api.Infrastructure;
using Api.Models;
using Engine.Specs;
using Storage;
using Storage.Entities;

namespace Api.Jobs;

/// <summary>
/// What <see cref="JobViews"/> derives from a job besides its row: the metric aggregates (three queries) and
/// the parsed options and spec. A job's metrics only change together with its CurrentEpoch and UpdatedAt
/// (an epoch is stored with both in one transaction; a resume that drops epochs moves CurrentEpoch back),
/// so aggregates tagged with those two are current while the row still shows them. Polling a running job
/// (dashboards, GET /jobs/{id}) then costs one query instead of four. On the single SQLite node the row itself is
/// kept too, per caller's owner, until <see cref="WriteGeneration"/> says anything was written: polling then costs none.
/// </summary>
public sealed class JobViewCache(WriteGeneration writes, IOwnerScope owner)
{
    // Any write ends every row's life, so the rows kept are few; the bound only stops growth between writes.
    private const int MaxRows = 4096;
    private readonly ConcurrentDictionary<long, Aggregates> _aggregates = new();
    private readonly ConcurrentDictionary<long, Parsed> _parsed = new();
    private readonly ConcurrentDictionary<(string? Owner, long Id), (long Stamp, Job Job)> _rows = new();

    internal sealed record Aggregates(int Epoch, DateTime UpdatedAt, EpochMetric? Latest, int? BestEpoch, double? MeanSeconds);

    private sealed record Parsed(string OptionsJson, string SpecJson, TrainingOptions Options, ModelSpec Spec);

    /// <summary>The job's row as this caller's query last read it, if nothing was written since.</summary>
    internal bool TryGetRow(long id, out Job job)
    {
        job = null!;
        if (!_rows.TryGetValue((owner.OwnerId, id), out var row) || !writes.IsCurrent(row.Stamp)) return false;
        job = row.Job;
        return true;
    }

    /// <summary>The stamp to pass to <see cref="SetRow"/>, taken before the query.</summary>
    internal long? RowStamp() => writes.Stamp();

    internal void SetRow(long? stamp, Job job)
    {
        if (stamp is not { } s) return;
        if (_rows.Count >= MaxRows) _rows.Clear();
        _rows[(owner.OwnerId, job.Id)] = (s, job);
    }

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
