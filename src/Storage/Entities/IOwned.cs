namespace Storage.Entities;

/// <summary>A row that belongs to one owner; <see cref="TrainingDbContext"/> filters and stamps it.</summary>
public interface IOwned
{
    string OwnerId { get; set; }
}
