using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Api.Tests.Fuzzing;

/// <summary>One malformed request: which operation, what was broken, and the bytes sent.</summary>
public sealed record FuzzRequest(string Operation, string Kind, HttpMethod Method, string Url, string? ContentType, byte[]? Body)
{
    public override string ToString() =>
        $"{Operation} [{Kind}] {Method} {Url} {ContentType} {(Body is null ? "" : Encoding.UTF8.GetString(Body.AsSpan(0, Math.Min(Body.Length, 200))))}";
}

/// <summary>
/// Malformed input for every operation of an OpenAPI document, reproducible from a seed: wrong types,
/// missing and extra fields, extreme numbers, NaN as a string, 10,000-deep JSON, long and odd Unicode,
/// empty, truncated and random bodies, wrong content types, odd path and query values. Plain BCL code,
/// shared by the test (tests/Api.Tests) and the longer run (bench fuzz).
/// </summary>
public static class ApiFuzzer
{
    private static readonly string[] Methods = ["get", "post", "put", "patch", "delete"];
    // No NUL in paths: the test host refuses to send one and Kestrel answers it with a bare 400 before the application runs.
    private static readonly string[] OddIds = ["1", "0", "-1", "9223372036854775807", "99999999999999999999", "abc", "1.5", "%20", "%F0%9F%92%A5", "1e3"];
    private static readonly string[] OddQueryValues =
        ["", "-1", "0", "99999999999999999999", "NaN", "Infinity", "true", "%00", "%E2%80%AE", "best", "latest", "onnx", new string('9', 400)];
    private static readonly string[] Kinds =
    [
        "valid", "empty", "truncated", "missing-fields", "extra-fields", "wrong-type", "extreme-number", "nan-string",
        "deep-array", "deep-object", "long-unicode", "invalid-utf8", "random-bytes", "top-level-type", "text/plain",
        "xml", "multipart-no-boundary", "no-content-type", "odd-path", "odd-query",
    ];
    private static readonly JsonNode?[] WrongValues =
        ["str", 123, -1, true, null, new JsonArray(), new JsonObject(), 1e308, "NaN", "Infinity", "-Infinity", "", 0.5];
    private static readonly string[] ExtremeNumbers =
        ["9223372036854775807", "-9223372036854775808", "1e308", "-1e308", "1e-320", "0", "-1", "2147483648", "99999999999999999999999", "-0", "1e400"];

    public static IEnumerable<FuzzRequest> Cases(JsonElement openApi, int seed, int casesPerOperation)
    {
        var random = new Random(seed);
        var schemas = openApi.GetProperty("components").GetProperty("schemas");
        foreach (var path in openApi.GetProperty("paths").EnumerateObject())
        foreach (var operation in path.Value.EnumerateObject().Where(o => Methods.Contains(o.Name)))
        {
            var op = operation.Value;
            var name = op.TryGetProperty("operationId", out var id) ? id.GetString()! : $"{operation.Name} {path.Name}";
            var method = new HttpMethod(operation.Name.ToUpperInvariant());
            var query = op.TryGetProperty("parameters", out var ps)
                ? ps.EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query").Select(p => p.GetProperty("name").GetString()!).ToArray()
                : [];
            string? mediaType = null;
            JsonNode? example = null;
            if (op.TryGetProperty("requestBody", out var body))
            {
                var content = body.GetProperty("content").EnumerateObject().First();
                mediaType = content.Name;
                example = content.Value.TryGetProperty("example", out var ex) ? JsonNode.Parse(ex.GetRawText())
                    : content.Value.TryGetProperty("schema", out var schema) ? Sample(schema, schemas, 0) : new JsonObject();
            }
            for (int i = 0; i < casesPerOperation; i++)
            {
                var kind = Kinds[i < Kinds.Length ? i : random.Next(Kinds.Length)];
                var url = Fill(path.Name, kind == "odd-path" ? OddIds[random.Next(OddIds.Length)] : "1");
                if (kind == "odd-query" || (query.Length > 0 && random.Next(4) == 0))
                    url += "?" + string.Join("&", query.Append("unknown").Select(q => $"{q}={OddQueryValues[random.Next(OddQueryValues.Length)]}"));
                var (type, bytes) = mediaType is null && kind is not ("random-bytes" or "text/plain")
                    ? (null, null)
                    : Body(kind, mediaType ?? "application/json", example?.DeepClone(), random);
                yield return new FuzzRequest(name, kind, method, url, type, bytes);
            }
        }
    }

