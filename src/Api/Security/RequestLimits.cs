using Api.Infrastructure;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Api.Security;

/// <summary>Marks an endpoint that enforces its own, larger body limit (dataset uploads: Storage:MaxUploadBytes).</summary>
public sealed class OwnBodyLimitMetadata;

/// <summary>
/// Security:MaxRequestBodyBytes for every other request, answered with 413 problem+json. Kestrel enforces
/// it through the per-request feature; hosts without that feature (the test server) get a counting stream.
/// </summary>
internal static class RequestLimits
{
    public static WebApplication UseRequestBodyLimit(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<OwnBodyLimitMetadata>() is null)
            {
                long max = context.RequestServices.GetRequiredService<IOptions<SecurityOptions>>().Value.MaxRequestBodyBytes;
                if (context.Request.ContentLength > max)
                {
                    await Problems.Field("body", TooLarge(max), StatusCodes.Status413PayloadTooLarge).ExecuteAsync(context);
                    return;
                }
                if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature) feature.MaxRequestBodySize = max;
                else context.Request.Body = new LimitedReadStream(context.Request.Body, max);
            }
            await next(context);
        });
        return app;
    }

    public static string TooLarge(long max) => $"the request body is larger than the limit of {max} bytes (Security:MaxRequestBodyBytes)";

    /// <summary>Throws what Kestrel throws over its limit, so both paths end in the same 413.</summary>
    private sealed class LimitedReadStream(Stream inner, long max) : Stream
    {
        private long _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Count(int read)
        {
            _read += read;
            if (_read > max) throw new BadHttpRequestException(TooLarge(max), StatusCodes.Status413PayloadTooLarge);
            return read;
        }
    }
}
