namespace Storage;

/// <summary>
/// Whose rows a new <see cref="TrainingDbContext"/> sees. <see cref="OwnerId"/> null means unscoped:
/// the training worker and start-up recovery act for every owner; requests are always scoped.
/// </summary>
public interface IOwnerScope
{
    string? OwnerId { get; }
}
