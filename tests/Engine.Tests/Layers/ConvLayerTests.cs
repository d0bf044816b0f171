using Engine.Kernels;
using Engine.Layers;
using Engine.Tensors;

namespace Engine.Tests.Layers;

public class ConvLayerTests
{
    private static Conv2d RandomConv(int c, int h, int w, int filters, int kernel, int stride, int padding, bool bias, ulong seed)
    {
        var conv = new Conv2d(c, h, w, filters, kernel, stride, padding, bias);
        var rng = new Rng(seed);
        foreach (var p in conv.Parameters)
            for (int i = 0; i < p.Value.Length; i++) p.Value[i] = 2f * rng.NextSingle() - 1f;
        return conv;
    }

    /// <summary>Distinct values 0.05 apart in random order: a ±h step never changes which value of a window is largest.</summary>
    private static Tensor Distinct(int rows, int cols, ulong seed)
    {
        var rng = new Rng(seed);
        var order = Enumerable.Range(0, rows * cols).ToArray();
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var t = new Tensor(rows, cols);
        for (int i = 0; i < order.Length; i++) t.Span[i] = 0.05f * (order[i] - order.Length / 2);
        return t;
    }

    [Theory]
    [InlineData(2, 5, 5, 3, 3, 1, 1, 3)]   // "same"
    [InlineData(2, 5, 5, 3, 3, 1, 0, 2)]   // valid
    [InlineData(2, 7, 5, 3, 3, 2, 0, 2)]   // stride 2, odd sizes
    [InlineData(1, 7, 7, 2, 3, 2, 1, 1)]   // stride 2, padding 1, batch 1
    [InlineData(3, 6, 6, 2, 2, 2, 0, 2)]   // even kernel
    [InlineData(3, 4, 5, 2, 1, 1, 0, 2)]   // 1×1 reads the input directly
    [InlineData(2, 3, 3, 2, 5, 1, 2, 1)]   // kernel larger than the image, padding makes it fit
    public void Conv2dGradientsMatchCentralDifferences(int c, int h, int w, int filters, int kernel, int stride, int padding, int batch)
    {
        var conv = RandomConv(c, h, w, filters, kernel, stride, padding, bias: true, seed: 11);
        GradientCheck.Layer(conv, GradientCheck.Uniform(batch, c * h * w, 12));
    }

    [Fact]
    public void Conv2dWithoutBiasHasOnlyAWeightAndItsGradientMatches()
    {
        var conv = RandomConv(2, 5, 5, 2, 3, 1, 1, bias: false, seed: 13);
        Assert.Single(conv.Parameters);
        GradientCheck.Layer(conv, GradientCheck.Uniform(2, 50, 14));
    }

    [Theory]
    [InlineData(1, 5, 17, 5, 2)]   // one channel, a row of 17: the 16-wide blocks overlap by 15; five filters: 4 + 1, 2 + 2 + 1
    [InlineData(3, 4, 20, 6, 1)]   // three channels (RGB), batch 1
    [InlineData(2, 3, 32, 2, 2)]   // rows of exactly two blocks
    public void Conv2dGradientsMatchCentralDifferencesOnTheDirectPath(int c, int h, int w, int filters, int batch)
    {
        var conv = RandomConv(c, h, w, filters, 3, 1, 1, bias: true, seed: 41);
        GradientCheck.Layer(conv, GradientCheck.Uniform(batch, c * h * w, 42));
    }

    [Theory]
    [InlineData(1, 1, 2, 6, 5, 3)]
    [InlineData(2, 0, 2, 6, 5, 3)]
    [InlineData(1, 1, 1, 4, 18, 5)]  // the direct 3×3 path (rows of at least 16)
    [InlineData(1, 1, 3, 3, 16, 4)]
    public void Conv2dForwardEqualsTheDirectSum(int stride, int padding, int c, int h, int w, int f)
    {
        const int k = 3, n = 2;
        var conv = RandomConv(c, h, w, f, k, stride, padding, bias: true, seed: 15);
        var x = GradientCheck.Uniform(n, c * h * w, 16);
        var y = conv.Forward(x, training: false);
        int oh = conv.OutHeight, ow = conv.OutWidth;
        for (int s = 0; s < n; s++)
            for (int o = 0; o < f; o++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        double sum = conv.Bias!.Value[o];
                        for (int ci = 0; ci < c; ci++)
                            for (int a = 0; a < k; a++)
                                for (int b = 0; b < k; b++)
                                {
                                    int ih = i * stride - padding + a, iw = j * stride - padding + b;
                                    if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                                    sum += conv.Weight.Value[((o * c + ci) * k + a) * k + b] * x[s, (ci * h + ih) * w + iw];
                                }
                        Assert.Equal(sum, y[s, (o * oh + i) * ow + j], 1e-5);
                    }
    }

