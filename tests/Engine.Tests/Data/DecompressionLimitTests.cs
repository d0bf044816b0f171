using Engine.Data;
using static Engine.Tests.DataLoading.IdxLoaderTests;

namespace Engine.Tests.DataLoading;

/// <summary>The loaders' cap on decompressed bytes: by the header's declared size, and by counting.</summary>
public class DecompressionLimitTests
{
    private static readonly byte[] Labels = Idx(0x08, [4], [0, 1, 0, 1]);

    [Fact]
    public void ADeclaredSizeOverTheCapIsRefusedBeforeAnyDataIsRead()
    {
        // 4 images of 64×64 declared (16 KiB), only the header present: nothing past it is needed to refuse.
        var images = Gzip(Idx(0x08, [4, 64, 64], []));
        var e = Assert.Throws<DataLimitException>(() => IdxLoader.Load(new ForwardOnlyStream(images), new MemoryStream(Labels), maxBytes: 8192));
        Assert.Contains("16384 bytes decompressed", e.Message);
        Assert.Contains("8192", e.Message);
    }

    [Fact]
    public void UnderTheCapTheSameFileLoads()
    {
        var images = Gzip(Idx(0x08, [4, 64, 64], new byte[4 * 64 * 64]));
        Assert.Equal(4, IdxLoader.Load(new MemoryStream(images), new MemoryStream(Labels), maxBytes: 1 << 20).Count);
    }

    [Fact]
    public void BytesAreCountedAsTheyArriveEvenInsideAHeader()
    {
        // An NPY header is read before any size is known; the count stops it at the cap all the same.
        var features = Gzip(NpyLoaderTests.Npy("<f4", [2, 2], NpyLoaderTests.F4(1, 2, 3, 4)));
        var labels = NpyLoaderTests.Npy("<i4", [2], [0, 0, 0, 0, 1, 0, 0, 0]);
        var e = Assert.Throws<DataLimitException>(() => NpyLoader.Load(new MemoryStream(features), new MemoryStream(labels), maxBytes: 32));
        Assert.Contains("after decompression", e.Message);
    }
}
