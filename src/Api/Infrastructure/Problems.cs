using Engine.Specs;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Api.Infrastructure;

/// <summary>
/// The service's 4xx answers. Each names the field and the rule in <c>errors</c> (keyed by path, as
/// ASP.NET's validation problems are) and says the same in <c>detail</c>, so a client can show either.
/// </summary>
public static class Problems
{
    public static ProblemHttpResult Field(string field, string message, int status = StatusCodes.Status400BadRequest) =>
        Errors(new Dictionary<string, string[]> { [field] = [message] }, status);

    public static ProblemHttpResult Errors(IDictionary<string, string[]> errors, int status = StatusCodes.Status400BadRequest)
    {
        var detail = string.Join("; ", errors.SelectMany(e => e.Value.Select(m => e.Key.Length == 0 ? m : $"{e.Key}: {m}")));
        return TypedResults.Problem(new HttpValidationProblemDetails(errors)
        {
            Status = status,
            Title = status switch
            {
                StatusCodes.Status404NotFound => "Not found",
                StatusCodes.Status409Conflict => "Conflict",
                StatusCodes.Status413PayloadTooLarge => "Request too large",
                StatusCodes.Status422UnprocessableEntity => "The input cannot be used",
                StatusCodes.Status429TooManyRequests => "Too many requests",
                _ => "The request is invalid",
            },
            Detail = detail,
        });
    }

    /// <summary>Spec or options errors keyed by their paths (<c>layers[3].rate</c>); 422 when only size limits were broken.</summary>
    public static ProblemHttpResult Spec(IEnumerable<SpecError> errors, string prefix = "")
    {
        var list = errors.ToList();
        var status = list.All(e => e.LimitExceeded) ? StatusCodes.Status422UnprocessableEntity : StatusCodes.Status400BadRequest;
        return Errors(ToDictionary(list, prefix), status);
    }

    public static Dictionary<string, string[]> ToDictionary(IEnumerable<SpecError> errors, string prefix = "") => errors
        .GroupBy(e => Join(prefix, e.Path))
        .ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray());

    public static ProblemHttpResult NotFound(string what, long id, string field = "id") =>
        Field(field, $"{what} {id} does not exist", StatusCodes.Status404NotFound);

    public static ProblemHttpResult Conflict(string field, string message) => Field(field, message, StatusCodes.Status409Conflict);

    private static string Join(string prefix, string path) =>
        prefix.Length == 0 ? path : path.Length == 0 ? prefix : path.StartsWith('[') ? prefix + path : $"{prefix}.{path}";
}
