using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// y = max(x, 0); the gradient at exactly 0 is taken as 0, as in PyTorch. A large batch (a conv layer's output) is
/// split by element ranges across the worker pool where the second core measures faster.
/// </summary>
public sealed class Relu(int width) : Layer
{
    private readonly Tensor _output = new(0, 0);
    private readonly Tensor _inputGrad = new(0, 0);
    private readonly Pass _pass = new();
    private Tensor? _input;

    public override int OutputWidth => width;

    public override Tensor Forward(Tensor x, bool training)
    {
        ActivationShapes.Check(x, width);
        _input = x;
        _output.Resize(x.Rows, x.Cols);
        _pass.Run(x, null, _output);
        return _output;
    }

    public override Tensor Backward(Tensor dy)
    {
        var x = ActivationShapes.CheckBackward(_input, dy);
        _inputGrad.Resize(dy.Rows, dy.Cols);
        _pass.Run(x, dy, _inputGrad);
        return _inputGrad;
    }

    /// <summary>Forward (no gradient) or backward over element ranges; element-wise, so any split gives the same bits.</summary>
    private sealed class Pass : PoolWork
    {
        // Below this many elements (~10 µs) a pass is not worth waking a thread.
        private const long ElementsPerThread = 1 << 16;
        // Range borders on whole cache lines, so two threads never write the same line.
        private const int Align = 16;

        private Tensor? _x, _dy, _destination;

        public void Run(Tensor x, Tensor? dy, Tensor destination)
        {
            (_x, _dy, _destination) = (x, dy, destination);
            try
            {
                int threads = (int)Math.Clamp(x.Length / ElementsPerThread, 1, Gemm.MaxThreads);
                if (threads == 1) RunChunk(0, 1);
                else ThreadChoice.For(ThreadChoice.WorkKind.Activation, x.Length * (dy is null ? 1L : -1L), threads).Run(this, chunksPerThread: 1);
            }
            finally { _x = _dy = _destination = null; }
        }

        public override void RunChunk(int chunk, int chunks)
        {
            int n = _x!.Length;
            int lo = Border(n, chunk, chunks), hi = Border(n, chunk + 1, chunks);
            var destination = _destination!.Span[lo..hi];
            if (_dy is null) TensorPrimitives.Max(_x.Span[lo..hi], 0f, destination);
            else SpanMath.SelectPositive(_x.Span[lo..hi], _dy.Span[lo..hi], 0f, destination);
        }

        private static int Border(int n, int c, int chunks) => c == chunks ? n : (int)((long)n * c / chunks) / Align * Align;
    }
}

internal static class ActivationShapes
{
    public static void Check(Tensor x, int width)
    {
        if (x.Cols != width) throw new ArgumentException($"Layer expects {width} input columns, got {x.Cols}.", nameof(x));
    }

    /// <summary>Returns the tensor Forward saw after checking dy has its shape.</summary>
    public static Tensor CheckBackward(Tensor? saved, Tensor dy)
    {
        var s = saved ?? throw new InvalidOperationException("Backward called before Forward.");
        if (dy.Rows != s.Rows || dy.Cols != s.Cols)
            throw new ArgumentException($"Gradient is {dy.Rows}×{dy.Cols} but the forward output was {s.Rows}×{s.Cols}.", nameof(dy));
        return s;
    }
}
