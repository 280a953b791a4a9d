using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using SharpEyes.Gateway.Cli;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Docs;

/// <summary>
/// docs/configuration.md cannot drift from the options classes: its tables are generated from them (reflection over
/// the options graph, XML comments for meanings), every option must have a comment, every switch must set its option,
/// every stated range must be enforced, and every example on the page must bind to real settings and pass validation.
/// </summary>
public sealed class ConfigurationDocTests
{
    private static readonly string PagePath = Path.Combine(InteropPaths.RepoRoot, "docs", "configuration.md");

    /// <summary>The switches the README listed before docs/configuration.md existed: users' scripts and units use them.</summary>
    private static readonly string[] OldReadmeSwitches =
    [
        "--grpc-port", "--mqtt-port", "--http-port", "--data-dir", "--bind", "--demo", "--sqlite-synchronous", "--incident-window",
        "--incident-quiet", "--keysite-radius", "--grid-target", "--site-area-fraction", "--demo-cameras", "--stream-checks",
        "--probe-concurrency", "--keepalive-interval", "--missed-keepalives", "--centre-url", "--centre-key",
        "--outbox-backlog-limit", "--feed-retention", "--alarm-retention",
    ];

    public static TheoryData<string> Switches() => [.. GatewayConfiguration.Settings.Select(s => s.Switch)];

    [Fact]
    public async Task The_configuration_page_is_generated_from_the_options()
    {
        var text = (await File.ReadAllTextAsync(PagePath)).ReplaceLineEndings("\n");
        var blocks = new List<(string Id, string Body)> { ("switches", ConfigurationReference.RenderSwitches()) };
        blocks.AddRange(ConfigurationReference.Sections().Select(s => (s.Path, ConfigurationReference.RenderSection(s))));
        var problems = new List<string>();
        var updated = Apply(text, blocks, problems);
        if (Environment.GetEnvironmentVariable("SHARPEYES_UPDATE_DOCS") == "1")
        {
            await File.WriteAllTextAsync(PagePath, updated);
            return;
        }

        Assert.True(problems.Count == 0,
            $"{PagePath} is not what the options classes say (SHARPEYES_UPDATE_DOCS=1 rewrites the generated parts):\n" + string.Join("\n", problems));
    }

    [Fact]
    public void Every_option_has_a_comment()
    {
        var missing = ConfigurationReference.AllSettings().Where(s => s.Meaning.Length == 0).Select(s => s.Path)
            .Concat(ConfigurationReference.SectionProperties().Where(s => s.Meaning.Length == 0).Select(s => s.Path))
            .ToList();
        Assert.True(missing.Count == 0,
            "Options without an XML comment (<summary>: what it does, its unit, what 0 or empty means); docs/configuration.md takes its meaning from it:\n" +
            string.Join("\n", missing));
    }

    [Fact]
    public void The_switches_of_the_old_readme_are_still_switches()
    {
        var switches = GatewayConfiguration.Settings.Select(s => s.Switch).ToHashSet(StringComparer.Ordinal);
        var dropped = OldReadmeSwitches.Where(s => !switches.Contains(s)).ToList();
        Assert.True(dropped.Count == 0, "Switches users' scripts and units may use are gone from GatewayConfiguration.Settings: " + string.Join(", ", dropped));
        Assert.All(GatewayConfiguration.Settings, s => Assert.True(ConfigurationReference.Find(s.Key) is not null, $"{s.Switch} sets {s.Key}, which no options class has"));
    }

    [Theory]
    [MemberData(nameof(Switches))]
    public void Each_switch_sets_its_option(string option)
    {
        var (_, env, key) = GatewayConfiguration.Settings.Single(s => s.Switch == option);
        var setting = ConfigurationReference.Find(key)!;
        var sample = Sample(setting.Property, setting.Default);
        var other = Sample(setting.Property, sample);
        Assert.NotEqual(setting.Default, sample);

        Assert.Equal(sample, ConfigurationReference.Read(ConfigurationReference.Bind([option, Text(sample)]), key));
        Assert.Equal(sample, ConfigurationReference.Read(ConfigurationReference.Bind([$"{option}={Text(sample)}"]), key));
        Assert.Equal(sample, ConfigurationReference.Read(ConfigurationReference.Bind([], new Dictionary<string, string?> { [env] = Text(sample) }), key));
        // The switch wins over its variable, and the variable over the host's sources (appsettings.json, SharpEyes__ variables).
        Assert.Equal(sample, ConfigurationReference.Read(ConfigurationReference.Bind([option, Text(sample)], new Dictionary<string, string?> { [env] = Text(other) }), key));
        Assert.Equal(sample, ConfigurationReference.Read(ConfigurationReference.Bind([], new Dictionary<string, string?> { [env] = Text(sample) }, new Dictionary<string, string?> { [key] = Text(other) }), key));
        if (sample is bool)
        {
            // A bare flag means true, also when another switch follows.
            Assert.Equal(true, ConfigurationReference.Read(ConfigurationReference.Bind([option]), key));
            Assert.Equal(true, ConfigurationReference.Read(ConfigurationReference.Bind([option, "--grpc-port", "6000"]), key));
        }
    }

