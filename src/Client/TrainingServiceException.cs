using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using TrainingService.Contracts;

namespace TrainingService.Client;

/// <summary>
/// A request the service answered with an error: its <c>application/problem+json</c> body (status, title, detail and
/// the errors by field, e.g. <c>layers[2].units</c>), or the bare status when the body is not a problem.
/// </summary>
public sealed class TrainingServiceException : Exception
{
    public TrainingServiceException(HttpStatusCode status, string? title, string? detail,
        IReadOnlyDictionary<string, string[]>? errors = null, TimeSpan? retryAfter = null, string? requestUri = null)
        : base(Describe(status, title, detail, requestUri))
    {
        Status = status;
        Title = title;
        Detail = detail;
        Errors = errors ?? new Dictionary<string, string[]>();
        RetryAfter = retryAfter;
        RequestUri = requestUri;
    }

    /// <summary>The HTTP status (400, 404, 409, 413, 422, 429, ...).</summary>
    public HttpStatusCode Status { get; }

    /// <summary>The problem's short title, e.g. "The request is invalid".</summary>
    public string? Title { get; }

    /// <summary>Every error in one sentence; the body's text when it was not problem+json.</summary>
    public string? Detail { get; }

    /// <summary>Messages by field path (<c>epochs</c>, <c>spec.layers[1].rate</c>, <c>X-Api-Key</c>); empty when the problem names none.</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; }

    /// <summary>The wait the service asked for with <c>Retry-After</c> (429), if any.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>Method and address of the request that failed.</summary>
    public string? RequestUri { get; }

    /// <summary>Reads the problem from a failed response and disposes the response.</summary>
    internal static async Task<TrainingServiceException> FromResponseAsync(HttpResponseMessage response, CancellationToken ct)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            var request = response.RequestMessage is { } m ? $"{m.Method} {m.RequestUri}" : null;
            var retryAfter = RetryDelay(response.Headers.RetryAfter);
            Problem? problem = null;
            if (text.Length > 0 && response.Content.Headers.ContentType?.MediaType is { } type && type.Contains("json", StringComparison.OrdinalIgnoreCase))
            {
                try
                {
                    problem = JsonSerializer.Deserialize<Problem>(text, ServiceJson.Options);
                }
                catch (JsonException)
                {
                    // Not a problem document after all; the text is kept as the detail.
                }
            }
            return problem is null
                ? new TrainingServiceException(response.StatusCode, response.ReasonPhrase, text.Length == 0 ? null : text, null, retryAfter, request)
                : new TrainingServiceException(response.StatusCode, problem.Title, problem.Detail, problem.Errors, retryAfter, request);
        }
    }

    internal static TimeSpan? RetryDelay(RetryConditionHeaderValue? header) => header switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    private static string Describe(HttpStatusCode status, string? title, string? detail, string? request) =>
        $"{(int)status} {title ?? status.ToString()}{(detail is null ? "" : ": " + detail)}{(request is null ? "" : $" ({request})")}";

    private sealed record Problem(string? Type, string? Title, int? Status, string? Detail, Dictionary<string, string[]>? Errors);
}
