using Engine.Diagnostics;
using Engine.Kernels;

namespace Engine.Training;

/// <summary>What an epoch end leaves to store: the state when a checkpoint is due, and the layer diagnostics.</summary>
/// <param name="State">The state (<see cref="TrainingSession.SaveState(out byte[])"/>), or null when no checkpoint was asked for.</param>
/// <param name="Sha256">The state's SHA-256, or null with it.</param>
public sealed record EpochCapture(byte[]? State, byte[]? Sha256, IReadOnlyList<LayerStats> Diagnostics);

public sealed partial class TrainingSession
{
    /// <summary>
    /// Takes from the network, between two epochs, everything that must be taken before the next one changes it: the
    /// state when <paramref name="saveState"/>, and the layer diagnostics on <paramref name="probe"/>. The two run side by
    /// side on the engine's two threads (the diagnostics write nothing a state holds), whose worker is idle between epochs.
    /// </summary>
    public EpochCapture CaptureEpochEnd(bool saveState, DiagnosticsProbe probe)
    {
        ArgumentNullException.ThrowIfNull(probe);
        byte[]? state = null, sha256 = null;
        IReadOnlyList<LayerStats> stats = [];
        EngineThreads.Invoke(
            () => { if (saveState) state = SaveState(out sha256); },
            () => stats = LayerDiagnostics.Compute(Network, probe));
        return new EpochCapture(state, sha256, stats);
    }
}
