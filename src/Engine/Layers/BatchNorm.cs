using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// Batch normalization over the batch dimension, per feature column.
/// Training: μ, σ² are the batch mean and biased variance (÷N), x̂ = (x − μ)/√(σ² + ε), y = γ·x̂ + β;
/// running = m·running + (1 − m)·batch. The running variance uses the <em>unbiased</em> batch variance
/// (÷(N − 1)), as PyTorch does, so exported buffers mean the same in <c>torch.nn.BatchNorm1d</c>
/// (whose momentum is our 1 − m); a batch of one sample leaves the running variance unchanged.
/// Evaluation: the running statistics replace the batch ones.
/// With a <c>plane</c> above one (after a conv) each row is [C, plane] and the statistics are per channel over
/// the batch and the plane, as <c>torch.nn.BatchNorm2d</c>.
/// </summary>
public sealed class BatchNorm : Layer
{
    private readonly int _width, _plane;
    private readonly Tensor _output = new(0, 0);
    private readonly Tensor _inputGrad = new(0, 0);
    private readonly Tensor _normalized = new(0, 0);
    private readonly float[] _mean, _variance, _invStd, _sumDy, _sumDyXhat, _scratch;
    private readonly Parameter[] _parameters;
    private readonly NamedBuffer[] _buffers;
    private bool _lastTraining;
    private bool _ready;

