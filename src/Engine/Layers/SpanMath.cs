using System.Numerics;

namespace Engine.Layers;

/// <summary>
/// The one element-wise operation TensorPrimitives lacks: a per-element select on sign, which ReLU and
/// LeakyReLU need for their gradient (and LeakyReLU for its forward, where max(x, αx) would be wrong for α &gt; 1).
/// </summary>
internal static class SpanMath
{
    /// <summary>destination[i] = gate[i] &gt; 0 ? value[i] : negativeScale·value[i]. Spans may alias destination.</summary>
    public static void SelectPositive(ReadOnlySpan<float> gate, ReadOnlySpan<float> value, float negativeScale, Span<float> destination)
    {
        if (gate.Length != value.Length || destination.Length < value.Length) throw new ArgumentException("Span lengths differ.");
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var scale = new Vector<float>(negativeScale);
            for (; i <= value.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var g = new Vector<float>(gate[i..]);
                var v = new Vector<float>(value[i..]);
                Vector.ConditionalSelect(Vector.GreaterThan(g, Vector<float>.Zero), v, v * scale).CopyTo(destination[i..]);
            }
        }
        for (; i < value.Length; i++) destination[i] = gate[i] > 0 ? value[i] : negativeScale * value[i];
    }
}
