using Engine.Specs;

namespace Api.Experiments;

/// <summary>Applies a variation to the base spec; each change is a whole-model rewrite, so variations stay comparable.</summary>
internal static class ExperimentVariations
{
    public static ModelSpec Apply(ModelSpec spec, ExperimentVariation v)
    {
        var layers = spec.Layers.ToList();
        if (v.Init is { } init)
            layers = [.. layers.Select(l => l switch
            {
                DenseSpec d => d with { Init = init, Std = init == InitKind.Normal ? v.InitStd ?? d.Std : null },
                Conv2dSpec c => c with { Init = init, Std = init == InitKind.Normal ? v.InitStd ?? c.Std : null },
                _ => l,
            })];
        if (v.Filters is { } filters) layers = [.. layers.Select(l => l is Conv2dSpec c ? c with { Filters = filters } : l)];
        if (v.Kernel is { } kernel) layers = [.. layers.Select(l => l is Conv2dSpec c ? c with { Kernel = kernel } : l)];
        if (v.BatchNorm is { } batchNorm)
        {
            layers.RemoveAll(l => l is BatchNormSpec);
            if (batchNorm) layers = InsertAfter(layers, l => l is DenseSpec or Conv2dSpec, () => new BatchNormSpec());
        }
        if (v.Dropout is { } rate)
        {
            layers.RemoveAll(l => l is DropoutSpec);
            if (rate > 0) layers = InsertAfter(layers, l => l is ReluSpec or LeakyReluSpec or SigmoidSpec or TanhSpec, () => new DropoutSpec(rate));
        }
        return spec with { Layers = layers };
    }

    /// <summary>Inserts after every matching layer that a later dense layer follows, i.e. hidden layers only, never the output.</summary>
    private static List<LayerSpec> InsertAfter(List<LayerSpec> layers, Func<LayerSpec, bool> match, Func<LayerSpec> make)
    {
        int lastDense = layers.FindLastIndex(l => l is DenseSpec);
        var result = new List<LayerSpec>();
        for (int i = 0; i < layers.Count; i++)
        {
            result.Add(layers[i]);
            if (i < lastDense && match(layers[i])) result.Add(make());
        }
        return result;
    }
}
