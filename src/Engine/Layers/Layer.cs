using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// One step of the network: <see cref="Forward"/> keeps what <see cref="Backward"/> needs, and
/// <see cref="Backward"/> accumulates (<c>+=</c>) parameter gradients and returns the gradient with
/// respect to its input. Output and input-gradient tensors are owned by the layer and reused across
/// batches; callers must not keep them past the next call.
/// </summary>
public abstract class Layer
{
    /// <summary>Width of one output row.</summary>
    public abstract int OutputWidth { get; }

    public abstract Tensor Forward(Tensor x, bool training);

    public abstract Tensor Backward(Tensor dy);

    /// <summary>
    /// Backward when nothing needs the input gradient (the network's first trainable layer): accumulates
    /// the parameter gradients only. Layers whose input gradient costs real work override it.
    /// </summary>
    internal virtual void BackwardParameters(Tensor dy) => Backward(dy);

    /// <summary>Learnable parameters (empty for activations).</summary>
    public virtual IReadOnlyList<Parameter> Parameters => [];

    /// <summary>Non-learnable state saved with the model, e.g. BatchNorm running statistics.</summary>
    public virtual IReadOnlyList<NamedBuffer> Buffers => [];
}

/// <summary>A named, non-learnable float buffer (running mean, running variance).</summary>
public sealed record NamedBuffer(string Name, float[] Value);
