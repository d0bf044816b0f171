namespace Api.Security;

/// <summary>The <c>Security</c> configuration section.</summary>
public sealed class SecurityOptions
{
    public const string Section = "Security";

    /// <summary>When false, requests without a key act as owner <see cref="OpenOwner"/> (an admin); for a laptop, never for a server.</summary>
    public bool RequireApiKey { get; set; } = true;

    /// <summary>The owner of keyless requests when <see cref="RequireApiKey"/> is false.</summary>
    public const string OpenOwner = "default";

    /// <summary>
    /// Used as the first admin key instead of a random one when the database has no keys (deployments
    /// that inject a secret, test hosts). Never written to admin.key or the console.
    /// </summary>
    public string? BootstrapAdminKey { get; set; }

    /// <summary>Largest request body except dataset uploads (those use Storage:MaxUploadBytes).</summary>
    public long MaxRequestBodyBytes { get; set; } = 30L * 1024 * 1024;

    /// <summary>Queued plus running jobs one owner may have; more is answered 409.</summary>
    public int MaxActiveJobsPerOwner { get; set; } = 20;

    /// <summary>
    /// Bytes of data set and checkpoint files one owner may keep. A data set that would pass it is 413, a job
    /// submitted while it is passed is 409; both name the quota and the usage.
    /// </summary>
    public long MaxStoredBytesPerOwner { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>
    /// Largest estimated size of one job, parameters × training samples × epochs (a proxy for its multiply-adds);
    /// larger jobs are 422. The default is about an hour of one two-core machine's training.
    /// </summary>
    public double MaxJobCost { get; set; } = 1e14;

    /// <summary>Most parameters a gradient check may cover (it runs two forward passes per checked entry); more is 422.</summary>
    public long MaxGradientCheckParameters { get; set; } = 2_000_000;

    /// <summary>
    /// Requests that load a checkpoint's network or run a gradient check at once (predict, weight downloads,
    /// gradient checks); a few more wait, the rest are 429 with Retry-After.
    /// </summary>
    public int MaxConcurrentModelRequests { get; set; } = 2;

    public RateLimitOptions RateLimit { get; set; } = new();
}

/// <summary>A token bucket per API key: <see cref="TokenLimit"/> burst, refilled by <see cref="TokensPerPeriod"/> every period.</summary>
public sealed class RateLimitOptions
{
    public int TokenLimit { get; set; } = 100;
    public int TokensPerPeriod { get; set; } = 50;
    public double PeriodSeconds { get; set; } = 1;
}
