using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Data;
using Engine.Layers;
using Engine.Losses;
using Engine.Tensors;

namespace Engine.Diagnostics;

/// <summary>A fixed batch the diagnostics are measured on, so epochs are comparable.</summary>
public sealed class DiagnosticsProbe
{
    public const int DefaultSize = 256;

    private DiagnosticsProbe(Tensor inputs, Targets targets)
    {
        Inputs = inputs;
        Targets = targets;
    }

    public Tensor Inputs { get; }
    public Targets Targets { get; }

    // Where Compute keeps the network's gradients meanwhile: reused, so diagnostics every epoch allocate
    // nothing the size of the model (a megabyte or more on the large-object heap each time).
    private float[][] _savedGrads = [];

    internal float[][] GradientStore(IReadOnlyList<Parameter> parameters)
    {
        bool fits = _savedGrads.Length == parameters.Count;
        for (int i = 0; fits && i < parameters.Count; i++) fits = _savedGrads[i].Length == parameters[i].Grad.Length;
        if (!fits) _savedGrads = [.. parameters.Select(p => new float[p.Grad.Length])];
        return _savedGrads;
    }

    /// <summary>The first <paramref name="size"/> samples of <paramref name="data"/> (copied): deterministic and cheap.</summary>
    public static DiagnosticsProbe From(Dataset data, int size = DefaultSize)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        int n = Math.Min(size, data.Count);
        if (n == 0) throw new ArgumentException("The data set is empty.", nameof(data));
        var x = new Tensor(data.Features.AsSpan(0, n * data.FeatureSize).ToArray(), n, data.FeatureSize);
        var t = data.Labels is { } labels
            ? Targets.FromLabels(labels.AsSpan(0, n).ToArray())
            : Targets.FromRows(data.Targets.AsSpan(0, n * data.TargetWidth).ToArray(), data.TargetWidth);
        return new DiagnosticsProbe(x, t);
    }
}

/// <summary>
/// One layer's health on the probe batch.
/// </summary>
/// <param name="WeightNorm">L2 norm of all the layer's parameters; null for layers without any.</param>
/// <param name="GradNorm">L2 norm of their gradient of the mean probe loss; null without parameters.</param>
/// <param name="GradToWeight">GradNorm / WeightNorm: how far one unit-rate step moves the layer, relatively.</param>
/// <param name="Mean">Mean of the layer's output activations.</param>
/// <param name="Std">Standard deviation of the output activations.</param>
/// <param name="DeadFraction">ReLU layers: fraction of units that output 0 for every probe sample; null otherwise.</param>
/// <param name="HistogramMin">Lower edge of the first histogram bin (smallest activation).</param>
/// <param name="HistogramMax">Upper edge of the last bin (largest activation).</param>
/// <param name="Histogram">Counts of output activations in <see cref="LayerDiagnostics.Bins"/> equal bins.</param>
public sealed record LayerStats(int Index, string Type, double? WeightNorm, double? GradNorm, double? GradToWeight,
    double Mean, double Std, double? DeadFraction, double HistogramMin, double HistogramMax, int[] Histogram);

/// <summary>
/// Per-layer statistics of a network on a probe batch, measured without changing training: the forward
/// pass runs in evaluation mode (Dropout is the identity and draws nothing from the network's Rng;
/// BatchNorm uses and does not update its running statistics), the extra backward pass only fills the
/// gradients, and the gradients the network held before are put back bit for bit. Parameters are never stepped.
/// It writes only gradients and the layers' working buffers, none of which a saved state holds, so it may run
/// alongside <see cref="Training.TrainingSession.SaveState()"/> (one Compute per probe at a time).
/// </summary>
public static class LayerDiagnostics
{
    public const int Bins = 20;

    public static IReadOnlyList<LayerStats> Compute(Network network, DiagnosticsProbe probe)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(probe);
        var parameters = network.Parameters;
        var savedGrads = probe.GradientStore(parameters);
        for (int i = 0; i < parameters.Count; i++) parameters[i].Grad.CopyTo(savedGrads[i], 0);
        try
        {
            var layers = network.Layers;
            var shapes = Specs.ShapeInference.InputShapes(network.Spec);
            var stats = new (double Mean, double Std, double? Dead, double Min, double Max, int[] Histogram)[layers.Count];
            var x = probe.Inputs;
            for (int i = 0; i < layers.Count; i++)
            {
                x = layers[i].Forward(x, training: false);
                // Summarized now: a layer's output buffer may be reused in place by the next layer. A ReLU keeps its
                // input's shape; on a conv's [C, H, W] its unit is a channel (a filter), which is dead when it never fires.
                int plane = shapes[i].Image ? shapes[i].Plane : 1;
                stats[i] = Summarize(x, layers[i] is Relu, plane);
            }
            network.ZeroGrad();
            network.ComputeLoss(x, probe.Targets);
            network.BackwardInSpecOrder();

            var result = new LayerStats[layers.Count];
            for (int i = 0; i < layers.Count; i++)
            {
                var ps = layers[i].Parameters;
                double? weightNorm = null, gradNorm = null, ratio = null;
                if (ps.Count > 0)
                {
                    double w = 0, g = 0;
                    foreach (var p in ps) { w += SumSquares(p.Value); g += SumSquares(p.Grad); }
                    weightNorm = Math.Sqrt(w);
                    gradNorm = Math.Sqrt(g);
                    ratio = weightNorm > 0 ? gradNorm / weightNorm : null;
                }
                var s = stats[i];
                result[i] = new LayerStats(i, layers[i].GetType().Name, weightNorm, gradNorm, ratio, s.Mean, s.Std, s.Dead, s.Min, s.Max, s.Histogram);
            }
            return result;
        }
        finally
        {
            for (int i = 0; i < parameters.Count; i++) savedGrads[i].CopyTo(parameters[i].Grad, 0);
        }
    }

    /// <param name="plane">Values per unit for the dead fraction: 1 for a flat layer, H·W for a channel of an image.</param>
    private static (double Mean, double Std, double? Dead, double Min, double Max, int[] Histogram) Summarize(Tensor y, bool relu, int plane)
    {
        var v = y.Span;
        double sum = 0, squares = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (float f in v)
        {
            sum += f;
            squares += (double)f * f;
            if (f < min) min = f;
            if (f > max) max = f;
        }
        int n = v.Length;
        double mean = n > 0 ? sum / n : 0;
        double std = n > 0 ? Math.Sqrt(Math.Max(0, squares / n - mean * mean)) : 0;
        if (n == 0) min = max = 0;

        var histogram = new int[Bins];
        double width = (max - min) / Bins;
        foreach (float f in v)
        {
            // All values equal (width 0) land in the first bin; the maximum belongs to the last.
            int bin = width > 0 ? (int)((f - min) / width) : 0;
            histogram[Math.Clamp(bin, 0, Bins - 1)]++;
        }

        double? dead = null;
        if (relu && y.Rows > 0)
        {
            int units = y.Cols / plane, deadUnits = 0;
            for (int u = 0; u < units; u++)
            {
                bool alive = false;
                for (int r = 0; r < y.Rows && !alive; r++) alive = TensorPrimitives.Max(y.Row(r).Slice(u * plane, plane)) > 0f;
                if (!alive) deadUnits++;
            }
            dead = (double)deadUnits / units;
        }
        return (mean, std, dead, min, max, histogram);
    }

    private static double SumSquares(float[] values)
    {
        double s = 0;
        foreach (float f in values) s += (double)f * f;
        return s;
    }
}
