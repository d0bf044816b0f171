namespace Storage.Entities;

/// <summary>A hyperparameter search: trials are ordinary jobs pointing here by <see cref="Job.SearchId"/>.</summary>
public sealed class Search : IOwned
{
    public long Id { get; set; }
    /// <summary>The owner this search belongs to; other owners get 404 for it.</summary>
    public string OwnerId { get; set; } = "";
    public string? Name { get; set; }
    /// <summary>The request as received (base job, space, metric, budget, algorithm).</summary>
    public required string RequestJson { get; set; }
    /// <summary>Every trial's sampled parameters, in trial order, drawn at submission.</summary>
    public required string TrialsJson { get; set; }
    public SearchStatus Status { get; set; }
    /// <summary>How many trials have a job so far; trial jobs are created in index order up to the sampled count.</summary>
    public int TrialsCreated { get; set; }
    /// <summary>The trial with the best result at the highest rung reached, and that result.</summary>
    public long? BestJobId { get; set; }
    public double? BestValue { get; set; }
    public string? Error { get; set; }
    /// <summary>Raised by every decision as its first statement, so decisions on one search never overlap, on any node.</summary>
    public long Version { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public DateTime? FinishedAt { get; set; }
}
