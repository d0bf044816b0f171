namespace Engine.Training;

/// <summary>The training loss became NaN or infinite; the run cannot continue meaningfully.</summary>
public sealed class TrainingDivergedException(int epoch, int batch, float loss)
    : Exception($"loss became NaN/∞ at epoch {epoch}, batch {batch} (loss = {loss})")
{
    /// <summary>1-based epoch.</summary>
    public int Epoch { get; } = epoch;
    /// <summary>1-based batch within the epoch.</summary>
    public int Batch { get; } = batch;
    public float Loss { get; } = loss;
}

/// <summary>A training-state blob is truncated, corrupted, of another version or inconsistent with itself.</summary>
public sealed class InvalidTrainingStateException(string message) : Exception(message);
