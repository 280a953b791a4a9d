namespace SharpEyes.Bench.Reporting;

/// <summary>Sections of bench/results/latest.md that each bench command owns, between &lt;!-- name:begin --&gt; and &lt;!-- name:end --&gt;.</summary>
public static class ReportSections
{
    public static string Begin(string name) => $"<!-- {name}:begin -->";

    public static string End(string name) => $"<!-- {name}:end -->";

    /// <summary>Replaces the section <paramref name="name"/> of an existing report, or appends it (creating the file when missing).</summary>
    public static void Merge(string file, string name, string section)
    {
        var (begin, end) = (Begin(name), End(name));
        var existing = File.Exists(file) ? File.ReadAllText(file) : "# SharpEyes gateway benchmark\n";
        var from = existing.IndexOf(begin, StringComparison.Ordinal);
        var to = existing.IndexOf(end, StringComparison.Ordinal);
        var merged = from >= 0 && to > from
            ? existing[..from] + section.TrimEnd('\n') + existing[(to + end.Length)..]
            : existing.TrimEnd('\n') + "\n\n" + section;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
        File.WriteAllText(file, merged.EndsWith('\n') ? merged : merged + "\n");
    }
}
