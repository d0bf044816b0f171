namespace TrainingService.Contracts;

/// <summary>Where a job is: queued and running are active; succeeded, failed and cancelled are final.</summary>
public enum JobStatus { Queued, Running, Succeeded, Failed, Cancelled }
