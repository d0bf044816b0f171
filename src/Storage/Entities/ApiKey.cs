namespace Storage.Entities;

/// <summary>
/// A key that authenticates one owner. Only the SHA-256 of the key is stored: keys are 32 random
/// bytes, so a fast hash is enough (there is nothing to brute-force) and lookup stays one index seek.
/// </summary>
public sealed class ApiKey
{
    public long Id { get; set; }
    /// <summary>The owner whose data sets, models and jobs this key reaches.</summary>
    public required string Owner { get; set; }
    /// <summary>Admins also manage keys (POST/GET/DELETE /keys).</summary>
    public bool IsAdmin { get; set; }
    /// <summary>Lower-case hex SHA-256 of the key's UTF-8 text.</summary>
    public required string Hash { get; set; }
    /// <summary>The first characters of the key, so people can tell keys apart in GET /keys; not enough to use it.</summary>
    public required string Prefix { get; set; }
    public DateTime CreatedAt { get; set; }
    /// <summary>Set by DELETE /keys/{id}; a revoked key authenticates nothing.</summary>
    public DateTime? RevokedAt { get; set; }
}
