using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Storage;

namespace Api.Security;

/// <summary>
/// Authenticates <c>X-Api-Key</c>; on the SignalR hub also the JavaScript client's token, which it sends
/// as <c>access_token</c> in the query (WebSockets cannot carry headers) or as a Bearer header (negotiate).
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    IDbContextFactory<TrainingDbContext> contexts, ApiKeyCache cache, IOptions<SecurityOptions> security, IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string AdminRole = "admin";
    public const string KeyIdClaim = "key_id";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = Presented(Request);
        if (string.IsNullOrEmpty(key))
            return security.Value.RequireApiKey ? AuthenticateResult.NoResult() : Success(SecurityOptions.OpenOwner, admin: true, keyId: "open");

        var hash = ApiKeys.Hash(key);
        if (cache.TryGet(hash, out var known)) return Success(known.Owner, known.IsAdmin, known.KeyId);
        await using var db = await contexts.CreateDbContextAsync(Context.RequestAborted);
        var row = await db.ApiKeys.AsNoTracking().FirstOrDefaultAsync(k => k.Hash == hash && k.RevokedAt == null, Context.RequestAborted);
        // The message names no part of the key: messages reach logs.
        if (row is null) return AuthenticateResult.Fail("unknown or revoked API key");
        var keyId = row.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        cache.Add(hash, row.Owner, row.IsAdmin, keyId);
        return Success(row.Owner, row.IsAdmin, keyId);
    }

    internal static string? Presented(HttpRequest request)
    {
        if (request.Headers.TryGetValue(ApiKeys.Header, out var header)) return header.ToString();
        if (request.Path.StartsWithSegments(ApiKeys.DashboardPath))
            return request.Cookies.TryGetValue(ApiKeys.DashboardCookie, out var cookie) ? cookie : null;
        if (!request.Path.StartsWithSegments("/hubs")) return null;
        if (request.Query.TryGetValue(ApiKeys.QueryParameter, out var token)) return token.ToString();
        var authorization = request.Headers.Authorization.ToString();
        return authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization["Bearer ".Length..].Trim() : null;
    }

    private AuthenticateResult Success(string owner, bool admin, string keyId)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, owner), new(KeyIdClaim, keyId) };
        if (admin) claims.Add(new Claim(ClaimTypes.Role, AdminRole));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = $"{SchemeName} header=\"{ApiKeys.Header}\"";
        return WriteAsync(StatusCodes.Status401Unauthorized, "Unauthorized", Request.Path.StartsWithSegments(ApiKeys.DashboardPath)
            ? $"sign in with an admin key first: the Hangfire link of the service's dashboard, or POST {ApiKeys.DashboardPath}/sign-in with {ApiKeys.Header}"
            : $"send a valid API key in the {ApiKeys.Header} header (SignalR: accessTokenFactory); see README, Security");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        WriteAsync(StatusCodes.Status403Forbidden, "Forbidden", "this operation needs an admin key");

    private async Task WriteAsync(int status, string title, string detail)
    {
        Response.StatusCode = status;
        var errors = new Dictionary<string, string[]> { [ApiKeys.Header] = [detail] };
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new HttpValidationProblemDetails(errors) { Status = status, Title = title, Detail = detail },
        });
    }
}
