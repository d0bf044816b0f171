namespace Engine;

/// <summary>
/// A tensor as exported to other tools: a name (<c>0.weight</c>), a shape in PyTorch's layout
/// and row-major float32 data of exactly product(shape) values.
/// </summary>
public sealed record NamedTensor(string Name, int[] Shape, float[] Data)
{
    /// <summary>product(shape) with overflow checked; shapes come from untrusted files.</summary>
    public static long ElementCount(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new InvalidDataException($"Negative dimension {d} in shape.");
            n = checked(n * d);
        }
        return n;
    }
}

/// <summary>An int64 scalar of a state dict, e.g. BatchNorm's <c>1.num_batches_tracked</c>.</summary>
public sealed record NamedInt64(string Name, long Value);

/// <summary>What is wrong with one tensor of a state dict, e.g. <c>0.weight</c>: "expected [16, 2], got [2, 16]".</summary>
public sealed record TensorProblem(string Name, string Message);
