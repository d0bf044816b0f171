namespace Storage.Entities;

/// <summary>One finished epoch of a job; unique per (job, epoch).</summary>
public sealed class EpochMetric
{
    public long Id { get; set; }
    public long JobId { get; set; }
    public int Epoch { get; set; }
    public float TrainLoss { get; set; }
    public float? TrainAccuracy { get; set; }
    public float? ValLoss { get; set; }
    public float? ValAccuracy { get; set; }
    public float LearningRate { get; set; }
    public double Seconds { get; set; }
    public double SamplesPerSecond { get; set; }
    public bool IsBest { get; set; }
    public DateTime CreatedAt { get; set; }
}
