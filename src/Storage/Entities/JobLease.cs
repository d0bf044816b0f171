namespace Storage.Entities;

/// <summary>
/// Which worker may train a job right now. Taken and renewed with conditional UPDATEs, so of two workers (on one node or
/// on two) that both try, exactly one trains; every epoch's write checks the run still holds it.
/// </summary>
public sealed class JobLease
{
    public long JobId { get; set; }
    /// <summary>The node (Training:NodeId) whose worker holds the lease; a node frees its own leases when it starts.</summary>
    public string NodeId { get; set; } = "";
    /// <summary>One training run of the job on that node; only that run renews, writes under and releases the lease.</summary>
    public string RunId { get; set; } = "";
    /// <summary>UTC time after which another run may take the lease, should this one stop renewing it.</summary>
    public DateTime ExpiresAt { get; set; }
}
