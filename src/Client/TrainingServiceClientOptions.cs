namespace TrainingService.Client;

/// <summary>How a <see cref="TrainingServiceClient"/> retries, waits and reconnects.</summary>
public sealed class TrainingServiceClientOptions
{
    /// <summary>How many times a request answered with 429 is sent again after its <c>Retry-After</c>; 0 never retries. Default 3.</summary>
    public int MaxRateLimitRetries { get; set; } = 3;

    /// <summary>The longest <c>Retry-After</c> the client waits out; a longer one is thrown at once. Default 30 s.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Timeout of one HTTP request (a weight download or data set upload included). Default 10 minutes.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long <see cref="TrainingServiceClient.WatchAsync"/> keeps trying to reconnect after it lost the service
    /// (a restart, a network drop) before it throws. Default 2 minutes.
    /// </summary>
    public TimeSpan ReconnectWindow { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Pause between reconnection attempts. Default 0.5 s.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(500);
}
