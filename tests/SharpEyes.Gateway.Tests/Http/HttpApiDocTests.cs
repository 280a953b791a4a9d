using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Tests.Docs;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Http;

/// <summary>
/// docs/http-api.md: its routes table is what the protos' google.api.http options render now (SHARPEYES_UPDATE_DOCS=1
/// rewrites it), and its curl examples run, in order, in one bash session against an in-process gateway with the
/// demo county, each answer checked against the one the page shows: a <c>json</c> block lists fields the real answer
/// must have with those values (the page shortens answers), a <c>text</c> block is the exact output.
/// </summary>
public sealed partial class HttpApiDocTests
{
    private const string RoutesBegin = "<!-- http-routes:begin (generated from protos/sharpeyes/v1/*.proto and src/SharpEyes.Gateway/Auth/AccessTable.cs; SHARPEYES_UPDATE_DOCS=1 rewrites it) -->\n";
    private const string RoutesEnd = "<!-- http-routes:end -->";

    private static string PagePath => Path.Combine(InteropPaths.RepoRoot, "docs", "http-api.md");

    [Fact]
    public async Task The_routes_table_is_the_protos_routes()
    {
        var text = await File.ReadAllTextAsync(PagePath, TestContext.Current.CancellationToken);
        var from = text.IndexOf(RoutesBegin, StringComparison.Ordinal);
        var to = text.IndexOf(RoutesEnd, StringComparison.Ordinal);
        Assert.True(from >= 0 && to > from, $"{PagePath} has no http-routes markers");
        var rendered = ApiReference.Load().RenderHttpRoutes();
        if (Environment.GetEnvironmentVariable("SHARPEYES_UPDATE_DOCS") == "1")
        {
            await File.WriteAllTextAsync(PagePath, text[..(from + RoutesBegin.Length)] + rendered + text[to..], TestContext.Current.CancellationToken);
            return;
        }

        Assert.Equal(rendered, text[(from + RoutesBegin.Length)..to]);
    }

    [Fact]
    public async Task Every_curl_example_runs_and_answers_what_the_page_shows()
    {
        if (InteropPaths.FindOnPath("curl") is null)
        {
            InteropPaths.SkipUnlessCi("the examples need curl (scripts/install-test-deps.sh installs it)");
        }

        var examples = Examples(await File.ReadAllTextAsync(PagePath, TestContext.Current.CancellationToken));
        Assert.True(examples.Count >= 8, $"the page has {examples.Count} examples");

        // The demo county with its 752 cameras, as `bash scripts/run.sh --demo` starts it.
        await using var host = await GatewayHost.StartAsync(extraArgs: ["--SharpEyes:DemoCameras=true"]);
        var keys = new Dictionary<string, string>
        {
            ["VENDOR_KEY"] = await host.CreateKeyAsync(Role.Vendor, "acme"),
            ["OPERATOR_KEY"] = await host.CreateKeyAsync(Role.Operator),
            ["PLANNER_KEY"] = await host.CreateKeyAsync(Role.Planner),
            ["INCIDENT_ID"] = await OpenAnIncidentAsync(host),
        };

        var script = new StringBuilder("set -euo pipefail\n");
        for (var i = 0; i < examples.Count; i++)
        {
            // curl prints no newline after a JSON answer: the marker goes on a line of its own.
            script.Append(CultureInfo.InvariantCulture, $"echo; echo '@@example {i}'\n")
                .Append(examples[i].Command.Replace("127.0.0.1:8080", $"127.0.0.1:{host.HttpPort}", StringComparison.Ordinal)).Append('\n');
        }

        Assert.DoesNotMatch(@"\b8080\b", script.ToString().Replace($"127.0.0.1:{host.HttpPort}", "", StringComparison.Ordinal));
        var run = await ExternalTool.RunAsync("bash", ["-c", script.ToString()], TimeSpan.FromMinutes(1), InteropPaths.RepoRoot, keys);
        Assert.True(run.ExitCode == 0, $"the examples failed (exit {run.ExitCode})\n{run.Stdout}\n{run.Stderr}");

        var outputs = Regex.Split(run.Stdout, @"^@@example \d+\n", RegexOptions.Multiline)[1..];
        Assert.Equal(examples.Count, outputs.Length);
        for (var i = 0; i < examples.Count; i++)
        {
            var (command, kind, shown) = examples[i];
            var actual = outputs[i].Trim();
            if (kind == "text")
            {
                Assert.True(shown.Trim() == actual, $"example {i + 1} ({command.Split('\n')[0]}) printed\n{actual}\nbut the page shows\n{shown.Trim()}");
                continue;
            }

            using var expected = JsonDocument.Parse(shown);
            using var answer = JsonDocument.Parse(actual);
            var mismatch = Contains(answer.RootElement, expected.RootElement, "");
            Assert.True(mismatch is null, $"example {i + 1} ({command.Split('\n')[0]}): {mismatch}\nanswer: {actual}");
        }
    }

