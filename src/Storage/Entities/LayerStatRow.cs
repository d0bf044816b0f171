namespace Storage.Entities;

/// <summary>One layer's diagnostics at the end of one epoch; unique per (job, epoch, layer).</summary>
public sealed class LayerStatRow
{
    public long Id { get; set; }
    public long JobId { get; set; }
    public int Epoch { get; set; }
    public int LayerIndex { get; set; }
    public required string Type { get; set; }
    public double? WeightNorm { get; set; }
    public double? GradNorm { get; set; }
    public double? GradToWeight { get; set; }
    public double Mean { get; set; }
    public double Std { get; set; }
    public double? DeadFraction { get; set; }
    public double HistogramMin { get; set; }
    public double HistogramMax { get; set; }
    /// <summary>The bin counts as a JSON array: read whole, never queried by bin.</summary>
    public required string HistogramJson { get; set; }
}
