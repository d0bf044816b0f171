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
/// </summary>
public sealed class BatchNorm : Layer
{
    private readonly int _width;
    private readonly Tensor _output = new(0, 0);
    private readonly Tensor _inputGrad = new(0, 0);
    private readonly Tensor _normalized = new(0, 0);
    private readonly float[] _mean, _variance, _invStd, _sumDy, _sumDyXhat, _scratch;
    private readonly Parameter[] _parameters;
    private readonly NamedBuffer[] _buffers;
    private bool _lastTraining;
    private bool _ready;

    public BatchNorm(int width, float momentum = 0.9f, float epsilon = 1e-5f, string namePrefix = "")
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
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

    public override int OutputWidth => _width;
    // Cached: trainers read these every step and must not allocate.
    public override IReadOnlyList<Parameter> Parameters => _parameters;
    public override IReadOnlyList<NamedBuffer> Buffers => _buffers;

    public override Tensor Forward(Tensor x, bool training)
    {
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
        TensorPrimitives.Multiply(_variance, 1f / n, _variance);
        TensorPrimitives.Add(_variance, Epsilon, _invStd);
        TensorPrimitives.ReciprocalSqrt<float>(_invStd, _invStd);

        float keep = Momentum, take = 1f - Momentum;
        TensorPrimitives.Multiply(RunningMean.Value, keep, RunningMean.Value);
        TensorPrimitives.MultiplyAdd(_mean, take, RunningMean.Value, RunningMean.Value);
        if (n > 1)
        {
            TensorPrimitives.Multiply(RunningVar.Value, keep, RunningVar.Value);
            TensorPrimitives.MultiplyAdd(_variance, take * n / (n - 1), RunningVar.Value, RunningVar.Value);
        }
    }

    public override Tensor Backward(Tensor dy)
    {
        ActivationShapes.CheckBackward(_ready ? _output : null, dy);
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
}
