using Api.Security;
using Hangfire;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Api.Training;

/// <summary>
/// Hangfire's own Dashboard at /hangfire, read-only and for admin keys only. A browser cannot send X-Api-Key on a page
/// load, so POST /hangfire/sign-in (with an admin X-Api-Key, which a cross-site form cannot send) puts the key in an
/// HttpOnly, SameSite=Strict cookie scoped to /hangfire, where the API-key handler reads it: a revoked key stops
/// working at once, and no other path accepts the cookie.
/// </summary>
public static class HangfireDashboard
{
    private static readonly TimeSpan CookieLifetime = TimeSpan.FromHours(8);

    public static WebApplication MapHangfireDashboardForAdmins(this WebApplication app)
    {
        var group = app.MapGroup(ApiKeys.DashboardPath).WithTags("Hangfire");
        group.MapPost("/sign-in", SignIn).RequireAuthorization(KeysApi.AdminPolicy).WithName("HangfireSignIn")
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden);
        group.MapPost("/sign-out", SignOut).AllowAnonymous().WithName("HangfireSignOut");

        // Authorization is the admin policy on the endpoint; Hangfire's own default filter would allow local requests only.
        app.MapHangfireDashboardWithNoAuthorizationFilters(ApiKeys.DashboardPath, new DashboardOptions
        {
            DashboardTitle = "Training jobs (Hangfire)",
            AppPath = "/",
            IsReadOnlyFunc = _ => true,
            DisplayStorageConnectionString = false,
        }).RequireAuthorization(KeysApi.AdminPolicy);
        return app;
    }

    /// <summary>Lets this browser open the Hangfire Dashboard for 8 hours with the admin key it sent.</summary>
    /// <response code="204">The cookie is set; open /hangfire.</response>
    internal static NoContent SignIn(HttpContext context)
    {
        var key = ApiKeyAuthenticationHandler.Presented(context.Request)!;
        context.Response.Cookies.Append(ApiKeys.DashboardCookie, key, Cookie(context, CookieLifetime));
        return TypedResults.NoContent();
    }

    /// <summary>Forgets the dashboard cookie.</summary>
    internal static NoContent SignOut(HttpContext context)
    {
        context.Response.Cookies.Delete(ApiKeys.DashboardCookie, Cookie(context, TimeSpan.Zero));
        return TypedResults.NoContent();
    }

    private static CookieOptions Cookie(HttpContext context, TimeSpan lifetime) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        Secure = context.Request.IsHttps,
        Path = ApiKeys.DashboardPath,
        MaxAge = lifetime,
        IsEssential = true,
    };
}