    /// <summary>The vendor "beta" publishes one alarm: the open incident the examples list and close.</summary>
    private static async Task<string> OpenAnIncidentAsync(GatewayHost host)
    {
        var beta = await host.CreateKeyAsync(Role.Vendor, "beta");
        await new DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(TestDevices.Alarm(7), host.Auth(beta));
        var mqtt = await host.ConnectMqttAsync("beta", beta);
        var ack = await mqtt.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/" + TestDevices.AlarmId(7))
            .WithPayload(TestDevices.AlarmJson("gate-1", priority: 1)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode);
        var open = await new V1.Incidents.IncidentsClient(host.Channel).ListIncidentsAsync(new ListIncidentsRequest(), host.AdminAuth);
        return Assert.Single(open.Incidents).IncidentId;
    }

    /// <summary>
    /// Null when <paramref name="actual"/> has everything <paramref name="expected"/> shows: each property of an object
    /// with a value that matches, each element of an array at its index (an empty array means empty), equal scalars.
    /// </summary>
    private static string? Contains(JsonElement actual, JsonElement expected, string path)
    {
        if (expected.ValueKind == JsonValueKind.Object)
        {
            if (actual.ValueKind != JsonValueKind.Object)
            {
                return $"{path}: expected an object, got {actual.GetRawText()}";
            }

            foreach (var property in expected.EnumerateObject())
            {
                if (!actual.TryGetProperty(property.Name, out var value))
                {
                    return $"{path}.{property.Name} is missing";
                }

                if (Contains(value, property.Value, $"{path}.{property.Name}") is { } inner)
                {
                    return inner;
                }
            }

            return null;
        }

        if (expected.ValueKind == JsonValueKind.Array)
        {
            if (actual.ValueKind != JsonValueKind.Array || actual.GetArrayLength() < expected.GetArrayLength()
                || (expected.GetArrayLength() == 0 && actual.GetArrayLength() != 0))
            {
                return $"{path}: expected {expected.GetRawText()}, got {actual.GetRawText()}";
            }

            for (var i = 0; i < expected.GetArrayLength(); i++)
            {
                if (Contains(actual[i], expected[i], $"{path}[{i}]") is { } inner)
                {
                    return inner;
                }
            }

            return null;
        }

        return JsonElement.DeepEquals(actual, expected) ? null : $"{path}: expected {expected.GetRawText()}, got {actual.GetRawText()}";
    }

    /// <summary>The examples section's sh blocks, each with the json or text block that follows it.</summary>
    internal static List<(string Command, string Kind, string Shown)> Examples(string page)
    {
        var begin = page.IndexOf("<!-- http-examples:begin", StringComparison.Ordinal);
        var end = page.IndexOf("<!-- http-examples:end -->", StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, "docs/http-api.md has no http-examples markers");
        var section = page[begin..end];
        var pairs = ExampleBlocks().Matches(section).Select(m => (m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value)).ToList();
        Assert.Equal(ShBlocks().Count(section), pairs.Count); // every command is followed by its answer
        return pairs;
    }

    [GeneratedRegex(@"```sh\n(.*?)```\s*\n```(json|text)\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex ExampleBlocks();

    [GeneratedRegex("```sh\n")]
    private static partial Regex ShBlocks();
}
