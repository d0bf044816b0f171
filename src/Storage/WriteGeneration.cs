using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Storage;

/// <summary>
/// Lets a read-mostly path keep what it read until something is written. Every command that is not a SELECT moves
/// the generation when it starts, and its connection counts as writing until the write has committed or rolled back,
/// when the generation moves again: a stamp taken before a query is still current only if no write started since
/// and none is open now.
/// Only the embedded SQLite node has every writer in this process; on PostgreSQL other nodes write too, so
/// <see cref="Enabled"/> is false there and nothing is ever current.
/// </summary>
public sealed class WriteGeneration
{
    private long _generation;
    private int _writing;
    private readonly ConditionalWeakTable<DbConnection, object> _writers = new();
    private static readonly object Mark = new();

    public WriteGeneration(bool enabled) => Enabled = enabled;

    public bool Enabled { get; }

    /// <summary>The stamp to keep with what a query is about to read; null while a write is open (or when off).</summary>
    public long? Stamp()
    {
        if (!Enabled || Volatile.Read(ref _writing) != 0) return null;
        return Volatile.Read(ref _generation);
    }

    /// <summary>True when nothing was written since <paramref name="stamp"/> was taken and no write is open.</summary>
    public bool IsCurrent(long stamp) =>
        Enabled && Volatile.Read(ref _writing) == 0 && Volatile.Read(ref _generation) == stamp;

    internal void Begin(DbConnection? connection)
    {
        if (connection is not null && _writers.TryAdd(connection, Mark)) Interlocked.Increment(ref _writing);
        Interlocked.Increment(ref _generation);
    }

    internal void End(DbConnection? connection)
    {
        if (connection is null) return;
        if (!_writers.Remove(connection)) return;
        // The generation moves before the count drops: a stamp taken while this write was open is never current.
        Interlocked.Increment(ref _generation);
        Interlocked.Decrement(ref _writing);
    }
}

/// <summary>
/// Feeds <see cref="WriteGeneration"/> from EF Core: a write starts with its command and is over, committed or not,
/// after an autocommit non-query, a transaction's end, or its connection closing (SaveChanges outside a
/// transaction reads its RETURNING rows and commits only as the reader goes, before EF closes the connection).
/// </summary>
internal sealed class WriteGenerationInterceptor(WriteGeneration writes)
    : IDbCommandInterceptor, IDbTransactionInterceptor, IDbConnectionInterceptor
{
    private static bool IsWrite(DbCommand command) =>
        !command.CommandText.AsSpan().TrimStart().StartsWith("SELECT", StringComparison.OrdinalIgnoreCase);

    private T Starting<T>(DbCommand command, T result)
    {
        if (IsWrite(command)) writes.Begin(command.Connection);
        return result;
    }

    // An autocommit statement is over once it has run; one inside a transaction, when the transaction ends.
    private int Executed(DbCommand command, int result)
    {
        if (command.Transaction is null) writes.End(command.Connection);
        return result;
    }

    private Task Ended(DbConnection? connection)
    {
        writes.End(connection);
        return Task.CompletedTask;
    }

    private static DbConnection? ConnectionOf(TransactionEndEventData eventData) => eventData.Context?.Database.GetDbConnection();

    public InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result) =>
        Starting(command, result);

    public ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData,
        InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default) => new(Starting(command, result));

    public InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result) =>
        Starting(command, result);

    public ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData,
        InterceptionResult<int> result, CancellationToken cancellationToken = default) => new(Starting(command, result));

    public InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result) =>
        Starting(command, result);

    public ValueTask<InterceptionResult<object>> ScalarExecutingAsync(DbCommand command, CommandEventData eventData,
        InterceptionResult<object> result, CancellationToken cancellationToken = default) => new(Starting(command, result));

    public int NonQueryExecuted(DbCommand command, CommandExecutedEventData eventData, int result) => Executed(command, result);

    public ValueTask<int> NonQueryExecutedAsync(DbCommand command, CommandExecutedEventData eventData, int result,
        CancellationToken cancellationToken = default) => new(Executed(command, result));

    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => Ended(ConnectionOf(eventData));

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData,
        CancellationToken cancellationToken = default) => Ended(ConnectionOf(eventData));

    public void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) => Ended(ConnectionOf(eventData));

    public Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData,
        CancellationToken cancellationToken = default) => Ended(ConnectionOf(eventData));

    public void ConnectionClosed(DbConnection connection, ConnectionEndEventData eventData) => Ended(connection);

    public Task ConnectionClosedAsync(DbConnection connection, ConnectionEndEventData eventData) => Ended(connection);

    public void ConnectionDisposed(DbConnection connection, ConnectionEndEventData eventData) => Ended(connection);

    public Task ConnectionDisposedAsync(DbConnection connection, ConnectionEndEventData eventData) => Ended(connection);
}
