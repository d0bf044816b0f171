namespace Storage.Entities;

/// <summary>A set of jobs trained from one base job with one variation each; jobs point here by ExperimentId.</summary>
public sealed class Experiment : IOwned
{
    public long Id { get; set; }
    /// <summary>The owner this experiment belongs to; other owners get 404 for it.</summary>
    public string OwnerId { get; set; } = "";
    public string? Name { get; set; }
    /// <summary>The request as received (base job and variations), for display and reruns.</summary>
    public required string RequestJson { get; set; }
    public DateTime CreatedAt { get; set; }
}
