using System.Text.RegularExpressions;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Storage;

/// <summary>
/// The storage layer's shape (issue 15, item 1): SQL is written only under <c>src/SharpEyes.Gateway/Storage/</c>, and
/// every table of the schema has one owner, the repository in <c>Storage/Repositories/</c> that writes it. Read from the
/// source, so a statement added in the wrong place fails here with its file and line.
/// </summary>
public sealed partial class SqlOwnershipTests
{
    private static readonly string Source = Path.Combine(InteropPaths.RepoRoot, "src", "SharpEyes.Gateway");

    [Fact]
    public void No_sql_is_written_outside_storage()
    {
        var offences = new List<string>();
        foreach (var file in SourceFiles().Where(f => !InStorage(f)))
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                if (Statement().IsMatch(lines[i]) || AdoCall().IsMatch(lines[i]))
                {
                    offences.Add($"{Relative(file)}:{i + 1}: {lines[i].Trim()}");
                }
            }
        }

        Assert.True(offences.Count == 0, "SQL outside Storage/ (move it into the table's repository in Storage/Repositories):\n" + string.Join('\n', offences));
    }

    [Fact]
    public void Every_table_is_written_by_one_repository_and_no_other_storage_file()
    {
        var tables = Tables();
        Assert.Contains("devices", tables); // the schema was read
        var writers = tables.ToDictionary(t => t, _ => new SortedSet<string>(StringComparer.Ordinal));
        foreach (var file in SourceFiles().Where(InStorage).Where(f => !IsSchema(f)))
        {
            var text = File.ReadAllText(file);
            foreach (Match m in Write().Matches(text))
            {
                if (writers.TryGetValue(m.Groups["table"].Value, out var set))
                {
                    set.Add(Relative(file));
                }
            }
        }

        var wrong = writers
            .Where(w => w.Value.Count != 1 || !w.Value.Single().StartsWith("Storage/Repositories/", StringComparison.Ordinal))
            .Where(w => w.Key != "schema_migrations" || w.Value.Count > 0) // the schema steps' own record: they are its only writer
            .Select(w => $"{w.Key}: written by {(w.Value.Count == 0 ? "nothing" : string.Join(", ", w.Value))}")
            .ToList();
        Assert.True(wrong.Count == 0, "Each table needs exactly one writer, its repository in Storage/Repositories/:\n" + string.Join('\n', wrong));
    }

    [Fact]
    public void Every_repository_names_only_tables_of_the_schema()
    {
        var tables = Tables();
        var unknown = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(Source, "Storage", "Repositories"), "*.cs"))
        {
            foreach (Match m in Named().Matches(File.ReadAllText(file)))
            {
                var table = m.Groups["table"].Value;
                if (!tables.Contains(table) && table != "before")
                {
                    unknown.Add($"{Relative(file)}: {table}");
                }
            }
        }

        Assert.True(unknown.Count == 0, "Tables no schema step creates:\n" + string.Join('\n', unknown));
    }

    /// <summary>The tables the SQLite schema steps create (PostgresSchemaTests holds PostgreSQL's schema to the same).</summary>
    private static HashSet<string> Tables()
    {
        var schema = File.ReadAllText(Path.Combine(Source, "Storage", "SchemaMigrations.cs"));
        var tables = CreateTable().Matches(schema).Select(m => m.Groups["table"].Value).ToHashSet(StringComparer.Ordinal);
        tables.ExceptWith(Renamed().Matches(schema).Select(m => m.Groups["table"].Value)); // a step's rebuilt copy, renamed to the table
        return tables;
    }

    private static IEnumerable<string> SourceFiles() =>
        Directory.EnumerateFiles(Source, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    private static bool InStorage(string file) => Relative(file).StartsWith("Storage/", StringComparison.Ordinal);

    /// <summary>The schema steps create and alter every table; they are the schema, not its owners.</summary>
    private static bool IsSchema(string file) => Relative(file) is "Storage/SchemaMigrations.cs" or "Storage/Postgres/PostgresSchema.cs";

    private static string Relative(string file) => Path.GetRelativePath(Source, file).Replace(Path.DirectorySeparatorChar, '/');

    [GeneratedRegex(@"\b(SELECT\b.*\bFROM|INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM|CREATE (TABLE|INDEX)|ON CONFLICT)\b")]
    private static partial Regex Statement();

    /// <summary>ADO.NET and the journal's SQL entry points.</summary>
    [GeneratedRegex(@"(\.Sql\(|\.CommandText\b|\btx\.(Execute|Scalar|Bound|Command)\(|\bt\.(Execute|Scalar|Bound)\()")]
    private static partial Regex AdoCall();

    [GeneratedRegex(@"\b(INSERT INTO|UPDATE|DELETE FROM) (?<table>[a-z_0-9]+)\b")]
    private static partial Regex Write();

    [GeneratedRegex(@"\b(FROM|INTO|UPDATE|JOIN) (?<table>[a-z_0-9]+)\b")]
    private static partial Regex Named();

    [GeneratedRegex(@"CREATE TABLE (IF NOT EXISTS )?(?<table>[a-z_0-9]+)")]
    private static partial Regex CreateTable();

    [GeneratedRegex(@"ALTER TABLE (?<table>[a-z_0-9]+) RENAME TO")]
    private static partial Regex Renamed();
}
