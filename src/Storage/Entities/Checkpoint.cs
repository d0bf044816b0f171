namespace Storage.Entities;

/// <summary>The engine's training state after an epoch, unique per (job, epoch).</summary>
public sealed class Checkpoint
{
    public long Id { get; set; }
    public long JobId { get; set; }
    public int Epoch { get; set; }
    public required byte[] State { get; set; }
    public long SizeBytes { get; set; }
    /// <summary>Lower-case hex SHA-256 of <see cref="State"/>, checked before the blob is used.</summary>
    public required string Sha256 { get; set; }
    /// <summary>Whether the epoch was the best so far (validation loss, or training loss without validation).</summary>
    public bool IsBest { get; set; }
    public DateTime CreatedAt { get; set; }
}
