using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Api.Tests;

/// <summary>Image data sets as users upload them: IDX (as MNIST ships) and NPY (as NumPy saves).</summary>
internal static class ImageData
{
    /// <summary>
    /// <paramref name="count"/> one-channel size×size images, pixels 0-255: even samples (label 0) have horizontal
    /// stripes, odd ones (label 1) vertical, each at a random period and phase with noise, so only the orientation tells them apart.
    /// </summary>
    public static (byte[] Pixels, int[] Labels) Stripes(int count, int size, int seed)
    {
        var rng = new Random(seed);
        var pixels = new byte[count * size * size];
        var labels = new int[count];
        for (int i = 0, p = 0; i < count; i++)
        {
            labels[i] = i % 2;
            int period = 2 + rng.Next(3), phase = rng.Next(2 * period);
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++, p++)
                {
                    int along = labels[i] == 0 ? y : x;
                    int value = ((along + phase) / period % 2 == 0 ? 200 : 40) + rng.Next(-30, 31);
                    pixels[p] = (byte)Math.Clamp(value, 0, 255);
                }
        }
        return (pixels, labels);
    }

    /// <summary>An IDX3 ubyte image file: magic 0x00000803, then count, rows and columns big-endian, then the pixels.</summary>
    public static byte[] IdxImages(byte[] pixels, int count, int height, int width) =>
        [0, 0, 8, 3, .. BigEndian(count), .. BigEndian(height), .. BigEndian(width), .. pixels];

    /// <summary>An IDX1 ubyte label file: magic 0x00000801, the count, one byte per label.</summary>
    public static byte[] IdxLabels(int[] labels) => [0, 0, 8, 1, .. BigEndian(labels.Length), .. labels.Select(l => (byte)l)];

    private static byte[] BigEndian(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }

    /// <summary>An NPY v1.0 file of <paramref name="shape"/>.</summary>
    public static byte[] Npy(string dtype, int[] shape, byte[] data) =>
        Shared.DataFiles.Npy(dtype, shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})", data);

    public static byte[] Bytes<T>(T[] values) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    /// <summary>Uploads IDX images and labels (multipart, as a browser or curl sends them) and returns the data set.</summary>
    public static async Task<JsonElement> UploadIdxAsync(this HttpClient client, byte[] pixels, int[] labels, int height, int width, string normalization = "scale")
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("stripes"), "name" },
            { new StringContent("idx"), "format" },
            { new StringContent(normalization), "normalization" },
            { new ByteArrayContent(IdxImages(pixels, labels.Length, height, width)), "images", "images-idx3-ubyte" },
            { new ByteArrayContent(IdxLabels(labels)), "labels", "labels-idx1-ubyte" },
        };
        return await (await client.PostAsync("/datasets", form)).ReadJsonAsync();
    }

    /// <summary>Uploads float32 NPY features of <paramref name="shape"/> (N first) with int64 labels and returns the data set.</summary>
    public static async Task<JsonElement> UploadNpyAsync(this HttpClient client, float[] features, int[] shape, long[] labels)
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("images"), "name" },
            { new StringContent("npy"), "format" },
            { new ByteArrayContent(Npy("<f4", shape, Bytes(features))), "features", "x.npy" },
            { new ByteArrayContent(Npy("<i8", [labels.Length], Bytes(labels))), "labels", "y.npy" },
        };
        return await (await client.PostAsync("/datasets", form)).ReadJsonAsync();
    }
}

/// <summary>Runs a downloaded ONNX model in ONNX Runtime (tests/onnx-check, Node) on the rows given.</summary>
internal static class OnnxRuntimeCheck
{
    /// <summary>The runtime's "output" for <paramref name="inputs"/>, flattened row by row; its first dimension must be the row count.</summary>
    public static async Task<double[]> RunAsync(byte[] model, float[][] inputs)
    {
        var folder = Directory.CreateTempSubdirectory("onnx-").FullName;
        try
        {
            var modelPath = Path.Combine(folder, "model.onnx");
            await File.WriteAllBytesAsync(modelPath, model);
            var inputPath = Path.Combine(folder, "inputs.json");
            await File.WriteAllTextAsync(inputPath, JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["input"] = new { dims = new[] { inputs.Length, inputs[0].Length }, data = inputs.SelectMany(r => r).ToArray() },
            }));
            var check = Path.Combine(Shared.Repository.Root, "tests", "onnx-check");
            if (!Directory.Exists(Path.Combine(check, "node_modules", "onnxruntime-node")))
                Assert.Fail("tests/onnx-check/node_modules is missing: run `ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix tests/onnx-check` (.ci/run does).");
            var (exitCode, stdout, stderr) = await ExternalProcess.RunAsync(check, TimeSpan.FromMinutes(2), null, "node", "run-onnx.mjs", modelPath, inputPath);
            Assert.True(exitCode == 0, $"run-onnx.mjs exited with {exitCode}: {stderr}");
            var output = JsonDocument.Parse(stdout).RootElement.GetProperty("output");
            Assert.Equal(inputs.Length, output.GetProperty("dims")[0].GetInt32());
            return [.. output.GetProperty("data").EnumerateArray().Select(v => v.GetDouble())];
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
