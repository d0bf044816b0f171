namespace Engine.Data;

/// <summary>
/// A data file larger than the caller allows once decompressed (declared by its header or counted while
/// reading): a gzip bomb stops here before its data is held in memory.
/// </summary>
public sealed class DataLimitException(string message) : Exception(message);
