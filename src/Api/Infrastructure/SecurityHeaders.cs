namespace Api.Infrastructure;

/// <summary>
/// Headers that keep the dashboard and Swagger UI, which hold an API key in localStorage, from being framed,
/// sniffed or made to run injected script: on every response, so static files and API answers alike carry them.
/// </summary>
public static class SecurityHeaders
{
    /// <summary>Scripts and styles only from the service itself (Swagger UI sets inline styles), no framing, no plugins.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    public static WebApplication UseSecurityHeaders(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XFrameOptions = "DENY";
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            return next(context);
        });
        return app;
    }
}
