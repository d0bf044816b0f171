using TrainingService.Client;

namespace Shared;

public static class TypedClient
{
    /// <summary>
    /// A <see cref="TrainingServiceClient"/> over a test's <see cref="HttpClient"/> (a loopback port or an in-memory
    /// test server), with the key that client already sends; disposing it leaves <paramref name="http"/> open.
    /// </summary>
    public static TrainingServiceClient Typed(this HttpClient http) =>
        new(http, http.DefaultRequestHeaders.GetValues(TrainingServiceClient.ApiKeyHeader).Single());
}