    [Theory]
    [InlineData(0)]     // the default budget: one chunk for this small layer
    [InlineData(16000)] // three samples per chunk: 13 chunks split across the threads
    public void Conv2dGradientsAreBitIdenticalOnOneAndTwoThreads(int columnBudget)
    {
        float[] Run(int threads)
        {
            int saved = Gemm.MaxThreads;
            Gemm.MaxThreads = threads;
            Conv2d.ForcedColumnBudget = columnBudget;
            Gemm.ForceSplit = true;
            try
            {
                var conv = RandomConv(4, 12, 12, 8, 3, 1, 1, bias: true, seed: 17);
                var x = GradientCheck.Uniform(37, 4 * 144, 18);
                var y = conv.Forward(x, training: true);
                var dy = GradientCheck.Uniform(y.Rows, y.Cols, 19);
                var dx = conv.Backward(dy);
                return [.. y.Span, .. dx.Span, .. conv.Weight.Grad, .. conv.Bias!.Grad];
            }
            finally
            {
                Gemm.MaxThreads = saved;
                Conv2d.ForcedColumnBudget = 0;
                Gemm.ForceSplit = false;
            }
        }
        Assert.Equal(Run(1), Run(2));
    }

    [Theory]
    [InlineData(2, 5, 5, 3, 3, 1, 1)]  // "same": the contiguous unfolding
    [InlineData(2, 7, 5, 3, 3, 2, 0)]  // stride 2: the row-by-row unfolding
    [InlineData(1, 6, 6, 8, 3, 1, 1)]  // fewer taps than filters: the transposed weight-gradient product
    [InlineData(3, 4, 4, 4, 3, 1, 1)]  // planes narrower than the GEMM's slivers: panels spanning samples
    [InlineData(2, 6, 6, 3, 5, 1, 2)]  // 5×5 "same" through the panels
    public void Conv2dGradientsMatchCentralDifferencesWhenTheBatchIsSplitIntoChunks(int c, int h, int w, int filters, int kernel, int stride, int padding)
    {
        var conv = RandomConv(c, h, w, filters, kernel, stride, padding, bias: true, seed: 31);
        Conv2d.ForcedColumnBudget = 1;
        try
        {
            Assert.Equal(3, conv.Chunks(3));
            GradientCheck.Layer(conv, GradientCheck.Uniform(3, c * h * w, 32));
        }
        finally { Conv2d.ForcedColumnBudget = 0; }
    }

    [Fact]
    public void Conv2dGivesTheSameOutputAndInputGradientWhateverTheChunking()
    {
        const int c = 3, h = 9, w = 9, f = 5, n = 7;
        (float[] Y, float[] Dx, float[] Dw) Run(int budget)
        {
            Conv2d.ForcedColumnBudget = budget;
            try
            {
                var conv = RandomConv(c, h, w, f, 3, 1, 1, bias: true, seed: 33);
                var x = GradientCheck.Uniform(n, c * h * w, 34);
                var y = conv.Forward(x, training: true).Span.ToArray();
                var dx = conv.Backward(GradientCheck.Uniform(n, y.Length / n, 35)).Span.ToArray();
                return (y, dx, conv.Weight.Grad.ToArray());
            }
            finally { Conv2d.ForcedColumnBudget = 0; }
        }
        var one = Run(0);
        var many = Run(1);
        // Each output and input-gradient element is one product's dot product over the same k, in the same order.
        Assert.Equal(one.Y, many.Y);
        Assert.Equal(one.Dx, many.Dx);
        // The weight gradient sums per-chunk partials: the same value up to rounding.
        for (int i = 0; i < one.Dw.Length; i++) Assert.Equal(one.Dw[i], many.Dw[i], 1e-4);
    }

