using System.Text.Json.Nodes;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Deploy;

/// <summary>
/// YAML files read through python3's yaml module (Debian's python3-yaml; scripts/install-test-deps.sh installs it),
/// as JSON: the test project references no YAML library, and PyYAML is the parser the YAML world checks itself against.
/// </summary>
internal static class YamlFiles
{
    private const string ToJson = "import json, sys, yaml\njson.dump(list(yaml.safe_load_all(open(sys.argv[1], encoding='utf-8'))), sys.stdout)";

    /// <summary>Every document of the file, in order (a single-document file gives one).</summary>
    public static async Task<IReadOnlyList<JsonNode>> LoadAllAsync(string path)
    {
        var python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : InteropPaths.FindOnPath("python3");
        if (python is null)
        {
            InteropPaths.SkipUnlessCi("python3 is not installed; run scripts/install-test-deps.sh (python3-yaml) to check the deploy files.");
        }

        var result = await ExternalTool.RunAsync(python, ["-c", ToJson, path], TimeSpan.FromSeconds(60));
        if (result.ExitCode != 0 && result.Stderr.Contains("No module named 'yaml'", StringComparison.Ordinal))
        {
            InteropPaths.SkipUnlessCi("python3's yaml module is missing; run scripts/install-test-deps.sh (python3-yaml) to check the deploy files.");
        }

        Assert.True(result.ExitCode == 0, $"{path} is not valid YAML:\n{result}");
        var documents = JsonNode.Parse(result.Stdout)!.AsArray();
        return [.. documents.Where(d => d is not null).Select(d => d!)];
    }

    public static async Task<JsonNode> LoadAsync(string path) => Assert.Single(await LoadAllAsync(path));

    /// <summary>The strings of a JSON array (a command, a list of ports).</summary>
    public static List<string> Strings(JsonNode? array) => array is JsonArray a ? [.. a.Select(n => n!.ToString())] : [];
}
