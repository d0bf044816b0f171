using System.Collections.Concurrent;

namespace Api.Security;

/// <summary>
/// Recently verified keys by hash, so a request does not pay for a database round trip (and a context) just
/// to authenticate. Revoking a key clears the cache, so a revoked key fails from the next request on; an
/// entry also expires after <see cref="Lifetime"/> in case the key table was changed by another process.
/// Unknown keys are not cached, so a flood of made-up keys cannot fill it.
/// </summary>
internal sealed class ApiKeyCache(TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public sealed record Entry(string Owner, bool IsAdmin, string KeyId, DateTimeOffset Expires);

    public bool TryGet(string hash, out Entry entry)
    {
        if (_entries.TryGetValue(hash, out entry!) && entry.Expires > time.GetUtcNow()) return true;
        _entries.TryRemove(hash, out _);
        return false;
    }

    public void Add(string hash, string owner, bool isAdmin, string keyId) =>
        _entries[hash] = new Entry(owner, isAdmin, keyId, time.GetUtcNow() + Lifetime);

    public void Clear() => _entries.Clear();
}