    [Theory]
    [InlineData(0)]     // one chunk: the stored column matrix
    [InlineData(6000)]  // two samples per chunk: the products take their panels from the input
    public void Conv2dAndPoolingTrainingStepsAllocateNothingOnceWarm(int columnBudget)
    {
        int saved = Gemm.MaxThreads;
        Gemm.MaxThreads = 1;
        Conv2d.ForcedColumnBudget = columnBudget;
        try
        {
            var conv = RandomConv(2, 12, 12, 6, 3, 1, 1, bias: true, seed: 37);
            var pool = new MaxPool2d(6, 12, 12, 2, 2);
            var x = GradientCheck.Uniform(16, 2 * 144, 38);
            var dy = GradientCheck.Uniform(16, 6 * 36, 39);
            void Step()
            {
                pool.Forward(conv.Forward(x, training: true), training: true);
                conv.Backward(pool.Backward(dy));
            }
            Step();
            long before = GC.GetAllocatedBytesForCurrentThread();
            Step();
            Step();
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        finally
        {
            Gemm.MaxThreads = saved;
            Conv2d.ForcedColumnBudget = 0;
        }
    }

    [Theory]
    [InlineData(3, 4, 4, 5, 3, 1)]    // planes of 16, narrower than a sliver: a sliver spans several samples
    [InlineData(4, 7, 9, 6, 3, 1)]    // odd sizes
    [InlineData(2, 6, 6, 4, 5, 2)]    // 5×5 "same"
    [InlineData(8, 5, 5, 40, 3, 1)]   // 72 taps: a last sliver of 8 taps in the weight gradient's panels
    [InlineData(1, 5, 5, 12, 3, 1)]   // fewer taps than filters: the weight gradient keeps the stored columns
    public void Conv2dPanelsWrittenFromTheInputGiveTheStoredColumnsBits(int c, int h, int w, int filters, int kernel, int padding)
    {
        const int batch = 7;
        float[] Run(Gemm.Path path, bool stored)
        {
            int saved = Gemm.MaxThreads;
            var savedPath = Gemm.ForcedPath;
            // One thread runs every chunk on this thread, so the forced kernel path holds for all of them.
            Gemm.MaxThreads = 1;
            Gemm.ForcedPath = path;
            Conv2d.ForceStoredColumns = stored;
            try
            {
                var conv = RandomConv(c, h, w, filters, kernel, 1, padding, bias: true, seed: 43);
                // Two samples per chunk (the last chunk one), so runs of positions cross from one sample to the next.
                Conv2d.ForcedColumnBudget = 2 * conv.PatchSize * h * w;
                Assert.Equal(4, conv.Chunks(batch));
                var x = GradientCheck.Uniform(batch, c * h * w, 44);
                var y = conv.Forward(x, training: true).Span.ToArray();
                var dx = conv.Backward(GradientCheck.Uniform(batch, y.Length / batch, 45)).Span.ToArray();
                return [.. y, .. dx, .. conv.Weight.Grad, .. conv.Bias!.Grad];
            }
            finally
            {
                Gemm.MaxThreads = saved;
                Gemm.ForcedPath = savedPath;
                Conv2d.ForceStoredColumns = false;
                Conv2d.ForcedColumnBudget = 0;
            }
        }
        foreach (var path in new[] { Gemm.Path.Vector512, Gemm.Path.Vector256 })
            if (path != Gemm.Path.Vector512 || System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
                Assert.Equal(Run(path, stored: true), Run(path, stored: false));
    }

    [Theory]
    [InlineData(2, 5, 5, 2, 2, 3)]  // odd size: the last row and column are dropped
    [InlineData(1, 6, 6, 3, 3, 1)]  // batch 1
    [InlineData(2, 5, 4, 3, 1, 2)]  // overlapping windows
    public void MaxPool2dGradientMatchesCentralDifferences(int c, int h, int w, int size, int stride, int batch) =>
        GradientCheck.Layer(new MaxPool2d(c, h, w, size, stride), Distinct(batch, c * h * w, 21));

    [Theory]
    [InlineData(2, 5, 5, 2, 2, 3)]
    [InlineData(1, 6, 6, 3, 3, 1)]
    [InlineData(2, 5, 4, 3, 1, 2)]
    public void AvgPool2dGradientMatchesCentralDifferences(int c, int h, int w, int size, int stride, int batch) =>
        GradientCheck.Layer(new AvgPool2d(c, h, w, size, stride), GradientCheck.Uniform(batch, c * h * w, 22));

    [Theory]
    [InlineData(2, 6, 10, 2)]  // 2×2 stride 2 with five outputs a row: the vectorized path, last four overlapping
    [InlineData(1, 9, 17, 1)]  // odd sizes: the last row and column are dropped
    [InlineData(2, 4, 20, 2)]  // ten outputs a row: eight-wide blocks where AVX2 is there, the last overlapping
    [InlineData(1, 5, 33, 1)]  // sixteen outputs a row, two eight-wide blocks, the odd row and column dropped
    public void MaxPool2dPairsGradientMatchesCentralDifferences(int c, int h, int w, int batch) =>
        GradientCheck.Layer(new MaxPool2d(c, h, w, 2, 2), Distinct(batch, c * h * w, 26));

    [Theory]
    [InlineData(12)]  // four-wide blocks
    [InlineData(28)]  // eight-wide blocks (AVX2), as after the reference CNN's first convolution
    [InlineData(20)]
    public void MaxPool2dPairsTakeTheFirstMaximumOnTiesAndTheFirstNaN(int w)
    {
        const int c = 2, h = 4;
        var rng = new Rng(27);
        var x = new Tensor(3, c * h * w);
        // Few distinct values make ties common; a few NaNs stand in for a diverged activation.
        for (int i = 0; i < x.Span.Length; i++) x.Span[i] = rng.NextInt(4) == 0 ? float.NaN : rng.NextInt(3);
        var pool = new MaxPool2d(c, h, w, 2, 2);
        var y = pool.Forward(x, training: true);
        int o = 0;
        for (int s = 0; s < x.Rows; s++)
            for (int ch = 0; ch < c; ch++)
                for (int oh = 0; oh < h / 2; oh++)
                    for (int ow = 0; ow < w / 2; ow++, o++)
                    {
                        int top = (ch * h + 2 * oh) * w + 2 * ow, best = top;
                        foreach (int at in new[] { top, top + 1, top + w, top + w + 1 })
                        {
                            float v = x[s, at], max = x[s, best];
                            if (v > max || float.IsNaN(v) && !float.IsNaN(max)) best = at;
                        }
                        Assert.Equal(best, pool.Argmax[o]);
                        Assert.Equal(x[s, best], y.Span[o]);
                    }

        // Backward: each window's gradient at its maximum and zero at its other three inputs.
        var g = GradientCheck.Uniform(3, c * (h / 2) * (w / 2), 28);
        var dx = pool.Backward(g);
        var expected = new float[dx.Span.Length];
        for (int s = 0, at = 0; s < x.Rows; s++)
            for (int i = 0; i < c * (h / 2) * (w / 2); i++, at++) expected[s * c * h * w + pool.Argmax[at]] = g.Span[at];
        Assert.Equal(expected, dx.Span.ToArray());
    }

    [Fact]
    public void MaxPool2dTakesEachWindowsMaximum()
    {
        var pool = new MaxPool2d(1, 3, 4, 2, 2);
        var x = Tensor.FromRows([[1, 5, 2, 0, 3, 4, 8, 7, 9, 9, 9, 9]]);
        Assert.Equal([5f, 8f], pool.Forward(x, training: false).Span.ToArray());
    }

    [Fact]
    public void GlobalAvgPool2dGradientMatchesCentralDifferences() =>
        GradientCheck.Layer(new GlobalAvgPool2d(3, 7), GradientCheck.Uniform(2, 21, 23));

    [Fact]
    public void FlattenPassesValuesAndGradientsThrough()
    {
        var x = GradientCheck.Uniform(2, 12, 24);
        var flatten = new Flatten(12);
        Assert.Equal(x.Span.ToArray(), flatten.Forward(x, true).Span.ToArray());
        Assert.Equal(x.Span.ToArray(), flatten.Backward(x).Span.ToArray());
    }

    [Theory]
    [InlineData(true, 3)]
    [InlineData(true, 1)]
    [InlineData(false, 2)]
    public void ChannelBatchNormGradientsMatchCentralDifferences(bool training, int batch)
    {
        var bn = new BatchNorm(3, plane: 5);
        new float[] { 1.5f, -0.7f, 0.3f }.CopyTo(bn.Gamma.Value, 0);
        new float[] { 0.2f, -0.1f, 0.5f }.CopyTo(bn.Beta.Value, 0);
        new float[] { 0.1f, -0.2f, 0.3f }.CopyTo(bn.RunningMean.Value, 0);
        new float[] { 0.5f, 1.5f, 2f }.CopyTo(bn.RunningVar.Value, 0);
        GradientCheck.Layer(bn, GradientCheck.Uniform(batch, 15, 25, scale: 2f), training);
    }

    [Fact]
    public void ChannelBatchNormNormalizesEachChannelOverBatchAndPlane()
    {
        var bn = new BatchNorm(2, momentum: 0.9f, plane: 3);
        var x = Tensor.FromRows([[1, 2, 3, 10, 10, 10], [4, 5, 6, 20, 20, 20]]);
        var y = bn.Forward(x, training: true);
        // Channel 0 holds 1..6 (mean 3.5, biased variance 35/12); channel 1 holds three 10s and three 20s.
        Assert.Equal((1 - 3.5) / Math.Sqrt(35.0 / 12 + 1e-5), y[0, 0], 4);
        Assert.Equal(-1.0, y[0, 3], 4);
        Assert.Equal(1.0, y[1, 5], 4);
        Assert.Equal(0.1f * 3.5f, bn.RunningMean.Value[0], 5);
        // Running variance is unbiased over the channel's 6 values: (35/12)·6/5 = 3.5.
        Assert.Equal(0.9f + 0.1f * 3.5f, bn.RunningVar.Value[0], 5);
    }
}
