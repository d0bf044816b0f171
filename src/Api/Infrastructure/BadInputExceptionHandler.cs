using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;

namespace Api.Infrastructure;

/// <summary>
/// Turns what the framework throws for bad input (malformed JSON, an unknown layer <c>type</c>, an
/// unparsable query value, a body over the size limit) into problem+json naming the field. Minimal APIs
/// only throw these because <c>ThrowOnBadRequest</c> is on; otherwise they answer 400 with no body.
/// </summary>
internal sealed class BadInputExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var json = Find<JsonException>(exception);
        (int status, string field, string message) = exception switch
        {
            _ when json is not null => (StatusCodes.Status400BadRequest, Field(json.Path), Message(json)),
            BadHttpRequestException b => (b.StatusCode, "", b.Message),
            _ => (0, "", ""),
        };
        if (status == 0 || context.Response.HasStarted) return false;
        context.Response.StatusCode = status;
        var errors = new Dictionary<string, string[]> { [field] = [message] };
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = new HttpValidationProblemDetails(errors)
            {
                Status = status,
                Title = status == StatusCodes.Status413PayloadTooLarge ? "Request too large" : "The request is invalid",
                Detail = field.Length == 0 ? message : $"{field}: {message}",
            },
        });
    }

    private static T? Find<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException)
            if (e is T t) return t;
        return null;
    }

    /// <summary>"$.spec.layers[3]" → "spec.layers[3]", the same path style as the spec validator's.</summary>
    private static string Field(string? path) => path is null or "$" ? "body" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');

    /// <summary>System.Text.Json appends "Path: … | LineNumber: …"; the path is already the key.</summary>
    private static string Message(JsonException e)
    {
        var m = e.Message;
        int cut = m.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut < 0) cut = m.IndexOf(" LineNumber: ", StringComparison.Ordinal);
        return (cut > 0 ? m[..cut] : m).Trim();
    }
}
