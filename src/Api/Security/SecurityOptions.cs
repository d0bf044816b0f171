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

    public RateLimitOptions RateLimit { get; set; } = new();
}

/// <summary>A token bucket per API key: <see cref="TokenLimit"/> burst, refilled by <see cref="TokensPerPeriod"/> every period.</summary>
public sealed class RateLimitOptions
{
    public int TokenLimit { get; set; } = 100;
    public int TokensPerPeriod { get; set; } = 50;
    public double PeriodSeconds { get; set; } = 1;
}
