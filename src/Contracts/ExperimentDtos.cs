namespace TrainingService.Contracts;

/// <summary>Several jobs from one base job: same data, seed, epochs and batch size; one change each.</summary>
/// <param name="BaseJob">A job request as for POST /jobs.</param>
/// <param name="Variations">1 to 16 variations with distinct names.</param>
public sealed record CreateExperimentRequest(string? Name, CreateJobRequest? BaseJob, ExperimentVariation[]? Variations);

/// <summary>What one job changes relative to the base job; unset fields keep the base's value.</summary>
/// <param name="Name">Label of the variation (and of its job).</param>
/// <param name="Optimizer">Optimizer type; its other settings (momentum, betas) stay the base's.</param>
/// <param name="Init">Initializer of every dense and conv2d layer.</param>
/// <param name="InitStd">Standard deviation for <c>init: normal</c> (the book's 0.01).</param>
/// <param name="BatchNorm">true: a BatchNorm after every conv2d and hidden dense layer; false: none.</param>
/// <param name="Dropout">Rate of a Dropout after every hidden activation; 0 removes dropout.</param>
/// <param name="Filters">Filters (output channels) of every conv2d layer.</param>
/// <param name="Kernel">Kernel size of every conv2d layer (odd, for <c>padding: "same"</c>).</param>
public sealed record ExperimentVariation(string? Name, OptimizerKind? Optimizer = null, float? LearningRate = null, InitKind? Init = null,
    float? InitStd = null, bool? BatchNorm = null, float? Dropout = null, float? WeightDecay = null, int? Filters = null, int? Kernel = null);

/// <summary>One variation's job and how it did.</summary>
/// <param name="Final">Metrics of the last finished epoch.</param>
/// <param name="Best">Metrics of the best epoch (lowest monitored loss).</param>
/// <param name="TrainingSeconds">Sum of the epochs' training times.</param>
public sealed record ExperimentJobDto(string Variation, long JobId, JobStatus Status, int Epoch, int Epochs,
    MetricDto? Final, MetricDto? Best, double TrainingSeconds);

public sealed record ExperimentDto(long Id, string? Name, DateTime CreatedAt, ExperimentJobDto[] Jobs);

/// <summary>One experiment in the list: enough to pick it; GET /experiments/{id} has the jobs.</summary>
/// <param name="JobCount">Jobs queued for it, one per variation.</param>
public sealed record ExperimentSummaryDto(long Id, string? Name, DateTime CreatedAt, int JobCount);
