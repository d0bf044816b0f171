namespace Storage.Entities;

/// <summary>A training run. The spec and options are copied in, so deleting a model does not change a job.</summary>
public sealed class Job : IOwned
{
    public long Id { get; set; }
    /// <summary>The owner (API key owner) this row belongs to; other owners get 404 for it.</summary>
    public string OwnerId { get; set; } = "";
    public string? Name { get; set; }
    public long? ModelId { get; set; }
    public long? DatasetId { get; set; }
    public long? ValidationDatasetId { get; set; }
    public required string SpecJson { get; set; }
    /// <summary>The engine's TrainingOptions as JSON.</summary>
    public required string OptionsJson { get; set; }
    public int Epochs { get; set; }
    public int CheckpointEvery { get; set; }
    public JobStatus Status { get; set; }
    /// <summary>Epochs completed and recorded.</summary>
    public int CurrentEpoch { get; set; }
    /// <summary>How many times a worker has started (or restarted) this job.</summary>
    public int Attempts { get; set; }
    /// <summary>How many times the job gave its training slot to another owner's waiting job (fair share) and was queued again.</summary>
    public int Yields { get; set; }
    public bool EarlyStopped { get; set; }
    public string? Error { get; set; }
    /// <summary>What the service recovered from on the job's behalf, e.g. a corrupted checkpoint it skipped.</summary>
    public string? Notice { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? StartedAt { get; set; }
    public DateTime? FinishedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    /// <summary>The experiment that queued this job, if any; a plain indexed column (no foreign key) so SQLite needs no table rebuild to add it.</summary>
    public long? ExperimentId { get; set; }
    /// <summary>The variation's name within its experiment.</summary>
    public string? VariationName { get; set; }
    /// <summary>The model's imported weights (<see cref="WeightFiles"/>), copied at submission; training starts from them.</summary>
    public string? InitialWeightsSha256 { get; set; }
    /// <summary>The search this job is a trial of, if any; a plain indexed column like <see cref="ExperimentId"/>.</summary>
    public long? SearchId { get; set; }
    /// <summary>The trial's index in its search (the order its parameters were sampled in).</summary>
    public int? TrialIndex { get; set; }
    /// <summary>
    /// Training pauses after this epoch (status Paused, checkpoint stored at it) though <see cref="Epochs"/> is the full
    /// budget, so the learning-rate schedule is the full run's; a promotion raises it and queues the job again.
    /// </summary>
    public int? StopAfterEpoch { get; set; }
}
