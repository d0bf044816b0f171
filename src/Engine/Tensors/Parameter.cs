namespace Engine.Tensors;

/// <summary>A learnable tensor and its gradient, which backward passes accumulate into (<c>+=</c>).</summary>
/// <param name="name">Name in training states, e.g. <c>layers.0.weight</c> (exports use PyTorch state-dict names, <see cref="Network.StateDictNaming"/>).</param>
/// <param name="shape">Logical shape of the value in the engine's own layout.</param>
/// <param name="decays">True for weights that L2 / decoupled weight decay applies to; false for biases and BatchNorm.</param>
public sealed class Parameter(string name, int[] shape, bool decays)
{
    public string Name { get; } = name;
    public int[] Shape { get; } = shape;
    public bool Decays { get; } = decays;
    public float[] Value { get; } = new float[ShapeSize(shape)];
    public float[] Grad { get; } = new float[ShapeSize(shape)];

    public void ZeroGrad() => Array.Clear(Grad);

    private static int ShapeSize(int[] shape)
    {
        long n = 1;
        foreach (var d in shape) n = checked(n * d);
        return checked((int)n);
    }
}