    /// <summary>Sends every case; returns one line per response that is 5xx or an error that is not problem+json.</summary>
    public static async Task<List<string>> RunAsync(HttpClient client, IEnumerable<FuzzRequest> cases, CancellationToken ct = default)
    {
        var failures = new List<string>();
        foreach (var c in cases)
        {
            using var request = new HttpRequestMessage(c.Method, c.Url);
            if (c.Body is not null)
            {
                request.Content = new ByteArrayContent(c.Body);
                request.Content.Headers.ContentType = c.ContentType is null ? null : MediaTypeHeaderValue.Parse(c.ContentType);
            }
            using var response = await client.SendAsync(request, ct);
            int status = (int)response.StatusCode;
            var type = response.Content.Headers.ContentType?.MediaType;
            if (status >= 500 || (status >= 400 && type != "application/problem+json"))
                failures.Add($"{status} {type}: {c} => {(await response.Content.ReadAsStringAsync(ct))[..Math.Min(300, (int)(response.Content.Headers.ContentLength ?? 300))]}");
        }
        return failures;
    }

    private static string Fill(string template, string value) =>
        System.Text.RegularExpressions.Regex.Replace(template, "\\{[^}]+\\}", value);

    private static (string? Type, byte[]? Body) Body(string kind, string mediaType, JsonNode? example, Random random)
    {
        byte[] Json(JsonNode? node) => Encoding.UTF8.GetBytes(node?.ToJsonString() ?? "null");
        var valid = Json(example);
        if (mediaType.StartsWith("multipart/", StringComparison.Ordinal))
            return kind switch
            {
                "valid" or "missing-fields" => Multipart(random, ("name", "x"), ("format", "csv")),
                "extra-fields" => Multipart(random, ("name", "x"), ("format", "npy"), ("zz" + random.Next(), "1")),
                "long-unicode" => Multipart(random, ("name", OddString(random, 5000)), ("format", OddString(random, 10))),
                "wrong-type" or "extreme-number" => Multipart(random, ("name", "x"), ("format", "csv"), ("labelColumn", "99999999999"), ("hasHeader", "NaN")),
                "empty" => ("multipart/form-data; boundary=b", []),
                "truncated" => ("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n1,2"u8.ToArray()),
                _ => ("application/json", valid),
            };
        return kind switch
        {
            "empty" => ("application/json", []),
            "truncated" => ("application/json", valid[..random.Next(Math.Max(1, valid.Length))]),
            "missing-fields" => ("application/json", "{}"u8.ToArray()),
            "extra-fields" => ("application/json", Json(Mutate(example, random, (o, _) => o["extra" + random.Next(1000)] = WrongValues[random.Next(WrongValues.Length)]?.DeepClone()))),
            "wrong-type" => ("application/json", Json(Mutate(example, random, (o, k) => o[k] = WrongValues[random.Next(WrongValues.Length)]?.DeepClone()))),
            "extreme-number" => ("application/json", Encoding.UTF8.GetBytes(ReplaceNumbers(valid, random))),
            "nan-string" => ("application/json", Json(Mutate(example, random, (o, k) => o[k] = random.Next(2) == 0 ? "NaN" : "-Infinity"))),
            "deep-array" => ("application/json", Encoding.UTF8.GetBytes(new string('[', 10_000) + new string(']', 10_000))),
            "deep-object" => ("application/json", Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"spec\":", 10_000)) + "1" + new string('}', 10_000))),
            "long-unicode" => ("application/json", Json(Mutate(example, random, (o, k) => o[k] = OddString(random, 100_000)))),
            "invalid-utf8" => ("application/json", [.. "{\"name\":\""u8, 0xED, 0xA0, 0x80, 0xFF, 0xC0, 0xAF, .. "\"}"u8]),
            "random-bytes" => ("application/octet-stream", RandomBytes(random)),
            "top-level-type" => ("application/json", Encoding.UTF8.GetBytes(new[] { "[]", "\"s\"", "1", "null", "true", "[{}]" }[random.Next(6)])),
            "text/plain" => ("text/plain", valid),
            "xml" => ("application/xml", "<?xml version=\"1.0\"?><a><b>1</b></a>"u8.ToArray()),
            "multipart-no-boundary" => ("multipart/form-data", valid),
            "no-content-type" => (null, valid),
            _ => ("application/json", valid),
        };
    }

    /// <summary>Applies <paramref name="change"/> to one random property of the object (or of a nested object).</summary>
    private static JsonNode? Mutate(JsonNode? node, Random random, Action<JsonObject, string> change)
    {
        if (node is not JsonObject obj) return node;
        var keys = obj.Select(p => p.Key).ToList();
        if (keys.Count == 0)
        {
            change(obj, "name");
            return obj;
        }
        var key = keys[random.Next(keys.Count)];
        if (obj[key] is JsonObject inner && random.Next(2) == 0) Mutate(inner, random, change);
        else change(obj, key);
        return obj;
    }

    private static string ReplaceNumbers(byte[] json, Random random) =>
        System.Text.RegularExpressions.Regex.Replace(Encoding.UTF8.GetString(json), "(?<=[:\\[,])-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?",
            _ => ExtremeNumbers[random.Next(ExtremeNumbers.Length)]);

    /// <summary>Right-to-left overrides, zero-width joiners, combining marks, NULs, emoji, lone surrogates (escaped), CJK.</summary>
    private static string OddString(Random random, int length)
    {
        string[] pieces = ["\u202E", "\u200D", "\u0301", "\u0000", "\U0001F4A5", "\\ud800", "\u4E2D", "'\"<>&", "\r\n", "\uFEFF", "\uFFFF", "a"];
        var builder = new StringBuilder(length + 8);
        while (builder.Length < length)
        {
            var piece = pieces[random.Next(pieces.Length)];
            // A lone high surrogate: System.Text.Json escapes it as \ud800 on the wire, which readers must survive.
            if (piece == "\\ud800") builder.Append('\uD800');
            else builder.Append(piece);
        }
        return builder.ToString();
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(1, 4096)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static (string, byte[]) Multipart(Random random, params (string Name, string Value)[] fields)
    {
        var boundary = "fuzz" + random.Next();
        var builder = new StringBuilder();
        foreach (var (name, value) in fields)
            builder.Append($"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n");
        builder.Append($"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.csv\"\r\n\r\nx,label\n{random.Next()},1\n\r\n--{boundary}--\r\n");
        return ($"multipart/form-data; boundary={boundary}", Encoding.UTF8.GetBytes(builder.ToString()));
    }

    /// <summary>A value shaped like the schema: enough for the mutations to have fields to break.</summary>
    private static JsonNode? Sample(JsonElement schema, JsonElement schemas, int depth)
    {
        if (depth > 4) return null;
        if (schema.TryGetProperty("$ref", out var reference))
            return Sample(schemas.GetProperty(reference.GetString()!.Split('/')[^1]), schemas, depth + 1);
        if (schema.TryGetProperty("oneOf", out var oneOf)) return Sample(oneOf[0], schemas, depth + 1);
        if (schema.TryGetProperty("enum", out var values) && values.GetArrayLength() > 0) return JsonNode.Parse(values[0].GetRawText());
        var type = schema.TryGetProperty("type", out var t) ? t.ValueKind == JsonValueKind.Array ? t[0].GetString() : t.GetString() : "object";
        switch (type)
        {
            case "integer": return 1;
            case "number": return 0.5;
            case "boolean": return true;
            case "string": return "a";
            case "array": return schema.TryGetProperty("items", out var items) ? new JsonArray(Sample(items, schemas, depth + 1)) : new JsonArray();
            default:
                var obj = new JsonObject();
                if (schema.TryGetProperty("properties", out var properties))
                    foreach (var p in properties.EnumerateObject()) obj[p.Name] = Sample(p.Value, schemas, depth + 1);
                return obj;
        }
    }
}
