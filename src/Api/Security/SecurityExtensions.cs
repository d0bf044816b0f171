using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Storage;

namespace Api.Security;

public static class SecurityExtensions
{
    /// <summary>
    /// API-key authentication, a fallback policy that makes every endpoint require a key unless it says
    /// AllowAnonymous, the admin policy, owner scoping of the database, the rate limiter, the body limit
    /// and the first admin key. Call after AddStorage: the admin key needs the migrated database.
    /// </summary>
    public static WebApplicationBuilder AddSecurity(this WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(SecurityOptions.Section);
        builder.Services.Configure<SecurityOptions>(section);
        var options = section.Get<SecurityOptions>() ?? new SecurityOptions();
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes);

        builder.Services.AddHttpContextAccessor();
        builder.Services.AddSingleton<IOwnerScope, RequestOwnerScope>();
        builder.Services.AddSingleton<ApiKeyCache>();
        builder.Services.AddSingleton<StorageQuota>();
        builder.Services.AddSingleton<ModelWork>();
        builder.Services.AddSingleton<UploadWork>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder(ApiKeyAuthenticationHandler.SchemeName).RequireAuthenticatedUser().Build())
            .AddPolicy(KeysApi.AdminPolicy, p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
                .RequireAuthenticatedUser().RequireRole(ApiKeyAuthenticationHandler.AdminRole));
        builder.Services.AddHostedService<AdminKeyBootstrap>();
        builder.Services.AddHostedService<KeyRevocations>();
        builder.Services.AddKeyRateLimiter();
        builder.Services.AddSingleton<KeyConnections>();
        builder.Services.AddSingleton<HubLimitsFilter>();
        builder.Services.Configure<HubOptions>(o => o.AddFilter<HubLimitsFilter>());
        // HubLimitsFilter logs failed hub calls (refusals at Debug, without a stack trace); this one would log each at Error.
        builder.Logging.AddFilter("Microsoft.AspNetCore.SignalR.Internal.DefaultHubDispatcher", LogLevel.None);
        // Hosting's "Request starting/finished" lines carry the query string, which holds the hub's
        // access_token; they are written before any middleware could strip it, so they stay off.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        return builder;
    }

    /// <summary>Authentication, then the per-key rate limiter (it partitions by the authenticated key), then authorization and the body limit.</summary>
    public static WebApplication UseSecurity(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        app.UseRequestBodyLimit();
        return app;
    }
}
