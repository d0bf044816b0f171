namespace TrainingService.Contracts;

/// <summary>Submits a training job. Only <c>datasetId</c> and one of <c>modelId</c> / <c>spec</c> are required.</summary>
/// <param name="ModelId">A stored model to train; or give <paramref name="Spec"/> inline.</param>
/// <param name="Spec">An inline model spec, instead of <paramref name="ModelId"/>.</param>
/// <param name="ValidationSplit">Held-out fraction of the training data, in [0, 1); or give <paramref name="ValidationDatasetId"/>.</param>
/// <param name="ValidationDatasetId">A separate validation data set, normalized with the training set's statistics.</param>
/// <param name="Optimizer">Default adam with learning rate 0.001.</param>
/// <param name="Epochs">Default 10.</param>
/// <param name="BatchSize">Default 32.</param>
/// <param name="Seed">Seeds initialization, shuffling and dropout; default 1. Same seed, same result.</param>
/// <param name="WeightDecay">L2 on weights (decoupled for adamw); default 0.</param>
/// <param name="ClipNorm">Clip the global gradient norm to this value.</param>
/// <param name="Schedule">Learning-rate schedule (constant, step, cosine); default constant.</param>
/// <param name="EarlyStopping">Stop when the monitored loss stops improving.</param>
/// <param name="CheckpointEvery">Store the training state every this many epochs (also at the best and the last); default 1.</param>
public sealed record CreateJobRequest(
    string? Name = null, long? ModelId = null, ModelSpec? Spec = null, long? DatasetId = null, float? ValidationSplit = null,
    long? ValidationDatasetId = null, OptimizerSpec? Optimizer = null, int? Epochs = null, int? BatchSize = null, ulong? Seed = null,
    float? WeightDecay = null, float? ClipNorm = null, ScheduleSpec? Schedule = null, EarlyStoppingSpec? EarlyStopping = null,
    int? CheckpointEvery = null);

/// <summary>One finished epoch.</summary>
/// <param name="IsBest">The monitored loss (validation, else training) beat every earlier epoch.</param>
/// <param name="StoredAt">When the epoch was stored (UTC), as in its EpochCompleted event.</param>
public sealed record MetricDto(
    int Epoch, float TrainLoss, float? TrainAccuracy, float? ValLoss, float? ValAccuracy, float LearningRate,
    double Seconds, double SamplesPerSecond, bool IsBest, DateTime StoredAt);

/// <summary>Where a running job is inside its current epoch.</summary>
public sealed record BatchDto(int Epoch, int Batch, int Batches, float Loss);

/// <summary>A training job.</summary>
/// <param name="Epoch">Epochs completed.</param>
/// <param name="Progress">Percent done, counting the batches of the running epoch.</param>
/// <param name="EtaSeconds">Estimated seconds left, from the mean epoch time; null until an epoch has finished.</param>
/// <param name="Attempts">How many times a worker started the job (resumes and restarts included).</param>
/// <param name="BestEpoch">The epoch with the best monitored loss so far.</param>
/// <param name="Batch">The batch in progress, while the job trains in this process.</param>
/// <param name="Notice">What the service recovered from for this job, e.g. a corrupted checkpoint it skipped; null when nothing.</param>
/// <param name="ExperimentId">The experiment that queued this job, if any (GET /experiments/{id}).</param>
/// <param name="Yields">How many times the job gave its training slot to another owner's waiting job and was queued again
/// (fair share, Training:TimeSliceSeconds); it continued each time exactly where it stopped.</param>
public sealed record JobDto(
    long Id, string? Name, JobStatus Status, long? ModelId, long? DatasetId, long? ValidationDatasetId,
    int Epoch, int Epochs, double Progress, double? EtaSeconds, int Attempts, bool EarlyStopped, string? Error,
    MetricDto? LatestMetrics, int? BestEpoch, BatchDto? Batch, TrainingOptions Options, int CheckpointEvery, ModelSpec Spec,
    DateTime CreatedAt, DateTime? StartedAt, DateTime? FinishedAt, string? Notice, long? ExperimentId = null, int Yields = 0);

/// <summary>A page of jobs, newest first.</summary>
public sealed record JobPage(JobDto[] Items, int Page, int PageSize, int Total);

/// <summary>A stored training state.</summary>
/// <param name="Sha256">Lower-case hex SHA-256 of the training state (the checkpoint's file).</param>
public sealed record CheckpointDto(int Epoch, long SizeBytes, string Sha256, bool IsBest, DateTime CreatedAt);

/// <summary>Inputs to run through a trained job's network.</summary>
/// <param name="Inputs">One row of raw (unnormalized) values per sample; the job's normalization is applied.</param>
/// <param name="Checkpoint">latest (default), best or an epoch number.</param>
public sealed record PredictRequest(float[][]? Inputs, string? Checkpoint = null);

/// <summary>Outputs per input row.</summary>
/// <param name="Epoch">The checkpoint's epoch.</param>
/// <param name="Outputs">Class probabilities (softmax, sigmoid) or regression values, one row per input.</param>
/// <param name="Argmax">The predicted class per row, for classifiers; null for regression.</param>
public sealed record PredictResponse(int Epoch, float[][] Outputs, int[]? Argmax);
