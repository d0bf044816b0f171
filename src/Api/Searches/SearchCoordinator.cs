using System.Globalization;
using System.Text.Json;
using Api.Infrastructure;
using Api.Jobs;
using Api.Training;
using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;

namespace Api.Searches;

/// <summary>
/// Makes a search's decisions: when one of its trials pauses at a rung or ends (and when a search starts, is cancelled or
/// the service restarts), it prunes, promotes and starts trials by <see cref="SearchState.Decide"/>.
/// </summary>
/// <remarks>
/// A decision is one transaction whose first statement raises the search's version, so decisions on one search run one
/// after another on every node (SQLite: one writer; PostgreSQL: the row's lock until commit); each trial change is also a
/// conditional UPDATE from the status and rung read, so no trial is promoted twice. It runs when the trial's run has
/// stored its last epoch and moved it (<see cref="JobLifecycle"/>), never inside the epoch loop. Hangfire gets the
/// promoted and new trials after the commit.
/// </remarks>
public sealed class SearchCoordinator(
    IDbContextFactory<TrainingDbContext> contexts, JobSubmitter submitter, TrainingQueue queue, JobEvents events,
    ILogger<SearchCoordinator> logger) : IJobStatusObserver
{
    public async Task StatusChangedAsync(Job job)
    {
        if (job.SearchId is not { } searchId || job.Status is JobStatus.Queued or JobStatus.Running) return;
        await DecideAsync(searchId, job.Id);
    }

    /// <summary>Applies one decision; failures are logged (the next trial event or the next start decides again).</summary>
    public async Task DecideAsync(long searchId, long? reportingJobId = null, CancellationToken ct = default)
    {
        try
        {
            await DecideOnceAsync(searchId, reportingJobId, ct);
        }
        catch (Exception e) when (e is DbUpdateException or InvalidOperationException or JsonException or InvalidDataException)
        {
            logger.LogError(e, "Search {SearchId}: the decision failed; it is made again at the next trial event or start", searchId);
        }
    }

    private async Task DecideOnceAsync(long searchId, long? reportingJobId, CancellationToken ct)
    {
        var enqueue = new List<long>();
        var changed = new List<long>();
        var announce = new List<SearchEvent>();
        await using (var db = await contexts.CreateDbContextAsync(ct))
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            if (await db.Searches.Where(s => s.Id == searchId).ExecuteUpdateAsync(s => s.SetProperty(x => x.Version, x => x.Version + 1), ct) == 0)
                return;
            var search = await db.Searches.FirstAsync(s => s.Id == searchId, ct);
            var plan = SearchPlan.Read(search.RequestJson);
            var sampled = ReadTrials(search.TrialsJson);
            var state = await SearchState.LoadAsync(db, searchId, plan, sampled.Count, ct);
            var decision = state.Decide(search.Status == SearchStatus.Running);
            var now = DateTime.UtcNow;
            SearchEvent Event(SearchEventKind kind, SearchState.Trial? t, int? rung, double? value) =>
                new(searchId, kind, t?.Index, t?.JobId, rung, value, search.Status);

            if (reportingJobId is { } reporting && state.Trials.FirstOrDefault(t => t.JobId == reporting) is { } reporter)
            {
                int k = Array.FindLastIndex(reporter.Results, r => r is not null);
                if (k >= 0 && (reporter.Status == JobStatus.Paused || reporter.Status == JobStatus.Succeeded))
                    announce.Add(Event(SearchEventKind.RungReached, reporter, plan.Rungs[k], reporter.Results[k]));
            }
            foreach (var (t, k) in decision.Prune)
            {
                string why = $"pruned by search {searchId} at epoch {plan.Rungs[k]}: its {Name(plan.Metric)} " +
                             (t.Results[k] is { } v ? $"{v.ToString("G6", CultureInfo.InvariantCulture)} ranked {state.Rank(t, k)} of at most {state.MaxCount(k)}, " +
                                                      $"and only the top 1/{plan.Eta} continue" : "is missing");
                if (await MoveAsync(db, t, plan.Rungs[k], JobStatus.Pruned, null, why, now, ct))
                {
                    changed.Add(t.JobId);
                    announce.Add(Event(SearchEventKind.Pruned, t, plan.Rungs[k], t.Results[k]));
                }
            }
            foreach (var (t, k) in decision.Promote)
            {
                if (!await MoveAsync(db, t, plan.Rungs[k], JobStatus.Queued, plan.Rungs[k + 1], null, now, ct)) continue;
                changed.Add(t.JobId);
                enqueue.Add(t.JobId);
                announce.Add(Event(SearchEventKind.Promoted, t, plan.Rungs[k + 1], t.Results[k]));
            }
            foreach (var t in decision.Cancel)
                if (await MoveAsync(db, t, t.StopAfterEpoch!.Value, JobStatus.Cancelled, null, $"search {searchId} was cancelled", now, ct))
                    changed.Add(t.JobId);

            var space = SearchSpaceOf(plan);
            var created = new List<Job>();
            for (int i = 0; i < decision.Create; i++)
            {
                int index = search.TrialsCreated;
                var errors = new Dictionary<string, string[]>();
                var request = space.Apply(plan.BaseJob, sampled[index], errors, index);
                var (job, problem) = request is null ? (null, null) : await submitter.PrepareAsync(db, request, ct);
                if (job is null)
                {
                    // Everything was checked at submission; this is a data set or model deleted since.
                    search.Status = SearchStatus.Failed;
                    search.Error = $"trial {index} could not be started: {problem?.ProblemDetails.Detail ?? string.Join("; ", errors.SelectMany(e => e.Value))}";
                    search.FinishedAt = now;
                    break;
                }
                job.OwnerId = search.OwnerId;
                job.Name = Truncate($"{search.Name ?? $"search {searchId}"}: trial {index}", 200);
                job.SearchId = searchId;
                job.TrialIndex = index;
                job.StopAfterEpoch = plan.IsAsha ? plan.Rungs[0] : null;
                db.Jobs.Add(job);
                created.Add(job);
                search.TrialsCreated++;
            }
            if (decision.Finish is { } finish && search.Status == SearchStatus.Running)
            {
                search.Status = finish;
                search.FinishedAt = now;
                if (finish == SearchStatus.Failed) search.Error = "no trial succeeded";
            }
            var best = state.Best();
            if (best is { } b && (b.Trial.JobId != search.BestJobId || b.Trial.Results[b.Rung] != search.BestValue))
            {
                search.BestJobId = b.Trial.JobId;
                search.BestValue = b.Trial.Results[b.Rung];
                announce.Add(Event(SearchEventKind.BestChanged, b.Trial, plan.Rungs[b.Rung], search.BestValue));
            }
            search.UpdatedAt = now;
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            foreach (var job in created)
            {
                enqueue.Add(job.Id);
                announce.Add(new SearchEvent(searchId, SearchEventKind.TrialStarted, job.TrialIndex, job.Id, null, null, search.Status));
            }
            if (search.Status != SearchStatus.Running && search.FinishedAt == now)
                announce.Add(new SearchEvent(searchId, SearchEventKind.Finished, null, search.BestJobId, null, search.BestValue, search.Status));
            announce = [.. announce.Select(e => e with { Status = search.Status })];
        }
        foreach (var id in enqueue) queue.Enqueue(id);
        foreach (var id in changed) await AnnounceStatusAsync(id);
        foreach (var e in announce) events.SearchProgress(e);
    }

    /// <summary>Moves a paused trial waiting at <paramref name="rung"/>, only if it still is (another decision may have moved it).</summary>
    private static async Task<bool> MoveAsync(TrainingDbContext db, SearchState.Trial t, int rung, JobStatus to, int? stopAfter, string? notice,
        DateTime now, CancellationToken ct)
    {
        bool final = SearchState.IsFinal(to);
        return await db.Jobs.Where(j => j.Id == t.JobId && j.Status == JobStatus.Paused && j.StopAfterEpoch == rung)
            .ExecuteUpdateAsync(s => s
                .SetProperty(j => j.Status, to)
                .SetProperty(j => j.StopAfterEpoch, j => stopAfter ?? j.StopAfterEpoch)
                .SetProperty(j => j.Notice, j => notice ?? j.Notice)
                .SetProperty(j => j.UpdatedAt, now)
                .SetProperty(j => j.FinishedAt, final ? now : null), ct) == 1;
    }

    private async Task AnnounceStatusAsync(long jobId)
    {
        await events.ExclusiveAsync(jobId, async () =>
        {
            await using var db = await contexts.CreateDbContextAsync();
            if (await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == jobId) is { } job) await events.StatusChangedAsync(job);
        });
    }

    internal static List<Dictionary<string, JsonElement>> ReadTrials(string json) =>
        JsonSerializer.Deserialize<List<Dictionary<string, JsonElement>>>(json, ApiJson.Options) ?? [];

    internal static SearchSpace SearchSpaceOf(SearchPlan plan) => SearchSpace.Parse(plan.Space, plan.BaseJob, []);

    internal static string Name(SearchMetric metric) => metric switch
    {
        SearchMetric.ValAccuracy => "valAccuracy",
        SearchMetric.TrainLoss => "trainLoss",
        _ => "valLoss",
    };

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length];
}
