using System.Data.Common;
using System.Globalization;

namespace SharpEyes.Gateway.Storage;

/// <summary>
/// ADO.NET helpers that read the same on both engines. SQL names its parameters <c>@name</c> (SQLite and Npgsql both
/// bind it), integers are read through <see cref="Int64"/> (SQLite's INTEGER and PostgreSQL's bigint), and a scalar
/// goes through <see cref="Convert"/> (PostgreSQL's COUNT and SUM are bigint and numeric where SQLite's are integer).
/// </summary>
public static class DbCommands
{
    /// <summary>A command on <paramref name="connection"/> with <paramref name="sql"/> and no parameters yet.</summary>
    public static DbCommand Sql(this DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        if (transaction is not null)
        {
            command.Transaction = transaction; // else the connection's own choice (SQLite: its pending transaction)
        }

        return command;
    }

    /// <summary>Adds the parameter <c>@<paramref name="name"/></c> (null becomes SQL NULL) and returns the command.</summary>
    public static DbCommand With(this DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = "@" + name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
        return command;
    }

    /// <summary>
    /// Adds the parameter <c>@<paramref name="name"/></c> with its type given: for a value that may be null where the SQL
    /// does not tell its type (<c>@since IS NULL</c>), which PostgreSQL must know.
    /// </summary>
    public static DbCommand With(this DbCommand command, string name, object? value, System.Data.DbType type)
    {
        command.With(name, value);
        command.Parameters[^1].DbType = type;
        return command;
    }

    /// <summary>The first column of the first row as a 64-bit integer; 0 for no row or NULL.</summary>
    public static long ScalarInt64(this DbCommand command) =>
        command.ExecuteScalar() is { } value and not DBNull ? Convert.ToInt64(value, CultureInfo.InvariantCulture) : 0;

    /// <summary>Runs <paramref name="sql"/> (no parameters, perhaps several statements) on <paramref name="connection"/>.</summary>
    public static void Execute(this DbConnection connection, string sql)
    {
        using var command = connection.Sql(sql);
        command.ExecuteNonQuery();
    }

    /// <summary>Column <paramref name="ordinal"/> as an <see cref="int"/>: stored as a 64-bit integer by both engines.</summary>
    public static int GetInt32Value(this DbDataReader reader, int ordinal) => checked((int)reader.GetInt64(ordinal));
}
