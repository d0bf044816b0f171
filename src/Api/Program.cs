using Api.Cluster;
using Api.Datasets;
using Api.Diagnostics;
using Api.Experiments;
using Api.Infrastructure;
using Api.Jobs;
using Api.Models;
using Api.Searches;
using Api.Security;
using Api.Telemetry;
using Api.Training;
using Storage;

// The service as a table of contents; each line's details live in its feature folder.
var builder = WebApplication.CreateBuilder(args);

// SQLite under Storage:DataDirectory (./data by default), migrated at start-up.
builder.Services.AddStorage(builder.Configuration);
// With ConnectionStrings:Redis: the SignalR backplane and the messages between nodes (docs/cluster.md).
builder.AddCluster();
// API keys, owners, rate and size limits (README, Security); after AddStorage, which migrates first.
builder.AddSecurity();
// JSON dialect, problem+json for every error, Swagger, health checks.
builder.Services.AddApiInfrastructure();
// Each feature's own services.
builder.AddDatasets();
builder.AddJobs();
// Hangfire worker (in-memory queue on SQLite, Hangfire.PostgreSql on PostgreSQL), job leases, SignalR, start-up recovery.
builder.AddTraining();
// Hyperparameter searches: trials are jobs; the coordinator decides when one pauses at a rung or ends.
builder.AddSearches();
// OpenTelemetry traces and metrics tagged with the node id; exported only when Telemetry:* says where.
builder.AddTelemetry();

var app = builder.Build();

app.UseApiInfrastructure();
// The dashboard: wwwroot/index.html at "/", its bundle built from src/Api/ClientApp.
app.UseDefaultFiles();
app.UseStaticFiles();
// Everything below needs an API key: the dashboard files, Swagger and /health above or anonymous do not.
app.UseSecurity();

app.MapDatasets();
app.MapModels();
app.MapGradientChecks();
app.MapJobs();
app.MapKeys();
app.MapDiagnostics();
app.MapExperiments();
app.MapSearches();
app.MapHub<TrainingHub>("/hubs/training");
// Hangfire's Dashboard at /hangfire: read-only, admin keys only, signed in through an HttpOnly cookie.
app.MapHangfireDashboardForAdmins();
app.MapHealth();
app.MapTelemetry();

app.Run();

/// <summary>Entry point, public so tests can host the app with WebApplicationFactory.</summary>
public partial class Program;