    [Fact]
    public void Any_setting_can_be_given_by_its_path()
    {
        string[] args =
        [
            "--SharpEyes:Alarms:MaxBatch=500", "--SharpEyes:Limits:FeedSubscribers", "7",
            "--centre-url", "http://127.0.0.1:7000", "--centre-key", "k0",
            "--SharpEyes:Outbox:Endpoints:1:Name=gaoyi-town", "--SharpEyes:Outbox:Endpoints:1:Url=mqtt://127.0.0.1:1884",
            "--SharpEyes:Outbox:Endpoints:1:RegionPrefix=130127100", "--SharpEyes:Coverage:CategoryWeights:school=9",
        ];
        var o = ConfigurationReference.Bind(args);

        Assert.Equal(500, o.Alarms.MaxBatch);
        Assert.Equal(7, o.Limits.FeedSubscribers);
        Assert.Equal(["centre", "gaoyi-town"], o.Outbox.Endpoints.Select(e => e.Name));
        Assert.Equal("k0", o.Outbox.Endpoints[0].ApiKey);
        Assert.Equal("130127100", o.Outbox.Endpoints[1].RegionPrefix);
        // A map entry is added to the defaults or replaces one; the others stay.
        Assert.Equal(9, o.Coverage.CategoryWeights["school"]);
        Assert.Equal(5, o.Coverage.CategoryWeights["hospital"]);
        // A list replaces the shipped one entry by entry (the code's default is empty, so nothing is appended to it).
        Assert.Equal(["130102"], ConfigurationReference.Bind(["--SharpEyes:CountyCodes:0=130102"]).CountyCodes);
        Assert.Equal(["130102"], ConfigurationReference.Bind(["--SharpEyes:CountyCodes:0=130102"]).ServedCountyCodes);
        Assert.Equal(["130127"], ConfigurationReference.Bind([]).ServedCountyCodes);
        Assert.Null(ConfigurationReference.Validate(args));
    }

    [Fact]
    public void The_stated_ranges_and_rules_are_enforced()
    {
        var passed = new List<string>();
        var endpoint = new Dictionary<string, string?> { ["SharpEyes:Outbox:Endpoints:0:Url"] = "http://127.0.0.1:7000" };
        Assert.Null(ConfigurationReference.Validate([], keys: endpoint));
        foreach (var s in ConfigurationReference.AllSettings())
        {
            if (s.Property.GetCustomAttribute<RangeAttribute>() is not { } range)
            {
                continue;
            }

            var key = s.Path.Replace(":N:", ":0:", StringComparison.Ordinal);
            var keys = new Dictionary<string, string?>(s.Path.Contains(":N:", StringComparison.Ordinal) ? endpoint : []) { [key] = OutOfRange(range, s.Property.PropertyType) };
            var failure = ConfigurationReference.Validate([], keys: keys);
            if (failure?.Failures.Any(f => f.Contains(s.Property.Name, StringComparison.Ordinal)) != true)
            {
                passed.Add($"{key}={keys[key]} (stated range {range.Minimum}..{range.Maximum})");
            }
        }

        foreach (var rule in ConfigurationReference.ValidatorRules)
        {
            Assert.True(ConfigurationReference.Find(rule.Path) is not null, $"validator rule for {rule.Path}, which is no setting");
            if (ConfigurationReference.Validate([], keys: rule.Violation.ToDictionary(v => v.Key, v => (string?)v.Value)) is null)
            {
                passed.Add($"{string.Join(", ", rule.Violation.Select(v => $"{v.Key}={v.Value}"))} (stated rule for {rule.Path}: {rule.Rule})");
            }
        }

        Assert.True(passed.Count == 0, "Values the page says are not allowed passed validation:\n" + string.Join("\n", passed));
    }

