namespace TrainingService.Contracts;

/// <summary>Creates a model from a spec.</summary>
/// <param name="Name">Display name.</param>
/// <param name="Spec">Input shape, layers (each with its <c>type</c>) and loss.</param>
public sealed record CreateModelRequest(string? Name, ModelSpec? Spec);

/// <summary>Dry run of a spec.</summary>
/// <param name="BatchSize">Batch size for the memory estimate; default 32.</param>
public sealed record ValidateModelRequest(ModelSpec? Spec, int? BatchSize = null);

/// <summary>One layer after shape inference.</summary>
public sealed record LayerDto(int Index, string Type, int[] OutputShape, long Parameters);

/// <summary>A stored model.</summary>
/// <param name="ParameterCount">Learnable values in the whole model.</param>
/// <param name="ImportedWeights">True for a model from <c>POST /models/import</c>: its jobs start from those weights, not from the seed.</param>
public sealed record ModelDto(long Id, string Name, ModelSpec Spec, long ParameterCount, int[] OutputShape, LayerDto[] Layers, DateTime CreatedAt,
    bool ImportedWeights = false);

/// <summary>What a valid spec builds and how much memory training it takes.</summary>
/// <param name="ParameterBytes">float32 bytes of the learnable parameters.</param>
/// <param name="ActivationBytesPerSample">Training-time activation and gradient bytes per sample.</param>
/// <param name="EstimatedTrainingBytes">Weights, gradients, Adam's moments, buffers and activations for <paramref name="BatchSize"/>.</param>
public sealed record SpecReportDto(
    bool Valid, LayerDto[] Layers, long TotalParameters, int[] OutputShape, long ParameterBytes,
    long ActivationBytesPerSample, int BatchSize, long EstimatedTrainingBytes);
