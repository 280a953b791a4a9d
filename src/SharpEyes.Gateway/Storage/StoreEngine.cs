using System.Data.Common;

namespace SharpEyes.Gateway.Storage;

/// <summary>
/// One of the two engines the store runs on: the embedded SQLite file (the default) or a PostgreSQL database. Everything
/// above it speaks ADO.NET (<see cref="DbConnection"/>) and the SQL both engines share (see <see cref="DbCommands"/>).
/// </summary>
public abstract class StoreEngine : IDisposable
{
    /// <summary>"SQLite" or "PostgreSQL".</summary>
    public abstract string Name { get; }

    /// <summary>Where the store is, for messages and logs: a file path, or <c>host:port/database</c> (never a password).</summary>
    public abstract string Location { get; }

    /// <summary>
    /// Whether several gateway processes may share this store (PostgreSQL), so that work done once per store (pushing to
    /// an endpoint) needs a lease. SQLite's file belongs to one process.
    /// </summary>
    public virtual bool SharedByReplicas => false;

    /// <summary>
    /// The most rows one multi-row write statement carries (<see cref="Repositories.MultiRowStatements"/>). PostgreSQL pays
    /// a round trip per statement, so it takes the most there are (64).
    /// </summary>
    public virtual int MaxRowsPerStatement => Repositories.MultiRowStatements.MaxRows;

    /// <summary>A pooled connection for reading, open; the caller disposes it.</summary>
    public abstract DbConnection OpenRead();

    /// <summary>The journal's writer connection, open and set up for writing.</summary>
    public abstract DbConnection OpenWriter();

    /// <summary>Begins a write transaction on the writer connection (SQLite: BEGIN IMMEDIATE).</summary>
    public abstract DbTransaction BeginWrite(DbConnection connection);

    /// <summary>Brings the schema to the last step this gateway knows, or refuses a newer store.</summary>
    public abstract void Migrate(TimeProvider time, ILogger logger);

    /// <summary>What a store error means for an operator: the disk is full, the server is unreachable, ...</summary>
    public abstract string Describe(DbException exception);

    /// <summary>
    /// Called in a write transaction about to append feed events, before they are numbered: returns the last sequence
    /// already taken. SQLite has one writer, the journal, whose own count (<paramref name="journalLast"/>) is the truth.
    /// A shared engine locks the feed until this transaction ends and reads it from the store, so writers of several
    /// replicas number their events one transaction after another, in commit order, without a gap.
    /// </summary>
    public virtual long LockFeed(JournalTransaction tx, long journalLast) => journalLast;

    /// <summary>Called in the transaction after its feed events up to <paramref name="last"/> are written: tells other replicas, on commit.</summary>
    public virtual void FeedWritten(JournalTransaction tx, long last)
    {
    }

    /// <summary>
    /// Whether writers of several replicas share the store (PostgreSQL). SQLite has one writer, this journal, whose
    /// in-memory state is the truth.
    /// </summary>
    public virtual bool Shared => false;

    /// <summary>
    /// On a shared store, takes the lock named <paramref name="name"/> until the transaction ends, for in-memory state the
    /// replicas' writers share (an incident's correlation key); the caller reads that state from the store again under it.
    /// Called through <see cref="JournalTransaction.LockShared"/>, which takes each name once.
    /// </summary>
    public virtual void LockShared(JournalTransaction tx, string name)
    {
    }

    /// <summary>Takes the locks named <paramref name="names"/>, in that order (<see cref="LockShared"/> for each by default).</summary>
    public virtual void LockSharedAll(JournalTransaction tx, IReadOnlyList<string> names)
    {
        foreach (var name in names)
        {
            LockShared(tx, name);
        }
    }

    /// <summary>
    /// Tells the other replicas sharing the store, when <paramref name="tx"/> commits, that <paramref name="what"/> on
    /// <paramref name="channel"/> changed, from replica <paramref name="replicaId"/>. Nothing on SQLite: one process.
    /// </summary>
    public virtual void Announce(JournalTransaction tx, string channel, string replicaId, string what)
    {
    }

    public virtual void Dispose() => GC.SuppressFinalize(this);
}
