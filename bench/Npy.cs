using System.Runtime.InteropServices;
using System.Text;

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
        var dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in '\n'.
        int total = (10 + dict.Length + 1 + 63) / 64 * 64;
        var header = dict.PadRight(total - 10 - 1) + "\n";
        using var file = File.Create(path);
        file.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        file.Write(BitConverter.GetBytes((ushort)header.Length));
        file.Write(Encoding.ASCII.GetBytes(header));
        file.Write(data);
    }
}
