namespace TrainingService.Contracts;

/// <summary>Creates a key for an owner (new or existing). <c>admin</c> keys also manage keys.</summary>
public sealed record CreateKeyRequest(string? Owner, bool? Admin);

/// <summary>A key as listed: never the key itself, only its first characters.</summary>
public sealed record KeyDto(long Id, string Owner, bool Admin, string Prefix, DateTime CreatedAt, DateTime? RevokedAt);

/// <summary>The answer to POST /keys: the only time the key is shown.</summary>
public sealed record CreatedKeyDto(long Id, string Owner, bool Admin, string Prefix, DateTime CreatedAt, string Key);
