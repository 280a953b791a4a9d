using System.Data.Common;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The <c>source_id</c> row of the <c>meta</c> table: this store's id towards the centre, generated once and kept. The
/// <c>schema_version</c> rows of the same table are the schema steps' (SchemaMigrations.cs, PostgresSchema.cs).
/// </summary>
public static class MetaRepository
{
    /// <summary>Stores <paramref name="sourceId"/> as the store's source id unless it already has one (which is kept).</summary>
    public static void AddSourceIdIfAbsent(DbConnection connection, string sourceId)
    {
        using var insert = connection.Sql("INSERT INTO meta(key, value) VALUES('source_id', @id) ON CONFLICT(key) DO NOTHING")
            .With("id", sourceId);
        insert.ExecuteNonQuery();
    }

    /// <summary>The store's source id; null before one was stored.</summary>
    public static string? SourceId(DbConnection connection)
    {
        using var command = connection.Sql("SELECT value FROM meta WHERE key = 'source_id'");
        return command.ExecuteScalar() as string;
    }
}
