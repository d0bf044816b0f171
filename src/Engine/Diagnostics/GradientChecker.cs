using Engine.Data;
using Engine.Layers;
using Engine.Losses;
using Engine.Tensors;

namespace Engine.Diagnostics;

/// <summary>
/// Compares backprop's parameter gradients with central differences (f(w + h) − f(w − h)) / 2h of the
/// mean batch loss. Forward passes run in float32 (the engine's precision); differences and errors are
/// formed in double. The step is h = <see cref="GradientCheckOptions.Step"/>·max(1, |w|), so large
/// weights get a step that still changes them in float. The batch is fixed, BatchNorm runs in training
/// mode on it, and every Dropout layer reuses one frozen mask for all passes. ReLU / LeakyReLU kinks are
/// not differentiable: an entry whose ±h passes flip the sign of any rectifier input is skipped (and
/// counted), because its numerical derivative would measure the kink, not the backward pass.
/// </summary>
public static class GradientChecker
{
    /// <summary>Checks <paramref name="network"/> on <paramref name="batch"/> (all of its samples).</summary>
    public static GradientCheckReport Check(Network network, Dataset batch, GradientCheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.FeatureSize != network.InputWidth)
            throw new ArgumentException($"The batch has {batch.FeatureSize} features per sample, the network expects {network.InputWidth}.", nameof(batch));
        var x = new Tensor((float[])batch.Features.Clone(), batch.Count, batch.FeatureSize);
        var targets = batch.Labels is { } labels ? Targets.FromLabels(labels) : Targets.FromRows(batch.Targets!, batch.TargetWidth);
        return Check(network.Layers, network.Loss, x, targets, options);
    }

    /// <summary>
    /// Checks an arbitrary layer stack (custom layers included) against <paramref name="loss"/>. Layer
    /// parameters are restored exactly and BatchNorm running statistics are put back afterwards.
    /// </summary>
    public static GradientCheckReport Check(IReadOnlyList<Layer> layers, Loss loss, Tensor x, Targets targets, GradientCheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(loss);
        options ??= new GradientCheckOptions();
        options.Validate();
        if (x.Rows == 0) throw new ArgumentException("The batch is empty.", nameof(x));

        var saved = layers.SelectMany(l => l.Buffers).Select(b => (Buffer: b, Copy: (float[])b.Value.Clone())).ToList();
        var dropouts = layers.OfType<Dropout>().ToList();
        try
        {
            FreezeMasks(layers, x.Rows, x.Cols, options.Seed);
            return new Run(layers, loss, x, targets, options).Execute();
        }
        finally
        {
            foreach (var d in dropouts) d.SetMask(null);
            foreach (var (buffer, copy) in saved) copy.CopyTo(buffer.Value, 0);
        }
    }

    /// <summary>One keep mask per Dropout layer, drawn from its own stream so the network's Rng is not consumed.</summary>
    private static void FreezeMasks(IReadOnlyList<Layer> layers, int rows, int inputWidth, ulong seed)
    {
        var rng = new Rng(seed ^ 0x9E3779B97F4A7C15UL);
        int width = inputWidth;
        foreach (var layer in layers)
        {
            if (layer is Dropout d && d.Rate > 0f)
            {
                var keep = new float[rows * width];
                for (int i = 0; i < keep.Length; i++) keep[i] = rng.NextSingle() >= d.Rate ? 1f : 0f;
                d.SetMask(keep);
            }
            width = layer.OutputWidth;
        }
    }

    /// <summary>State of one check: the cached layer inputs and the rectifier sign patterns of the unperturbed pass.</summary>
    private sealed class Run(IReadOnlyList<Layer> layers, Loss loss, Tensor x, Targets targets, GradientCheckOptions options)
    {
        private readonly Tensor[] _inputs = new Tensor[layers.Count];
        private readonly bool[]?[] _signs = new bool[]?[layers.Count];

        public GradientCheckReport Execute()
        {
            // Analytic gradients from one forward/backward pass; parameter gradients are restored afterwards.
            var grads = layers.SelectMany(l => l.Parameters).Select(p => (float[])p.Grad.Clone()).ToList();
            foreach (var p in layers.SelectMany(l => l.Parameters)) p.ZeroGrad();
            double baseLoss = Forward(0, recordSigns: true);
            var dy = loss.Backward();
            for (int i = layers.Count - 1; i >= 0; i--) dy = layers[i].Backward(dy);

            var rng = new Rng(options.Seed);
            var results = new List<GradientCheckResult>();
            // Last layer first: a perturbation of layer L re-runs only layers ≥ L from the cached input of L,
            // and the earlier layers' outputs (the cached inputs) are still those of the unperturbed pass.
            for (int li = layers.Count - 1; li >= 0; li--)
                results.InsertRange(0, layers[li].Parameters.Select(p => CheckParameter(li, p, rng)).ToList());

            int k = 0;
            foreach (var p in layers.SelectMany(l => l.Parameters)) grads[k++].CopyTo(p.Grad, 0);
            return new GradientCheckReport(results, options.AbsoluteTolerance, options.RelativeTolerance,
                results.All(r => r.Passed), x.Rows, baseLoss);
        }

        private GradientCheckResult CheckParameter(int layerIndex, Parameter p, Rng rng)
        {
            var analytic = (float[])p.Grad.Clone();
            var values = p.Value;
            double maxAbs = 0, maxRel = 0;
            int checkedCount = 0, skipped = 0;
            bool passed = true;
            foreach (int i in Sample(values.Length, options.MaxEntriesPerParameter, rng))
            {
                float w = values[i];
                float plusValue = w + (float)(options.Step * Math.Max(1.0, Math.Abs(w)));
                float minusValue = w - (float)(options.Step * Math.Max(1.0, Math.Abs(w)));
                values[i] = plusValue;
                double plus = Forward(layerIndex, recordSigns: false, out bool kinkPlus);
                values[i] = minusValue;
                double minus = Forward(layerIndex, recordSigns: false, out bool kinkMinus);
                values[i] = w;
                if (kinkPlus || kinkMinus) { skipped++; continue; }
                // The step actually taken: w ± h is rounded to float.
                double numerical = (plus - minus) / ((double)plusValue - minusValue);
                double a = analytic[i];
                double abs = Math.Abs(a - numerical);
                double scale = Math.Max(Math.Abs(a), Math.Abs(numerical));
                double rel = scale > 0 ? abs / scale : 0;
                maxAbs = Math.Max(maxAbs, abs);
                maxRel = Math.Max(maxRel, rel);
                checkedCount++;
                // An entry passes when either error is small: tiny gradients are judged absolutely, large ones relatively.
                if (abs > options.AbsoluteTolerance && rel > options.RelativeTolerance) passed = false;
            }
            // Leaves layers ≥ layerIndex holding the unperturbed pass for the next (earlier) parameter.
            Forward(layerIndex, recordSigns: false);
            return new GradientCheckResult(layerIndex, layers[layerIndex].GetType().Name, ShortName(p.Name), p.Value.Length,
                maxAbs, maxRel, checkedCount, skipped, passed);
        }

        private double Forward(int from, bool recordSigns) => Forward(from, recordSigns, out _);

        private double Forward(int from, bool recordSigns, out bool kinkCrossed)
        {
            kinkCrossed = false;
            var h = from == 0 ? x : _inputs[from];
            for (int i = from; i < layers.Count; i++)
            {
                _inputs[i] = h;
                h = layers[i].Forward(h, training: true);
                if (layers[i] is not (Relu or LeakyRelu)) continue;
                // Rectifier outputs keep the sign of their inputs (ReLU maps x ≤ 0 to 0), so the output pattern shows a kink crossing.
                var y = h.Span;
                if (recordSigns)
                {
                    var signs = _signs[i] = new bool[y.Length];
                    for (int j = 0; j < y.Length; j++) signs[j] = y[j] > 0f;
                }
                else if (!kinkCrossed && _signs[i] is { } expected)
                {
                    for (int j = 0; j < y.Length; j++)
                        if ((y[j] > 0f) != expected[j]) { kinkCrossed = true; break; }
                }
            }
            return loss.Forward(h, targets);
        }
    }

    /// <summary>All indices when there are at most <paramref name="max"/>, else <paramref name="max"/> distinct ones in increasing order.</summary>
    private static int[] Sample(int length, int max, Rng rng)
    {
        var all = Enumerable.Range(0, length).ToArray();
        if (length <= max) return all;
        // Partial Fisher–Yates: the first max slots become a uniform sample without replacement.
        for (int i = 0; i < max; i++)
        {
            int j = i + rng.NextInt(length - i);
            (all[i], all[j]) = (all[j], all[i]);
        }
        var picked = all[..max];
        Array.Sort(picked);
        return picked;
    }

    /// <summary>"layers.2.weight" → "weight".</summary>
    private static string ShortName(string name) => name[(name.LastIndexOf('.') + 1)..];
}
