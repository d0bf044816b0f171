using System.Net;
using System.Text.Json;

namespace Api.Tests;

internal static class Problem
{
    /// <summary>
    /// Asserts a problem+json answer with <paramref name="status"/> that names <paramref name="field"/>
    /// in <c>errors</c>; returns the messages given for it.
    /// </summary>
    public static async Task<string[]> AssertAsync(HttpResponseMessage response, HttpStatusCode status, string field)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = JsonDocument.Parse(text).RootElement;
        Assert.Equal((int)status, body.GetProperty("status").GetInt32());
        Assert.True(body.TryGetProperty("errors", out var errors), $"no errors in {text}");
        Assert.True(errors.TryGetProperty(field, out var messages), $"errors do not name '{field}': {text}");
        var list = messages.EnumerateArray().Select(m => m.GetString()!).ToArray();
        Assert.All(list, m => Assert.False(string.IsNullOrWhiteSpace(m)));
        Assert.Contains(field, body.GetProperty("detail").GetString());
        return list;
    }

    /// <summary>Asserts a problem+json answer with <paramref name="status"/>, whatever field it names.</summary>
    public static async Task AssertAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal((int)status, JsonDocument.Parse(text).RootElement.GetProperty("status").GetInt32());
    }
}
