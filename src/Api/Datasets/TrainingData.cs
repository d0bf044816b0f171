using Engine.Data;
using Engine.Specs;
using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;
using Dataset = Engine.Data.Dataset;

namespace Api.Datasets;

/// <summary>A job's training and validation data, loaded from their files and checked against the job's model.</summary>
public sealed class TrainingData(IDbContextFactory<TrainingDbContext> contexts, DatasetFiles datasets)
{
    /// <summary>
    /// Normalization is fitted on the training data set and the same map applied to the validation set,
    /// so both (and later predictions, through the stored state) see identical inputs.
    /// </summary>
    /// <exception cref="InvalidDataException">A data set was deleted, or does not fit the model.</exception>
    public async Task<(Dataset Train, Dataset? Validation)> LoadAsync(Job job, ModelSpec spec)
    {
        await using var db = await contexts.CreateDbContextAsync();
        var trainRow = await db.Datasets.AsNoTracking().FirstOrDefaultAsync(d => d.Id == job.DatasetId)
                       ?? throw new InvalidDataException("the training data set was deleted");
        var train = Normalization.Fit(datasets.Load(trainRow), DatasetMapping.ParseNormalization(trainRow.Normalization));
        Dataset? validation = null;
        if (job.ValidationDatasetId is { } validationId)
        {
            var row = await db.Datasets.AsNoTracking().FirstOrDefaultAsync(d => d.Id == validationId)
                      ?? throw new InvalidDataException("the validation data set was deleted");
            validation = Normalization.Apply(datasets.Load(row), train.Transform);
        }
        var errors = SpecValidator.CheckDataset(spec, train).Concat(validation is null ? [] : SpecValidator.CheckDataset(spec, validation)).ToList();
        if (errors.Count > 0) throw new InvalidDataException(string.Join("; ", errors));
        return (train, validation);
    }
}
