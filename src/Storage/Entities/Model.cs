namespace Storage.Entities;

/// <summary>A validated model spec kept for reuse by jobs.</summary>
public sealed class Model : IOwned
{
    public long Id { get; set; }
    /// <summary>The owner (API key owner) this row belongs to; other owners get 404 for it.</summary>
    public string OwnerId { get; set; } = "";
    public required string Name { get; set; }
    /// <summary>The engine's ModelSpec as JSON.</summary>
    public required string SpecJson { get; set; }
    public long ParameterCount { get; set; }
    /// <summary>Output shape as a JSON array.</summary>
    public required string OutputShape { get; set; }
    public DateTime CreatedAt { get; set; }
    /// <summary>SHA-256 of the imported weights file (<see cref="WeightFiles"/>); null for a model initialized from a seed.</summary>
    public string? WeightsSha256 { get; set; }
}