    /// <param name="width">Features, or channels when <paramref name="plane"/> is above one.</param>
    /// <param name="plane">Values per channel (H·W); 1 normalizes every feature on its own.</param>
    public BatchNorm(int width, float momentum = 0.9f, float epsilon = 1e-5f, string namePrefix = "", int plane = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(plane);
        _plane = plane;
        if (!(momentum is >= 0f and <= 1f)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum must be in [0, 1].");
        if (!(epsilon > 0f) || float.IsInfinity(epsilon)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Epsilon must be positive.");
        _width = width;
        Momentum = momentum;
        Epsilon = epsilon;
        Gamma = new Parameter(namePrefix + "weight", [width], decays: false);
        Beta = new Parameter(namePrefix + "bias", [width], decays: false);
        Array.Fill(Gamma.Value, 1f);
        RunningMean = new NamedBuffer(namePrefix + "running_mean", new float[width]);
        RunningVar = new NamedBuffer(namePrefix + "running_var", new float[width]);
        Array.Fill(RunningVar.Value, 1f);
        _parameters = [Gamma, Beta];
        _buffers = [RunningMean, RunningVar];
        _mean = new float[width]; _variance = new float[width]; _invStd = new float[width];
        _sumDy = new float[width]; _sumDyXhat = new float[width]; _scratch = new float[width];
    }

    public float Momentum { get; }
    public float Epsilon { get; }
    /// <summary>γ, exported as <c>weight</c>.</summary>
    public Parameter Gamma { get; }
    /// <summary>β, exported as <c>bias</c>.</summary>
    public Parameter Beta { get; }
    public NamedBuffer RunningMean { get; }
    /// <summary>Running unbiased variance.</summary>
    public NamedBuffer RunningVar { get; }

    public override int OutputWidth => _width * _plane;
    /// <summary>Values per channel; 1 for per-feature normalization.</summary>
    public int Plane => _plane;
    // Cached: trainers read these every step and must not allocate.
    public override IReadOnlyList<Parameter> Parameters => _parameters;
    public override IReadOnlyList<NamedBuffer> Buffers => _buffers;

    public override Tensor Forward(Tensor x, bool training)
    {
        if (_plane > 1) return ForwardChannels(x, training);
        ActivationShapes.Check(x, _width);
        int n = x.Rows;
        _output.Resize(n, _width);
        _normalized.Resize(n, _width);
        _lastTraining = training && n > 0;
        if (_lastTraining) BatchStatistics(x);
        else
        {
            RunningMean.Value.CopyTo(_mean, 0);
            TensorPrimitives.Add(RunningVar.Value, Epsilon, _invStd);
            TensorPrimitives.ReciprocalSqrt<float>(_invStd, _invStd);
        }
        for (int r = 0; r < n; r++)
            BatchNormRows.Normalize(x.Row(r), _mean, _invStd, Gamma.Value, Beta.Value, _normalized.Row(r), _output.Row(r));
        _ready = true;
        return _output;
    }

    /// <summary>Batch mean and biased variance (row order fixed), then the running-statistics update.</summary>
    private void BatchStatistics(Tensor x)
    {
        int n = x.Rows;
        Array.Clear(_mean);
        for (int r = 0; r < n; r++) TensorPrimitives.Add(_mean, x.Row(r), _mean);
        TensorPrimitives.Multiply(_mean, 1f / n, _mean);
        Array.Clear(_variance);
        for (int r = 0; r < n; r++) BatchNormRows.AccumulateSquaredDeviation(x.Row(r), _mean, _variance);
        FinishStatistics(n);
    }

    /// <summary>Variance ÷ count, 1/√(σ² + ε), then the running-statistics update; <paramref name="count"/> values per feature.</summary>
    private void FinishStatistics(long count)
    {
        TensorPrimitives.Multiply(_variance, 1f / count, _variance);
        TensorPrimitives.Add(_variance, Epsilon, _invStd);
        TensorPrimitives.ReciprocalSqrt<float>(_invStd, _invStd);

        float keep = Momentum, take = 1f - Momentum;
        TensorPrimitives.Multiply(RunningMean.Value, keep, RunningMean.Value);
        TensorPrimitives.MultiplyAdd(_mean, take, RunningMean.Value, RunningMean.Value);
        if (count > 1)
        {
            TensorPrimitives.Multiply(RunningVar.Value, keep, RunningVar.Value);
            TensorPrimitives.MultiplyAdd(_variance, take * count / (count - 1), RunningVar.Value, RunningVar.Value);
        }
    }

    public override Tensor Backward(Tensor dy)
    {
        ActivationShapes.CheckBackward(_ready ? _output : null, dy);
        if (_plane > 1) return BackwardChannels(dy);
        int n = dy.Rows;
        Array.Clear(_sumDy);
        Array.Clear(_sumDyXhat);
        for (int r = 0; r < n; r++) BatchNormRows.AccumulateSums(dy.Row(r), _normalized.Row(r), _sumDy, _sumDyXhat);
        TensorPrimitives.Add(Gamma.Grad, _sumDyXhat, Gamma.Grad);
        TensorPrimitives.Add(Beta.Grad, _sumDy, Beta.Grad);

        _inputGrad.Resize(n, _width);
        // γ/√(σ² + ε): the whole gradient in evaluation mode, where μ and σ² are constants.
        TensorPrimitives.Multiply(Gamma.Value, _invStd, _scratch);
        if (!_lastTraining)
        {
            for (int r = 0; r < n; r++) TensorPrimitives.Multiply(dy.Row(r), _scratch, _inputGrad.Row(r));
            return _inputGrad;
        }
        // dx = (1/N)·γ/√(σ² + ε)·(N·dy − Σdy − x̂·Σ(dy·x̂)): μ and σ² depend on every row of the batch.
        TensorPrimitives.Multiply(_scratch, 1f / n, _scratch);
        TensorPrimitives.Negate(_sumDyXhat, _sumDyXhat);
        for (int r = 0; r < n; r++)
            BatchNormRows.InputGradient(dy.Row(r), _normalized.Row(r), n, _sumDy, _sumDyXhat, _scratch, _inputGrad.Row(r));
        return _inputGrad;
    }

    private Tensor ForwardChannels(Tensor x, bool training)
    {
        int n = x.Rows, plane = _plane, width = _width * plane;
        ActivationShapes.Check(x, width);
        _output.Resize(n, width);
        _normalized.Resize(n, width);
        _lastTraining = training && n > 0;
        if (_lastTraining)
        {
            long count = (long)n * plane;
            Array.Clear(_mean);
            for (int r = 0; r < n; r++)
                for (int c = 0; c < _width; c++) _mean[c] += TensorPrimitives.Sum(x.Data.AsSpan(r * width + c * plane, plane));
            TensorPrimitives.Multiply(_mean, 1f / count, _mean);
            Array.Clear(_variance);
            for (int r = 0; r < n; r++)
                for (int c = 0; c < _width; c++)
                {
                    var segment = x.Data.AsSpan(r * width + c * plane, plane);
                    float m = _mean[c], sum = 0f;
                    foreach (float v in segment) { float d = v - m; sum = MathF.FusedMultiplyAdd(d, d, sum); }
                    _variance[c] += sum;
                }
            FinishStatistics(count);
        }
        else
        {
            RunningMean.Value.CopyTo(_mean, 0);
            TensorPrimitives.Add(RunningVar.Value, Epsilon, _invStd);
            TensorPrimitives.ReciprocalSqrt<float>(_invStd, _invStd);
        }
        for (int r = 0; r < n; r++)
            for (int c = 0; c < _width; c++)
            {
                int at = r * width + c * plane;
                var xhat = _normalized.Data.AsSpan(at, plane);
                var y = _output.Data.AsSpan(at, plane);
                TensorPrimitives.Subtract(x.Data.AsSpan(at, plane), _mean[c], xhat);
                TensorPrimitives.Multiply(xhat, _invStd[c], xhat);
                TensorPrimitives.Multiply(xhat, Gamma.Value[c], y);
                TensorPrimitives.Add(y, Beta.Value[c], y);
            }
        _ready = true;
        return _output;
    }

    private Tensor BackwardChannels(Tensor dy)
    {
        int n = dy.Rows, plane = _plane, width = _width * plane;
        long count = (long)n * plane;
        Array.Clear(_sumDy);
        Array.Clear(_sumDyXhat);
        for (int r = 0; r < n; r++)
            for (int c = 0; c < _width; c++)
            {
                int at = r * width + c * plane;
                var g = dy.Data.AsSpan(at, plane);
                _sumDy[c] += TensorPrimitives.Sum(g);
                _sumDyXhat[c] += TensorPrimitives.Dot(g, _normalized.Data.AsSpan(at, plane));
            }
        TensorPrimitives.Add(Gamma.Grad, _sumDyXhat, Gamma.Grad);
        TensorPrimitives.Add(Beta.Grad, _sumDy, Beta.Grad);

        _inputGrad.Resize(n, width);
        TensorPrimitives.Multiply(Gamma.Value, _invStd, _scratch);
        for (int r = 0; r < n; r++)
            for (int c = 0; c < _width; c++)
            {
                int at = r * width + c * plane;
                var g = dy.Data.AsSpan(at, plane);
                var dx = _inputGrad.Data.AsSpan(at, plane);
                if (!_lastTraining) { TensorPrimitives.Multiply(g, _scratch[c], dx); continue; }
                // dx = γ/√(σ² + ε)·(dy − Σdy/M − x̂·Σ(dy·x̂)/M) over the channel's M = N·plane values.
                TensorPrimitives.Multiply(_normalized.Data.AsSpan(at, plane), -_sumDyXhat[c] / count, dx);
                TensorPrimitives.Add(dx, g, dx);
                TensorPrimitives.Add(dx, -_sumDy[c] / count, dx);
                TensorPrimitives.Multiply(dx, _scratch[c], dx);
            }
        return _inputGrad;
    }
}
