namespace Engine.Data;

/// <summary>
/// A data file that cannot be read, with what is wrong and where (file role, line and column, or byte offset).
/// Loaders throw only this for bad input, never an index or overflow exception from their own arithmetic.
/// </summary>
public sealed class DataFormatException(string message) : Exception(message);
