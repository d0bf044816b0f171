using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels;

/// <summary>
/// One step of a max pooling window, lane by lane: a candidate replaces the best so far where it is larger, or is the
/// first NaN (as PyTorch), and its offset in the window is noted. Shared by the pooling layer and the fused first conv.
/// </summary>
internal static class WindowMax
{
    /// <summary>Where each of eight adjacent 2×2 windows starts, relative to the first: two inputs apart.</summary>
    public static Vector256<int> Tops8 => Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Take(Vector128<float> v, Vector128<int> offset, ref Vector128<float> best, ref Vector128<int> code)
    {
        var nanV = ~Vector128.Equals(v, v);
        var nanBest = ~Vector128.Equals(best, best);
        var take = Vector128.GreaterThan(v, best) | Vector128.AndNot(nanV, nanBest);
        best = Vector128.ConditionalSelect(take, v, best);
        code = Vector128.ConditionalSelect(take.AsInt32(), offset, code);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Take(Vector256<float> v, Vector256<int> offset, ref Vector256<float> best, ref Vector256<int> code)
    {
        var nanV = ~Vector256.Equals(v, v);
        var nanBest = ~Vector256.Equals(best, best);
        var take = Vector256.GreaterThan(v, best) | Vector256.AndNot(nanV, nanBest);
        best = Vector256.ConditionalSelect(take, v, best);
        code = Vector256.ConditionalSelect(take.AsInt32(), offset, code);
    }
}
