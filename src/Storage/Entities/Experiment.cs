namespace Storage.Entities;

/// <summary>A set of jobs trained from one base job with one variation each; jobs point here by ExperimentId.</summary>
public sealed class Experiment
{
    public long Id { get; set; }
    public string? Name { get; set; }
    /// <summary>The request as received (base job and variations), for display and reruns.</summary>
    public required string RequestJson { get; set; }
    public DateTime CreatedAt { get; set; }
}
