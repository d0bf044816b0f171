using System.Buffers.Binary;
using Engine.Kernels;
using Engine.Specs;
using Engine.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Engine.Training;

/// <summary>
/// Updates parameters from their gradients. Per-parameter state (velocity, squared-gradient sums,
/// Adam moments) lives in float[] slots allocated on the first <see cref="Step(IReadOnlyList{Parameter})"/>
/// and reused afterwards, so a steady-state step allocates nothing. The state can be written and read
/// back exactly (<see cref="WriteState"/>, <see cref="ReadState"/>) so a resumed run continues bit for bit.
/// </summary>
public abstract class Optimizer
{
    private float[][][] _slots = [];

    protected Optimizer(OptimizerSpec spec, float weightDecay)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!(weightDecay >= 0f) || float.IsInfinity(weightDecay)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay must be finite and ≥ 0.");
        Spec = spec;
        _split = new SplitStep(this);
        LearningRate = spec.LearningRate;
        WeightDecay = weightDecay;
    }

    public static Optimizer Create(OptimizerSpec spec, float weightDecay)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Type switch
        {
            OptimizerKind.Sgd => new Sgd(spec, weightDecay),
            OptimizerKind.Momentum => new Momentum(spec, weightDecay),
            OptimizerKind.Nesterov => new Nesterov(spec, weightDecay),
            OptimizerKind.AdaGrad => new AdaGrad(spec, weightDecay),
            OptimizerKind.RmsProp => new RmsProp(spec, weightDecay),
            OptimizerKind.Adam => new Adam(spec, weightDecay),
            OptimizerKind.AdamW => new AdamW(spec, weightDecay),
            _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.Type, "Unknown optimizer."),
        };
    }

    public OptimizerSpec Spec { get; }
    public abstract OptimizerKind Kind { get; }
    /// <summary>The current η; trainers set it from the schedule each epoch.</summary>
    public float LearningRate { get; set; }
    /// <summary>λ. Coupled L2 (λ·W added to the gradient) unless <see cref="DecoupledDecay"/>.</summary>
    public float WeightDecay { get; }
    /// <summary>Steps taken so far (Adam's t).</summary>
    public long Steps { get; private set; }

    /// <summary>Float slots kept per parameter (same length as the parameter).</summary>
    protected abstract int SlotCount { get; }
    /// <summary>True when the subclass applies decay itself (AdamW) instead of adding λ·W to the gradient.</summary>
    protected virtual bool DecoupledDecay => false;

    /// <summary>
    /// One update of every parameter. Gradients of decaying parameters get λ·W added in place (coupled L2).
    /// Large steps are split across the engine's worker threads by element ranges: every update is
    /// element-wise, so the split never changes a bit of the result.
    /// </summary>
    public void Step(IReadOnlyList<Parameter> ps)
    {
        ArgumentNullException.ThrowIfNull(ps);
        EnsureState(ps);
        Steps++;
        BeginStep();
        _split.Run(ps);
    }

    private readonly SplitStep _split;

    /// <summary>
    /// When set, <see cref="Step(IReadOnlyList{Parameter})"/> also zeroes each gradient right after using it, while it is
    /// still in cache, so a trainer that clears gradients before every batch can skip that separate pass.
    /// </summary>
    internal bool ClearsGradients { get; set; }

    /// <summary>The step over one element range of every parameter.</summary>
    private sealed class SplitStep(Optimizer owner) : ParameterWork
    {
        // Elements stepped, then cleared, at a time: the block's gradient is still in L1 when it is zeroed.
        private const int Block = 4096;

        protected override void Update(int index, Parameter p, int start, int length)
        {
            bool clear = owner.ClearsGradients;
            for (int at = start, end = start + length; at < end; at += Block)
            {
                var slice = new ParameterSlice(p, owner._slots[index], at, Math.Min(Block, end - at));
                if (owner.WeightDecay > 0f && p.Decays && !owner.DecoupledDecay)
                    TensorPrimitives.MultiplyAdd(slice.Value, owner.WeightDecay, slice.Grad, slice.Grad);
                owner.Step(slice);
                if (clear) slice.Grad.Clear();
            }
        }
    }

    /// <summary>Called once per step before the parameters, after <see cref="Steps"/> is incremented.</summary>
    protected virtual void BeginStep() { }

    /// <summary>
    /// Updates one parameter, or a range of it, in place; the slice's slots are the parameter's own state
    /// over the same range. The update must be element-wise (it may be called once per range).
    /// </summary>
    protected abstract void Step(in ParameterSlice p);

    /// <summary>The same element range of a parameter's value, gradient and optimizer state.</summary>
    protected readonly ref struct ParameterSlice(Parameter parameter, float[][] slots, int start, int length)
    {
        private readonly float[][] _slots = slots;
        public Parameter Parameter { get; } = parameter;
        public Span<float> Value { get; } = parameter.Value.AsSpan(start, length);
        public Span<float> Grad { get; } = parameter.Grad.AsSpan(start, length);
        /// <summary>State array <paramref name="i"/> (velocity, moments...) over the slice's range.</summary>
        public Span<float> Slot(int i) => _slots[i].AsSpan(Start, Length);
        private int Start { get; } = start;
        private int Length { get; } = length;
    }

    /// <summary>
    /// Scales all gradients so their global L2 norm is at most <paramref name="maxNorm"/>; returns the norm
    /// before clipping. Squares are summed per parameter and then in double in parameter order, a fixed
    /// order independent of thread count.
    /// </summary>
    public static double ClipGlobalNorm(IReadOnlyList<Parameter> ps, float maxNorm)
    {
        double sum = 0;
        for (int i = 0; i < ps.Count; i++) sum += TensorPrimitives.SumOfSquares<float>(ps[i].Grad);
        double norm = Math.Sqrt(sum);
        if (norm > maxNorm && norm > 0)
        {
            float scale = (float)(maxNorm / norm);
            for (int i = 0; i < ps.Count; i++) TensorPrimitives.Multiply(ps[i].Grad, scale, ps[i].Grad);
        }
        return norm;
    }

    private void EnsureState(IReadOnlyList<Parameter> ps)
    {
        if (_slots.Length == ps.Count)
        {
            bool same = true;
            for (int i = 0; i < ps.Count && same; i++) same = SlotCount == 0 || _slots[i][0].Length == ps[i].Value.Length;
            if (same) return;
            if (Steps > 0) throw new InvalidOperationException("The optimizer was used with different parameters.");
        }
        else if (Steps > 0 || _slots.Length > 0) throw new InvalidOperationException("The optimizer was used with different parameters.");
        _slots = new float[ps.Count][][];
        for (int i = 0; i < ps.Count; i++)
        {
            _slots[i] = new float[SlotCount][];
            for (int s = 0; s < SlotCount; s++) _slots[i][s] = new float[ps[i].Value.Length];
        }
    }

    /// <summary>
    /// Writes kind, step count and every slot: i32 kind, i64 steps, f32 learning rate, i32 parameter count,
    /// then per parameter i32 slot count and per slot i32 length and that many f32, all little-endian.
    /// </summary>
    public void WriteState(Stream s)
    {
        Span<byte> b = stackalloc byte[8];
        WriteI32(s, (int)Kind, b);
        BinaryPrimitives.WriteInt64LittleEndian(b, Steps); s.Write(b);
        BinaryPrimitives.WriteSingleLittleEndian(b, LearningRate); s.Write(b[..4]);
        WriteI32(s, _slots.Length, b);
        foreach (var slots in _slots)
        {
            WriteI32(s, slots.Length, b);
            foreach (var slot in slots) StateIO.WriteFloats(s, slot);
        }
    }

    /// <summary>Reads what <see cref="WriteState"/> wrote for the same parameters; throws <see cref="InvalidTrainingStateException"/> on any mismatch.</summary>
    public void ReadState(ReadOnlySpan<byte> data, IReadOnlyList<Parameter> ps)
    {
        var r = new StateReader(data, "optimizer state");
        int kind = r.ReadInt32();
        if (kind != (int)Kind) throw new InvalidTrainingStateException($"Optimizer state is for {(OptimizerKind)kind}, not {Kind}.");
        long steps = r.ReadInt64();
        if (steps < 0) throw new InvalidTrainingStateException("Optimizer step count is negative.");
        float lr = r.ReadSingle();
        int count = r.ReadInt32();
        if (count != 0 && count != ps.Count) throw new InvalidTrainingStateException($"Optimizer state has {count} parameters, the network {ps.Count}.");
        var slots = new float[ps.Count][][];
        for (int i = 0; i < count; i++)
        {
            int n = r.ReadInt32();
            if (n != SlotCount) throw new InvalidTrainingStateException($"Optimizer state for '{ps[i].Name}' has {n} slots, expected {SlotCount}.");
            slots[i] = new float[n][];
            for (int s = 0; s < n; s++) slots[i][s] = r.ReadFloats(ps[i].Value.Length, ps[i].Name);
        }
        r.EnsureEnd();
        // A state saved before the first step has no slots; they are allocated on the first step as usual.
        _slots = count == 0 ? [] : slots;
        Steps = steps;
        LearningRate = lr;
    }

    private static void WriteI32(Stream s, int v, Span<byte> b)
    {
        BinaryPrimitives.WriteInt32LittleEndian(b, v);
        s.Write(b[..4]);
    }
}
