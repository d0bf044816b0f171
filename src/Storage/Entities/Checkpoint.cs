namespace Storage.Entities;

/// <summary>
/// The engine's training state after an epoch, unique per (job, epoch), or between two batches where a job yielded its
/// slot (<see cref="Batch"/>); the state itself is a file (<see cref="CheckpointFiles"/>).
/// </summary>
public sealed class Checkpoint
{
    public long Id { get; set; }
    public long JobId { get; set; }
    /// <summary>Epochs completed in the state.</summary>
    public int Epoch { get; set; }
    /// <summary>
    /// Null for an epoch end. Otherwise the state was saved inside epoch <see cref="Epoch"/> + 1, after this many of its
    /// batches, when the job yielded its slot to another owner's (fair share); such a state is only for the job to resume from.
    /// </summary>
    public int? Batch { get; set; }
    /// <summary>The state's file, relative to the data directory.</summary>
    public required string FileName { get; set; }
    public long SizeBytes { get; set; }
    /// <summary>Lower-case hex SHA-256 of the state, checked before the file is used.</summary>
    public required string Sha256 { get; set; }
    /// <summary>Whether the epoch was the best so far (validation loss, or training loss without validation).</summary>
    public bool IsBest { get; set; }
    public DateTime CreatedAt { get; set; }
}
