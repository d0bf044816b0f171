namespace Api.Telemetry;

/// <summary>The <c>Telemetry</c> configuration section: every exporter is off until configured.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>Serves the metrics at GET /metrics in Prometheus's text format, to admin keys only.</summary>
    public bool Prometheus { get; set; }

    /// <summary>An OTLP collector (e.g. <c>http://otel-collector:4317</c>) that receives traces and metrics.</summary>
    public string? OtlpEndpoint { get; set; }
}
