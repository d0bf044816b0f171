using System.Text.Json;
using System.Text.Json.Serialization;

namespace TrainingService.Contracts;

/// <summary>Where a search is: running until every trial is final; then succeeded (or failed when no trial succeeded); or cancelled.</summary>
public enum SearchStatus { Running, Succeeded, Failed, Cancelled }

[JsonConverter(typeof(JsonStringEnumConverter<SearchAlgorithm>))]
public enum SearchAlgorithm
{
    /// <summary>maxTrials trials sampled from the space, each trained to maxEpochs.</summary>
    [JsonStringEnumMemberName("random")] Random,
    /// <summary>Every combination of the choice and int dimensions (at most maxTrials), each trained to maxEpochs.</summary>
    [JsonStringEnumMemberName("grid")] Grid,
    /// <summary>Asynchronous successive halving: trials pause at rungs and only the top 1/eta continue (docs/searches.md).</summary>
    [JsonStringEnumMemberName("asha")] Asha,
}

[JsonConverter(typeof(JsonStringEnumConverter<SearchMetric>))]
public enum SearchMetric
{
    [JsonStringEnumMemberName("valLoss")] ValLoss,
    [JsonStringEnumMemberName("valAccuracy")] ValAccuracy,
    [JsonStringEnumMemberName("trainLoss")] TrainLoss,
}

[JsonConverter(typeof(JsonStringEnumConverter<SearchMode>))]
public enum SearchMode
{
    [JsonStringEnumMemberName("min")] Min,
    [JsonStringEnumMemberName("max")] Max,
}

/// <summary>One dimension of a search space.</summary>
/// <param name="Type"><c>loguniform</c>, <c>uniform</c> (min..max, real), <c>int</c> (min..max inclusive, whole) or <c>choice</c> (one of values).</param>
/// <param name="Values">For <c>choice</c>: the values, numbers or strings (e.g. optimizer types).</param>
public sealed record SearchDimension(string? Type, double? Min = null, double? Max = null, JsonElement[]? Values = null);

/// <summary>Trains variations of a base job sampled from a space and keeps the best.</summary>
/// <param name="BaseJob">A job request as for POST /jobs; its epochs are replaced by <paramref name="MaxEpochs"/>.</param>
/// <param name="Space">Dimensions by path: <c>optimizer.learningRate</c>, <c>optimizer.momentum</c>, <c>weightDecay</c>,
/// <c>batchSize</c>, <c>layers[0].units</c>, <c>layers[2].rate</c>, ...</param>
/// <param name="Metric">valLoss (default), valAccuracy or trainLoss, of the epoch a trial reports at.</param>
/// <param name="Mode">min or max; default min for losses, max for accuracy.</param>
/// <param name="MaxTrials">Trials to sample (grid: at most this many combinations).</param>
/// <param name="MaxEpochs">Epochs of a trial trained to the end (its options' epochs, so its schedule is the full run's).</param>
/// <param name="Eta">ASHA's reduction factor: the top 1/eta of a rung continue; default 3.</param>
/// <param name="MinEpochs">ASHA's first rung; the rungs are minEpochs·eta^k below maxEpochs, then maxEpochs. Default 1.</param>
/// <param name="Rungs">ASHA's rungs given explicitly instead (increasing epochs, below maxEpochs; maxEpochs is added).</param>
/// <param name="Seed">Seeds the sampling: the same request samples the same trials. Trials keep the base job's training seed.</param>
/// <param name="MaxConcurrentTrials">Trials queued or running at once (each holds one of the owner's active-job slots); default 1.</param>
public sealed record CreateSearchRequest(
    string? Name = null, CreateJobRequest? BaseJob = null, Dictionary<string, SearchDimension>? Space = null,
    SearchMetric? Metric = null, SearchMode? Mode = null, int? MaxTrials = null, int? MaxEpochs = null,
    SearchAlgorithm? Algorithm = null, int? Eta = null, int? MinEpochs = null, int[]? Rungs = null, ulong? Seed = null,
    int? MaxConcurrentTrials = null);

/// <summary>A trial's result at one rung (the metric of that epoch).</summary>
/// <param name="Rung">The rung's index in the search's rungs (0 = first).</param>
/// <param name="Epoch">The epoch the result is from: the rung's, or a trial's last epoch when early stopping ended it before the last rung.</param>
public sealed record RungResultDto(int Rung, int Epoch, double Value);

/// <summary>One trial: its sampled parameters and its job (weights, predict, metrics work on it as on any job).</summary>
/// <param name="JobId">Null until the search has started the trial.</param>
/// <param name="Status">The job's status; <c>pending</c> trials have no job yet.</param>
/// <param name="Results">The metric at each rung the trial reached, in rung order.</param>
public sealed record SearchTrialDto(int Index, long? JobId, string Status, int Epoch, Dictionary<string, JsonElement> Params,
    RungResultDto[] Results);

/// <param name="Rungs">The epochs trials report at (random and grid: maxEpochs only).</param>
/// <param name="BestJobId">The trial job with the best result at the highest rung any trial reached.</param>
public sealed record SearchDto(long Id, string? Name, SearchStatus Status, SearchAlgorithm Algorithm, SearchMetric Metric, SearchMode Mode,
    int[] Rungs, int Eta, int MaxTrials, int EpochsTrained, int? BestTrial, long? BestJobId, double? BestValue, string? Error,
    DateTime CreatedAt, DateTime? FinishedAt, SearchTrialDto[] Trials);

/// <summary>One search in the list; GET /searches/{id} has the trials.</summary>
public sealed record SearchSummaryDto(long Id, string? Name, SearchStatus Status, SearchAlgorithm Algorithm, int MaxTrials, int TrialsCreated,
    long? BestJobId, double? BestValue, DateTime CreatedAt);

[JsonConverter(typeof(JsonStringEnumConverter<SearchEventKind>))]
public enum SearchEventKind
{
    [JsonStringEnumMemberName("trialStarted")] TrialStarted,
    [JsonStringEnumMemberName("rungReached")] RungReached,
    [JsonStringEnumMemberName("promoted")] Promoted,
    [JsonStringEnumMemberName("pruned")] Pruned,
    [JsonStringEnumMemberName("bestChanged")] BestChanged,
    [JsonStringEnumMemberName("finished")] Finished,
}

/// <summary>A search's progress on <c>/hubs/training</c> after <c>SubscribeSearch(searchId)</c> (hub method <c>SearchProgress</c>).</summary>
/// <param name="Trial">The trial's index; null for <c>finished</c>.</param>
/// <param name="Rung">The rung's epoch for rungReached/promoted/pruned.</param>
/// <param name="Value">The trial's metric at that rung (bestChanged: the new best).</param>
public sealed record SearchEvent(long SearchId, SearchEventKind Kind, int? Trial, long? JobId, int? Rung, double? Value, SearchStatus Status);
