using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Reliability.Tests.Abuse;

/// <summary>Requests the abuse tests send (owner keys, uploads, jobs) and the problem+json checks they make; the files are <see cref="Shared.DataFiles"/>.</summary>
internal static class AbuseClient
{
    /// <summary>A client for a new owner's key (created with the admin key), so per-owner limits start empty.</summary>
    public static async Task<(HttpClient Client, string Key, long KeyId)> OwnerAsync(ServiceProcess service, string owner)
    {
        var created = await (await service.Client.PostAsJsonAsync("/keys", new { owner })).ReadJsonAsync();
        var key = created.GetProperty("key").GetString()!;
        var client = new HttpClient { BaseAddress = service.Address, Timeout = TimeSpan.FromMinutes(3) };
        client.DefaultRequestHeaders.Add("X-Api-Key", key);
        return (client, key, created.GetProperty("id").GetInt64());
    }

    /// <summary>
    /// Asserts a problem+json answer with <paramref name="status"/> whose errors name <paramref name="field"/>; returns
    /// the whole body, for assertions on the setting it names.
    /// </summary>
    public static async Task<string> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string field)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = JsonDocument.Parse(text).RootElement;
        Assert.Equal((int)status, body.GetProperty("status").GetInt32());
        Assert.True(body.GetProperty("errors").TryGetProperty(field, out _), $"errors do not name '{field}': {text}");
        return text;
    }

    public static Task<HttpResponseMessage> UploadAsync(HttpClient client, string format, params (string Part, byte[] Bytes)[] files)
    {
        var form = new MultipartFormDataContent { { new StringContent(format + "-upload"), "name" }, { new StringContent(format), "format" } };
        foreach (var (part, bytes) in files) form.Add(new ByteArrayContent(bytes), part, part + ".bin");
        return client.PostAsync("/datasets", form);
    }

    public static byte[] Int32s(params int[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    public static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    public static object Mlp(int hidden, int depth, int outputs = 3)
    {
        var layers = new List<object>();
        for (int i = 0; i < depth; i++)
        {
            layers.Add(new { type = "dense", units = hidden });
            layers.Add(new { type = "relu" });
        }
        layers.Add(new { type = "dense", units = outputs });
        return new { input = new[] { 2 }, layers, loss = "softmax_cross_entropy" };
    }

    public static async Task<long> SpiralsAsync(HttpClient client, int size)
    {
        var response = await client.PostAsJsonAsync("/datasets/synthetic", new { name = "spirals", kind = "spirals", size, classes = 3, seed = 42, noise = 0.2 });
        return (await response.ReadJsonAsync()).GetProperty("id").GetInt64();
    }

    public static Task<HttpResponseMessage> SubmitAsync(HttpClient client, object spec, long datasetId, int epochs, int batchSize = 32) =>
        client.PostAsJsonAsync("/jobs", new
        {
            spec, datasetId, validationSplit = 0.2, epochs, batchSize, checkpointEvery = 1, seed = 7,
            optimizer = new { type = "adam", learningRate = 0.01 },
        });

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> after <paramref name="limit"/>.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, TimeSpan limit, Func<string> what)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail(what());
            await Task.Delay(50);
        }
    }
}
