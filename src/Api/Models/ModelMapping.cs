using Api.Infrastructure;
using Engine.Specs;
using Storage.Entities;

namespace Api.Models;

public static class ModelMapping
{
    public static LayerDto[] AsDto(this IEnumerable<LayerReport> layers) =>
        [.. layers.Select(l => new LayerDto(l.Index, l.Type, l.OutputShape, l.Parameters))];

    public static SpecReportDto AsDto(this SpecReport r, int batchSize) => new(
        r.IsValid, r.Layers.AsDto(), r.TotalParameters, r.OutputShape, r.ParameterBytes, r.ActivationBytesPerSample,
        batchSize, r.EstimateBytes(batchSize));

    /// <summary>Layers are recomputed from the stored spec: validation is cheap and keeps one source of truth.</summary>
    public static ModelDto AsDto(this Model m)
    {
        var spec = StoredJson.ReadSpec(m.SpecJson);
        var report = SpecValidator.Validate(spec);
        return new ModelDto(m.Id, m.Name, spec, m.ParameterCount, report.OutputShape, report.Layers.AsDto(), m.CreatedAt, m.WeightsSha256 is not null);
    }
}
