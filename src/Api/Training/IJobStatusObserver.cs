using Storage.Entities;

namespace Api.Training;

/// <summary>
/// Told of every status change <see cref="JobLifecycle"/> makes, after it is stored and announced and outside the job's
/// event lock (features above Training, such as searches, react to their jobs without Training knowing them).
/// </summary>
public interface IJobStatusObserver
{
    Task StatusChangedAsync(Job job);
}
