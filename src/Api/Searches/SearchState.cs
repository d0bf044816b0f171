using Microsoft.EntityFrameworkCore;
using Storage;

namespace Api.Searches;

/// <summary>
/// A search's trials and their results per rung, as a decision or a GET reads them, and the asynchronous ASHA rule
/// (Li et al. 2018) over them. Pure: <see cref="Decide"/> only says what to change; <see cref="SearchCoordinator"/> applies it.
/// </summary>
/// <remarks>
/// With n_k results recorded at rung k and a trial's rank r among them (1 = best; ties go to the lower trial index):
/// a trial paused at rung k is promotable when r ≤ ⌊n_k / η⌋, and pruned as soon as r > ⌊N_k / η⌋, where N_k adds to
/// n_k every trial that may still report at rung k (not final and without a result there, and trials not yet started):
/// even if all of those did worse it could not get in. Free slots (maxConcurrentTrials minus queued and running trials)
/// go first to the promotable trial of the highest rung (best rank first), then to the next unstarted trial.
/// </remarks>
internal sealed class SearchState(SearchPlan plan, int sampled, IReadOnlyList<SearchState.Trial> trials)
{
    /// <param name="Results">The metric at each rung (index as in the plan's rungs); null where the trial has none.</param>
    internal sealed record Trial(int Index, long JobId, JobStatus Status, int Epoch, int? StopAfterEpoch, double?[] Results);

    internal sealed record Decision(List<(Trial Trial, int Rung)> Prune, List<(Trial Trial, int Rung)> Promote, int Create,
        List<Trial> Cancel, SearchStatus? Finish);

    public IReadOnlyList<Trial> Trials => trials;

    public int Sampled => sampled;

    public static bool IsFinal(JobStatus s) => s is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled or JobStatus.Pruned;

    private static bool IsActive(JobStatus s) => s is JobStatus.Queued or JobStatus.Running;

    /// <summary>Results recorded at rung k.</summary>
    public int Count(int k) => trials.Count(t => t.Results[k] is not null);

    /// <summary>Results rung k may still hold: those recorded and every trial that may yet report there.</summary>
    public int MaxCount(int k) => Count(k) + trials.Count(t => t.Results[k] is null && !IsFinal(t.Status)) + (sampled - trials.Count);

    public int Rank(Trial t, int k)
    {
        double v = t.Results[k]!.Value;
        return 1 + trials.Count(o => o != t && o.Results[k] is { } w && (plan.Better(w, v) || (w == v && o.Index < t.Index)));
    }

    /// <summary>The rung a paused trial waits at (never the last rung: a trial there has finished).</summary>
    public int? PausedRung(Trial t)
    {
        if (t.Status != JobStatus.Paused || t.StopAfterEpoch is not { } stop || t.Epoch != stop) return null;
        int k = Array.IndexOf(plan.Rungs, stop);
        return k >= 0 && k < plan.Rungs.Length - 1 ? k : null;
    }

    /// <summary>The best trial at the highest rung any trial reached, with that rung.</summary>
    public (Trial Trial, int Rung)? Best()
    {
        for (int k = plan.Rungs.Length - 1; k >= 0; k--)
        {
            var best = trials.Where(t => t.Results[k] is not null).OrderBy(t => Rank(t, k)).FirstOrDefault();
            if (best is not null) return (best, k);
        }
        return null;
    }

    public Decision Decide(bool running)
    {
        var paused = trials.Where(t => PausedRung(t) is not null).ToList();
        if (!running) return new Decision([], [], 0, paused, null);
        var prune = new List<(Trial, int)>();
        foreach (var t in paused)
        {
            int k = PausedRung(t)!.Value;
            // A trial paused without a value (a diverged metric) can never be ranked.
            if (t.Results[k] is null || Rank(t, k) > MaxCount(k) / plan.Eta) prune.Add((t, k));
        }
        var waiting = paused.Where(t => !prune.Any(p => p.Item1 == t)).ToList();
        int free = plan.MaxConcurrentTrials - trials.Count(t => IsActive(t.Status));
        var promote = new List<(Trial, int)>();
        int create = 0;
        while (free > 0)
        {
            (Trial, int)? next = null;
            for (int k = plan.Rungs.Length - 2; k >= 0 && next is null; k--)
            {
                int quota = Count(k) / plan.Eta;
                var candidate = waiting.Where(t => PausedRung(t) == k && Rank(t, k) <= quota).OrderBy(t => Rank(t, k)).FirstOrDefault();
                if (candidate is not null) next = (candidate, k);
            }
            if (next is { } p)
            {
                promote.Add(p);
                waiting.Remove(p.Item1);
            }
            else if (trials.Count + create < sampled) create++;
            else break;
            free--;
        }
        SearchStatus? finish = null;
        if (trials.Count + create == sampled && create == 0 && promote.Count == 0 && waiting.Count == 0 && !trials.Any(t => IsActive(t.Status)))
            finish = trials.Any(t => t.Status == JobStatus.Succeeded) ? SearchStatus.Succeeded : SearchStatus.Failed;
        return new Decision(prune, promote, create, [], finish);
    }

    /// <summary>Reads the search's trial jobs and their metrics at the rungs (and a finished trial's last epoch for the last rung).</summary>
    public static async Task<SearchState> LoadAsync(TrainingDbContext db, long searchId, SearchPlan plan, int sampled, CancellationToken ct)
    {
        var jobs = await db.Jobs.AsNoTracking().Where(j => j.SearchId == searchId).OrderBy(j => j.TrialIndex)
            .Select(j => new { j.Id, j.TrialIndex, j.Status, j.CurrentEpoch, j.StopAfterEpoch }).ToListAsync(ct);
        var ids = jobs.Select(j => j.Id).ToList();
        var rungs = plan.Rungs;
        // A trial that stopped early (early stopping) reports its last epoch at the last rung.
        var early = jobs.Where(j => j.Status == JobStatus.Succeeded && j.CurrentEpoch < plan.MaxEpochs).Select(j => j.Id).ToList();
        var rows = await db.EpochMetrics.AsNoTracking()
            .Where(m => ids.Contains(m.JobId) && (rungs.Contains(m.Epoch) || early.Contains(m.JobId)))
            .ToListAsync(ct);
        var byJob = rows.GroupBy(m => m.JobId).ToDictionary(g => g.Key, g => g.ToDictionary(m => m.Epoch));
        var list = jobs.Select(j =>
        {
            var epochs = byJob.GetValueOrDefault(j.Id) ?? [];
            var results = rungs.Select(r => epochs.TryGetValue(r, out var m) ? plan.ValueOf(m) : null).ToArray();
            if (early.Contains(j.Id) && epochs.TryGetValue(j.CurrentEpoch, out var last)) results[^1] = plan.ValueOf(last);
            return new Trial(j.TrialIndex ?? 0, j.Id, j.Status, j.CurrentEpoch, j.StopAfterEpoch, results);
        }).ToList();
        return new SearchState(plan, sampled, list);
    }
}
