using System.Runtime.InteropServices;

namespace Bench;

/// <summary>Minimal .npy (version 1.0, little-endian, C order) writer for the service bench's upload.</summary>
internal static class Npy
{
    public static void WriteFloat32(string path, float[] values, int rows, int columns) =>
        Write(path, "<f4", $"({rows}, {columns})", MemoryMarshal.AsBytes(values.AsSpan()));

    public static void WriteInt32(string path, int[] values) =>
        Write(path, "<i4", $"({values.Length},)", MemoryMarshal.AsBytes(values.AsSpan()));

    private static void Write(string path, string descr, string shape, ReadOnlySpan<byte> data)
    {
        using var file = File.Create(path);
        file.Write(Shared.DataFiles.NpyHeader(descr, shape));
        file.Write(data);
    }
}
