using Engine.Specs;

namespace Engine.Training;

/// <summary>
/// Learning rate for an epoch. Warm-up (any schedule type) rises linearly over the first
/// <see cref="ScheduleSpec.WarmupEpochs"/> epochs: η·(e + 1)/W. After it, with e' = e − W:
/// constant η; step η·γ^⌊e'/stepSize⌋; cosine η_min + (η − η_min)·½(1 + cos(π·e'/T)) with T = total − W,
/// so the first post-warm-up epoch uses η and the curve approaches η_min at the end (PyTorch's CosineAnnealingLR).
/// </summary>
public static class LearningRateSchedule
{
    public static float At(ScheduleSpec? s, float baseLr, int epoch, int totalEpochs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        if (s is null) return baseLr;
        int warmup = Math.Max(0, s.WarmupEpochs);
        if (epoch < warmup) return (float)((double)baseLr * (epoch + 1) / warmup);
        int e = epoch - warmup;
        switch (s.Type)
        {
            case ScheduleKind.Constant:
                return baseLr;
            case ScheduleKind.Step:
                return (float)(baseLr * Math.Pow(s.Gamma, e / Math.Max(1, s.StepSize)));
            case ScheduleKind.Cosine:
                int span = Math.Max(1, totalEpochs - warmup);
                double t = Math.Min(1.0, (double)e / span);
                return (float)(s.MinLearningRate + (baseLr - s.MinLearningRate) * 0.5 * (1 + Math.Cos(Math.PI * t)));
            default:
                throw new ArgumentOutOfRangeException(nameof(s), s.Type, "Unknown schedule.");
        }
    }
}
