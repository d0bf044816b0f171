namespace TrainingService.Contracts;

/// <summary>
/// Where a job is: queued and running are active; succeeded, failed, cancelled and pruned are final. Paused is a search
/// trial stopped at an ASHA rung (its checkpoint at that epoch kept), waiting to be promoted or pruned.
/// </summary>
public enum JobStatus { Queued, Running, Succeeded, Failed, Cancelled, Paused, Pruned }
