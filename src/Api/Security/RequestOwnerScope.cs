using System.Security.Claims;
using Storage;

namespace Api.Security;

/// <summary>
/// The owner of the current request, for <see cref="TrainingDbContext"/>'s filters. Outside a request
/// (the Hangfire worker, start-up recovery) there is no HttpContext and contexts are unscoped.
/// </summary>
internal sealed class RequestOwnerScope(IHttpContextAccessor accessor) : IOwnerScope
{
    /// <summary>
    /// Matches no row: a request that is not authenticated (e.g. /health) sees nothing. Owners start with a letter or
    /// digit (KeysApi), so no owner is "!"-prefixed; PostgreSQL refuses NUL in text, so that cannot mark it.
    /// </summary>
    private const string Nobody = "!nobody";

    public string? OwnerId => accessor.HttpContext is { } context ? OwnerOf(context.User) ?? Nobody : null;

    public static string? OwnerOf(ClaimsPrincipal? user) =>
        user?.Identity?.IsAuthenticated == true ? user.FindFirstValue(ClaimTypes.Name) : null;
}