    [Fact]
    public async Task The_examples_on_the_page_set_real_settings_and_are_valid()
    {
        var text = (await File.ReadAllTextAsync(PagePath)).ReplaceLineEndings("\n");
        var examples = 0;
        foreach (Match block in Regex.Matches(text, @"```(sh|json)\n(.*?)```", RegexOptions.Singleline))
        {
            if (block.Groups[1].Value == "json")
            {
                var keys = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(block.Groups[2].Value))).Build()
                    .AsEnumerable().Where(p => p.Value is not null).ToDictionary(p => p.Key, p => p.Value);
                Check(block.Value, [], [], keys);
                examples++;
                continue;
            }

            foreach (var line in block.Groups[2].Value.Replace("\\\n", " ", StringComparison.Ordinal).Split('\n'))
            {
                var words = Regex.Matches(line, @"""([^""]*)""|'([^']*)'|(\S+)").Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Success ? m.Groups[2].Value : m.Groups[3].Value).ToList();
                var assignments = words.TakeWhile(w => Regex.IsMatch(w, "^[A-Za-z_][A-Za-z0-9_]*=")).ToList();
                var command = words.Skip(assignments.Count).ToArray();
                if (command.Length == 0 || command[0] != "sharpeyes" || GatewayCli.IsClientCommand(command[1..]))
                {
                    continue;
                }

                var variables = assignments.Select(a => a.Split('=', 2)).ToDictionary(a => a[0], a => (string?)a[1]);
                var sharpEyes = variables.Where(v => v.Key.StartsWith("SHARPEYES_", StringComparison.Ordinal)).ToDictionary();
                Assert.All(sharpEyes.Keys, v => Assert.True(GatewayConfiguration.Settings.Any(s => s.Env == v), $"{line}: {v} is no variable of the gateway"));
                // Any other variable is read by the host's environment provider: __ separates the path.
                var others = variables.Where(v => !sharpEyes.ContainsKey(v.Key)).ToDictionary(v => v.Key.Replace("__", ":", StringComparison.Ordinal), v => v.Value);
                Check(line, command[1..], sharpEyes, others);
                examples++;
            }
        }

        Assert.True(examples >= 3, $"{PagePath}: expected its sh and json examples, found {examples}");
    }

    [Theory]
    [InlineData("--missed-keepalives", "0")]
    [InlineData("--grpc-port", "abc")]
    [InlineData("--bind", "foo")]
    [InlineData("--grpc-port", "70000")]
    public async Task Bad_configuration_stops_the_start_with_one_line_naming_the_setting_and_exit_code_2(string option, string value)
    {
        var dataDir = Directory.CreateTempSubdirectory("sharpeyes-badconfig-").FullName;
        try
        {
            var run = await Interop.ExternalTool.RunAsync("dotnet",
                [Path.Combine(AppContext.BaseDirectory, "sharpeyes.dll"), "--bind", "127.0.0.1", "--insecure-listeners", "--sip-port", "0", "--grpc-port", "0", "--mqtt-port", "0", "--http-port", "0", "--data-dir", dataDir, option, value],
                TimeSpan.FromSeconds(60));

            Assert.Equal(2, run.ExitCode);
            var line = Assert.Single(run.Stderr.Split('\n'), l => l.Length > 0);
            Assert.StartsWith("sharpeyes: invalid configuration: ", line, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", run.Stderr + run.Stdout, StringComparison.Ordinal); // no stack trace
            var page = await File.ReadAllTextAsync(PagePath, TestContext.Current.CancellationToken);
            if (option == "--missed-keepalives")
            {
                // The example on the page is this very line.
                Assert.Contains($"$ sharpeyes {option} {value}\n{line}\n", page, StringComparison.Ordinal);
            }
            else
            {
                Assert.Contains(option == "--bind" ? "BindAddress (--bind): 'foo'" : option == "--grpc-port" && value == "abc" ? "'abc' at 'SharpEyes:GrpcPort'" : "GrpcPort (--grpc-port): 70000 is not a TCP port", line, StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static void Check(string example, string[] args, Dictionary<string, string?> environment, Dictionary<string, string?> keys)
    {
        var unknown = GatewayConfiguration.ParseArgs(args).Keys.Concat(keys.Keys).Where(k => !ConfigurationReference.IsKnownKey(k)).ToList();
        Assert.True(unknown.Count == 0, $"{example}: {string.Join(", ", unknown)} sets nothing");
        var failure = ConfigurationReference.Validate(args, environment, keys);
        Assert.True(failure is null, $"{example}: {failure?.Message}");
    }

    /// <summary>
    /// Puts the generated blocks into the page between their markers: a changed block is replaced, a missing one
    /// inserted after the block before it, one for a section that no longer exists removed. Each is a problem.
    /// </summary>
    private static string Apply(string text, IReadOnlyList<(string Id, string Body)> blocks, List<string> problems)
    {
        static string Begin(string id) => $"<!-- config {id}:begin {ConfigurationReference.Generated} -->\n";
        static string End(string id) => $"<!-- config {id}:end -->";

        foreach (var id in Regex.Matches(text, @"<!-- config (\S+):begin").Select(m => m.Groups[1].Value).ToList())
        {
            if (!blocks.Any(b => b.Id == id))
            {
                problems.Add($"{id}: the page has a table for it, the options classes no such section");
                var from = text.IndexOf($"<!-- config {id}:begin", StringComparison.Ordinal);
                var to = text.IndexOf(End(id), StringComparison.Ordinal);
                text = to > from ? text[..from] + text[(to + End(id).Length)..].TrimStart('\n') : text;
            }
        }

        string? previous = null;
        foreach (var (id, body) in blocks)
        {
            var from = text.IndexOf(Begin(id), StringComparison.Ordinal);
            var to = text.IndexOf(End(id), StringComparison.Ordinal);
            if (from < 0 || to < from)
            {
                problems.Add($"{id}: no generated block (markers {Begin(id).TrimEnd()} ... {End(id)})");
                var at = previous is null ? text.Length : text.IndexOf(End(previous), StringComparison.Ordinal) + End(previous).Length;
                text = text[..at] + "\n\n" + Begin(id) + body + End(id) + text[at..];
            }
            else
            {
                var current = text[(from + Begin(id).Length)..to];
                if (current != body)
                {
                    var was = current.Split('\n');
                    var now = body.Split('\n');
                    var line = Enumerable.Range(0, Math.Max(was.Length, now.Length)).First(i => i >= was.Length || i >= now.Length || was[i] != now[i]);
                    problems.Add($"{id}: differs; first at line {line + 1} of the block:\n  page:    {(line < was.Length ? was[line] : "(end)")}\n  options: {(line < now.Length ? now[line] : "(end)")}");
                    text = text[..(from + Begin(id).Length)] + body + text[to..];
                }
            }

            previous = id;
        }

        return text;
    }

    /// <summary>A value of the property's type other than <paramref name="from"/>, within its range.</summary>
    private static object Sample(PropertyInfo property, object? from)
    {
        var range = property.GetCustomAttribute<RangeAttribute>();
        var max = range is null ? double.MaxValue : Convert.ToDouble(range.Maximum, CultureInfo.InvariantCulture);
        var min = range is null ? double.MinValue : Convert.ToDouble(range.Minimum, CultureInfo.InvariantCulture);
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        return from switch
        {
            bool b => !b,
            int i => i + 1 <= max ? i + 1 : i - 1,
            long l => l + 1 <= max ? l + 1 : l - 1,
            double d when range is null => d + 1,
            double d => d < max ? (d + max) / 2 : (d + min) / 2,
            TimeSpan t => t + TimeSpan.FromMinutes(1),
            "sample-value" => "other-value",
            string => "sample-value",
            null when type == typeof(string) => "sample-value",
            null when type == typeof(int) => (int)Math.Max(min, 1), // an int? unset by default (MqttPort: its default follows TLS)
            _ => throw new InvalidOperationException($"no sample value for {property.DeclaringType?.Name}.{property.Name} ({property.PropertyType}): teach ConfigurationDocTests.Sample"),
        };
    }

    /// <summary>A value as configuration text.</summary>
    private static string Text(object value) => value switch
    {
        bool b => b ? "true" : "false",
        TimeSpan t => t.ToString("c", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture)!,
    };

    private static string OutOfRange(RangeAttribute range, Type type)
    {
        if (type == typeof(TimeSpan))
        {
            return (TimeSpan.Parse((string)range.Maximum, CultureInfo.InvariantCulture) + TimeSpan.FromSeconds(1)).ToString("c", CultureInfo.InvariantCulture);
        }

        var max = Convert.ToDouble(range.Maximum, CultureInfo.InvariantCulture);
        var outside = max >= int.MaxValue ? Convert.ToDouble(range.Minimum, CultureInfo.InvariantCulture) - 1 : max + 1;
        return outside.ToString("R", CultureInfo.InvariantCulture);
    }
}
