using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Api.Tests.Security;

/// <summary>The service with every log category at Trace, each line (with its scopes and exception) kept.</summary>
public sealed class LogCapturingFactory : ServiceFactory
{
    public ConcurrentQueue<string> Lines { get; } = new();

    protected override IEnumerable<(string Key, string Value)> Settings =>
    [
        ("Logging:LogLevel:Default", "Trace"),
        ("Logging:LogLevel:Microsoft", "Trace"),
        ("Logging:LogLevel:Microsoft.AspNetCore", "Trace"),
        ("Logging:LogLevel:Microsoft.EntityFrameworkCore", "Trace"),
    ];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(s => s.AddSingleton<ILoggerProvider>(new CaptureProvider(Lines)));
    }

    private sealed class CaptureProvider(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new CaptureLogger(categoryName, lines);
        public void Dispose() { }
    }

    private sealed class CaptureLogger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable BeginScope<TState>(TState state) where TState : notnull
        {
            lines.Enqueue($"{category} scope: {state}");
            return NullScope.Instance;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{category} {logLevel}: {formatter(state, exception)} {state} {exception}");
    }

    private sealed class NullScope : IDisposable
    {
        public static readonly NullScope Instance = new();
        public void Dispose() { }
    }
}

public sealed class KeyLoggingTests(LogCapturingFactory factory) : IClassFixture<LogCapturingFactory>
{
    [Fact]
    public async Task KeysInHeadersAndQueryStringsNeverReachTheLogs()
    {
        var admin = factory.AdminKey;
        var unknown = "nnk_" + new string('Q', 43);
        var client = factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/jobs")).StatusCode);
        await client.GetAsync("/no-such-route");
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.CreateClient(unknown).GetAsync("/jobs")).StatusCode);

        var anonymous = factory.CreateClient(null);
        // The SignalR JavaScript client's way: the key as access_token in the query string.
        Assert.Equal(HttpStatusCode.OK, (await anonymous.PostAsync($"/hubs/training/negotiate?negotiateVersion=1&access_token={admin}", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync($"/hubs/training/negotiate?negotiateVersion=1&access_token={unknown}", null)).StatusCode);
        await anonymous.GetAsync($"/jobs?access_token={admin}");
        await anonymous.GetAsync($"/datasets/1?access_token={unknown}&x={admin}");

        var lines = factory.Lines.ToArray();
        // Trace logging really was on for the framework, so the absence below means something.
        Assert.Contains(lines, l => l.StartsWith("Api.Security.ApiKeyAuthenticationHandler", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("Microsoft.AspNetCore.Routing", StringComparison.Ordinal));
        foreach (var secret in new[] { admin, unknown, admin[4..20], unknown[4..20] })
            Assert.DoesNotContain(lines, l => l.Contains(secret, StringComparison.Ordinal));
    }
}
