using Api.Security;
using Api.Training;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Api.Telemetry;

public static class TelemetryExtensions
{
    /// <summary>
    /// OpenTelemetry tracing (training runs, ASP.NET Core requests) and metrics (<see cref="TrainingMetrics"/>, ASP.NET Core),
    /// every series and span tagged with this node's Training:NodeId (resource attributes <c>service.instance.id</c> and
    /// <c>node.id</c>). Nothing is collected unless an exporter is configured (Telemetry:Prometheus, Telemetry:OtlpEndpoint).
    /// </summary>
    public static WebApplicationBuilder AddTelemetry(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        builder.Services.Configure<TelemetryOptions>(builder.Configuration.GetSection(TelemetryOptions.Section));
        bool otlp = !string.IsNullOrWhiteSpace(options.OtlpEndpoint);
        if (!otlp && !options.Prometheus) return builder;

        var node = builder.Configuration.GetSection(WorkerOptions.Section).Get<WorkerOptions>()?.NodeId ?? Environment.MachineName;
        var telemetry = builder.Services.AddOpenTelemetry().ConfigureResource(r => r
            .AddService("training-service", serviceInstanceId: node)
            .AddAttributes([new KeyValuePair<string, object>("node.id", node)]));
        telemetry.WithMetrics(m =>
        {
            m.AddMeter(TrainingMetrics.Name, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel");
            if (options.Prometheus) m.AddPrometheusExporter();
            if (otlp) m.AddOtlpExporter(o => o.Endpoint = new Uri(options.OtlpEndpoint!));
        });
        if (otlp)
        {
            telemetry.WithTracing(t => t
                .AddSource(TrainingMetrics.Name, "Microsoft.AspNetCore")
                .AddOtlpExporter(o => o.Endpoint = new Uri(options.OtlpEndpoint!)));
        }
        return builder;
    }

    /// <summary>GET /metrics for Prometheus (admin keys only) when Telemetry:Prometheus is on.</summary>
    public static WebApplication MapTelemetry(this WebApplication app)
    {
        if (app.Configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>()?.Prometheus == true)
            app.MapPrometheusScrapingEndpoint("/metrics").RequireAuthorization(KeysApi.AdminPolicy);
        return app;
    }
}
