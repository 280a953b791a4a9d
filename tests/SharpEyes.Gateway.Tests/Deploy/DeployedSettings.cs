using System.Text.RegularExpressions;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Hosting;
using SharpEyes.Gateway.Tests.Docs;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Deploy;

/// <summary>
/// What the files under deploy/ may set: the gateway's switches and SHARPEYES_* variables
/// (<see cref="GatewayConfiguration.Settings"/>), its settings by path (<c>SharpEyes__Section__Name</c>, which the host
/// binds), the bootstrap variables, PGPASSWORD (Npgsql), and NAME_FILE for each NAME the image's entrypoint exports. A
/// typo in any of them would be silently ignored by the gateway, so every deploy test checks its names here.
/// </summary>
internal static partial class DeployedSettings
{
    public static string Entrypoint => Path.Combine(InteropPaths.RepoRoot, "deploy", "docker", "entrypoint.sh");

    private static readonly HashSet<string> Variables = [.. GatewayConfiguration.Settings.Select(s => s.Env), GatewayBootstrap.AdminKeyVariable, "PGPASSWORD"];

    /// <summary>The NAMEs whose NAME_FILE deploy/docker/entrypoint.sh turns into NAME (its <c>for name in ...</c> line).</summary>
    public static IReadOnlyList<string> FileVariables { get; } =
        [.. ForNameLine().Match(File.ReadAllText(Entrypoint)).Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)];

    /// <summary>Null when the gateway (or Npgsql, or the entrypoint) reads the environment variable <paramref name="name"/>, else why not.</summary>
    public static string? UnknownVariable(string name)
    {
        if (name.EndsWith("_FILE", StringComparison.Ordinal))
        {
            var target = name[..^"_FILE".Length];
            return FileVariables.Contains(target) ? UnknownVariable(target) : $"{name}: the entrypoint exports no {target} from a file";
        }

        if (name.StartsWith("SharpEyes__", StringComparison.Ordinal))
        {
            var key = name.Replace("__", ":", StringComparison.Ordinal);
            return ConfigurationReference.Find(key) is null ? $"{name}: no setting {key}" : null;
        }

        return Variables.Contains(name) ? null : $"{name}: not a variable the gateway reads (GatewayConfiguration.Settings)";
    }

    /// <summary>Null when every <c>--switch</c> in a command line is one of the gateway's switches or a setting's path.</summary>
    public static string? UnknownSwitch(IEnumerable<string> args)
    {
        var unknown = args.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => a.Split('=')[0])
            .Where(s => !GatewayConfiguration.Settings.Any(x => x.Switch == s) && ConfigurationReference.Find(s[2..]) is null)
            .ToList();
        return unknown.Count == 0 ? null : "unknown switches: " + string.Join(", ", unknown);
    }

    /// <summary>Fails with every unknown name at once.</summary>
    public static void AssertKnownVariables(IEnumerable<string> names)
    {
        var problems = names.Select(UnknownVariable).OfType<string>().ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>The value after <paramref name="name"/> in a command line (<c>--name value</c> or <c>--name=value</c>).</summary>
    public static string? Arg(IReadOnlyList<string> args, string name)
    {
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == name && i + 1 < args.Count)
            {
                return args[i + 1];
            }

            if (args[i].StartsWith(name + "=", StringComparison.Ordinal))
            {
                return args[i][(name.Length + 1)..];
            }
        }

        return null;
    }

    /// <summary>Whether a postgres:// URL carries a password (user:password@).</summary>
    public static bool HasPassword(string storeUrl) =>
        storeUrl.Contains("password", StringComparison.OrdinalIgnoreCase)
        || (Uri.TryCreate(storeUrl, UriKind.Absolute, out var uri) ? uri.UserInfo.Contains(':', StringComparison.Ordinal) : storeUrl.Contains("Password=", StringComparison.OrdinalIgnoreCase));

    [GeneratedRegex(@"^for name in ([^;]+);", RegexOptions.Multiline)]
    private static partial Regex ForNameLine();
}
