using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Docs;

/// <summary>
/// The documentation holds together: every relative link in README.md and docs/ points at a file that exists (and at
/// a heading that exists, by GitHub's anchor rules), every page in docs/ can be reached from the README, the README
/// stays short, and every guide opens by saying who it is for.
/// </summary>
public sealed partial class DocLinkTests
{
    private static readonly string Root = InteropPaths.RepoRoot;

    private static IEnumerable<string> Pages() =>
        new[] { Path.Combine(Root, "README.md") }.Concat(Directory.EnumerateFiles(Path.Combine(Root, "docs"), "*.md", SearchOption.AllDirectories).Order(StringComparer.Ordinal));

    [Fact]
    public void Every_relative_link_and_anchor_resolves()
    {
        var broken = new List<string>();
        var checkedLinks = 0;
        foreach (var page in Pages())
        {
            foreach (var (line, target) in Links(File.ReadAllText(page)))
            {
                if (IsExternal(target))
                {
                    continue;
                }

                checkedLinks++;
                var hash = target.IndexOf('#', StringComparison.Ordinal);
                var path = hash < 0 ? target : target[..hash];
                var anchor = hash < 0 ? null : Uri.UnescapeDataString(target[(hash + 1)..]);
                var file = path.Length == 0 ? page : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, Uri.UnescapeDataString(path)));
                var where = $"{Path.GetRelativePath(Root, page)}:{line}: ({target})";
                if (!File.Exists(file) && !Directory.Exists(file))
                {
                    broken.Add($"{where} no such file {Path.GetRelativePath(Root, file)}");
                }
                else if (anchor is not null && (!file.EndsWith(".md", StringComparison.Ordinal) || !Anchors(File.ReadAllText(file)).Contains(anchor)))
                {
                    broken.Add($"{where} no heading #{anchor} in {Path.GetRelativePath(Root, file)}");
                }
            }
        }

        Assert.True(checkedLinks > 50, $"only {checkedLinks} relative links found: is the link pattern still right?");
        Assert.True(broken.Count == 0, "broken links:\n" + string.Join('\n', broken));
    }

    [Fact]
    public void Every_page_in_docs_is_reachable_from_the_README()
    {
        var readme = Path.Combine(Root, "README.md");
        var reached = new HashSet<string>(StringComparer.Ordinal) { readme };
        var queue = new Queue<string>([readme]);
        while (queue.TryDequeue(out var page))
        {
            foreach (var (_, target) in Links(File.ReadAllText(page)))
            {
                var path = target.Split('#')[0];
                if (IsExternal(target) || !path.EndsWith(".md", StringComparison.Ordinal))
                {
                    continue;
                }

                var file = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, Uri.UnescapeDataString(path)));
                if (File.Exists(file) && reached.Add(file))
                {
                    queue.Enqueue(file);
                }
            }
        }

        var unreached = Pages().Where(p => !reached.Contains(p)).Select(p => Path.GetRelativePath(Root, p)).ToList();
        Assert.True(unreached.Count == 0, "not reachable from README.md: " + string.Join(", ", unreached));
        // The pages the issue asks for, one per reader.
        foreach (var name in new[] { "vendor-guide", "operator-guide", "planner-guide", "centre-integration", "configuration", "operations", "architecture", "security", "benchmarks", "decisions", "api" })
        {
            Assert.Contains(Path.Combine(Root, "docs", name + ".md"), reached);
        }
    }

    [Fact]
    public void The_README_is_short_and_every_guide_says_first_who_it_is_for()
    {
        var readme = File.ReadAllLines(Path.Combine(Root, "README.md"));
        Assert.True(readme.Length <= 150, $"README.md has {readme.Length} lines; the newcomer's page stays within 150");
        foreach (var page in Directory.EnumerateFiles(Path.Combine(Root, "docs"), "*.md"))
        {
            var lines = File.ReadAllLines(page);
            Assert.True(lines.Length > 2 && lines[0].StartsWith("# ", StringComparison.Ordinal), $"{Path.GetFileName(page)} starts with its title");
            var first = lines.Skip(1).First(l => l.Trim().Length > 0);
            Assert.False(first.StartsWith('#') || first.StartsWith('|') || first.StartsWith("```", StringComparison.Ordinal) || first.StartsWith("<!--", StringComparison.Ordinal),
                $"{Path.GetFileName(page)}: the title is followed by a paragraph saying who the page is for, not by '{first}'");
        }
    }

    [Theory]
    [InlineData("Who may do what", "who-may-do-what")]
    [InlineData("Careless and hostile clients", "careless-and-hostile-clients")]
    [InlineData("`Feeds.Subscribe`: the pull feed", "feedssubscribe-the-pull-feed")]
    [InlineData("Backup and restore (while it runs)", "backup-and-restore-while-it-runs")]
    [InlineData("SharpEyes:Limits", "sharpeyeslimits")]
    [InlineData("1. Start 高邑县 demo", "1-start-高邑县-demo")]
    [InlineData("snake_case and [a link](x.md)", "snake_case-and-a-link")]
    public void Anchors_follow_GitHubs_rules(string heading, string anchor) => Assert.Equal(anchor, Slug(heading));

    /// <summary>Markdown links outside code: inline <c>[text](target)</c> and reference definitions <c>[id]: target</c>.</summary>
    internal static IEnumerable<(int Line, string Target)> Links(string markdown)
    {
        var fenced = false;
        var lines = markdown.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                fenced = !fenced;
                continue;
            }

            if (fenced)
            {
                continue;
            }

            var text = InlineCode().Replace(lines[i], "");
            foreach (Match m in InlineLink().Matches(text))
            {
                yield return (i + 1, m.Groups[1].Value);
            }

            if (ReferenceLink().Match(text) is { Success: true } r)
            {
                yield return (i + 1, r.Groups[1].Value);
            }
        }
    }

    /// <summary>The anchors GitHub gives a page's headings (duplicates get -1, -2, ...), and explicit <c>id</c>s.</summary>
    internal static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var fenced = false;
        foreach (var line in markdown.Split('\n'))
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                fenced = !fenced;
            }
            else if (!fenced && Heading().Match(line) is { Success: true } h)
            {
                var slug = Slug(h.Groups[1].Value);
                var n = seen.GetValueOrDefault(slug);
                seen[slug] = n + 1;
                anchors.Add(n == 0 ? slug : string.Create(CultureInfo.InvariantCulture, $"{slug}-{n}"));
            }

            foreach (Match m in ExplicitId().Matches(line))
            {
                anchors.Add(m.Groups[1].Value);
            }
        }

        return anchors;
    }

    /// <summary>github-slugger: the heading's text, lower-cased, without punctuation, spaces as hyphens.</summary>
    internal static string Slug(string heading)
    {
        var text = InlineLink().Replace(heading.Trim(), m => m.Value[1..m.Value.IndexOf(']', StringComparison.Ordinal)]);
        var slug = new StringBuilder();
        foreach (var c in text.ToLowerInvariant())
        {
            var category = char.GetUnicodeCategory(c);
            if (c is ' ')
            {
                slug.Append('-');
            }
            else if (c is '-' or '_' || char.IsLetterOrDigit(c) || category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark)
            {
                slug.Append(c);
            }
        }

        return slug.ToString();
    }

    private static bool IsExternal(string target) => target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal);

    [GeneratedRegex(@"`[^`]*`")]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"\[[^\]]*\]\(([^)\s]+)(?:\s+""[^""]*"")?\)")]
    private static partial Regex InlineLink();

    [GeneratedRegex(@"^\s{0,3}\[[^\]]+\]:\s+(\S+)")]
    private static partial Regex ReferenceLink();

    [GeneratedRegex(@"^#{1,6}\s+(.+?)\s*#*\s*$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"<a\s+(?:name|id)=""([^""]+)""")]
    private static partial Regex ExplicitId();
}
