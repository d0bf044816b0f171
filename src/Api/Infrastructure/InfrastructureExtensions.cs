namespace Api.Infrastructure;

public static class InfrastructureExtensions
{
    /// <summary>JSON dialect, problem details for every error, Swagger, and the database health check.</summary>
    public static IServiceCollection AddApiInfrastructure(this IServiceCollection services)
    {
        services.AddApiJson();
        services.AddProblemDetails();
        services.AddExceptionHandler<BadInputExceptionHandler>();
        // Binding failures throw instead of answering an empty 400, so BadInputExceptionHandler can name the field.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddApiDocs();
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database");
        return services;
    }

    public static WebApplication UseApiInfrastructure(this WebApplication app)
    {
        app.UseSecurityHeaders();
        app.UseExceptionHandler();
        // Unknown routes and wrong methods answer problem+json like everything else.
        app.UseStatusCodePages();
        app.UseApiDocs();
        return app;
    }
}
