using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Deploy;

/// <summary>
/// deploy/compose/compose.yaml and the image it runs (deploy/Dockerfile, deploy/docker/entrypoint.sh), read as YAML:
/// no container engine runs here, so what matters for replicas is checked in the files themselves.
/// </summary>
public sealed partial class ComposeFileTests
{
    private static string ComposeDir => Path.Combine(InteropPaths.RepoRoot, "deploy", "compose");

    private static string Dockerfile => Path.Combine(InteropPaths.RepoRoot, "deploy", "Dockerfile");

    /// <summary>The gateway services: those started with --store.</summary>
    private static async Task<(JsonNode File, List<(string Name, JsonNode Service, List<string> Command)> Gateways)> LoadAsync()
    {
        var file = await YamlFiles.LoadAsync(Path.Combine(ComposeDir, "compose.yaml"));
        var gateways = file["services"]!.AsObject()
            .Select(s => (Name: s.Key, Service: s.Value!, Command: YamlFiles.Strings(s.Value!["command"])))
            .Where(s => s.Command.Contains("--store"))
            .ToList();
        return (file, gateways);
    }

    private static Dictionary<string, string> Environment(JsonNode service) =>
        service["environment"]!.AsObject().ToDictionary(e => e.Key, e => e.Value?.ToString() ?? "", StringComparer.Ordinal);

    [Fact]
    public async Task Replicas_have_distinct_ids_share_one_postgres_store_without_a_password_and_know_every_setting_they_use()
    {
        var (file, gateways) = await LoadAsync();
        Assert.True(gateways.Count >= 2, "the compose file runs two or more gateway replicas");

        var ids = gateways.Select(g => DeployedSettings.Arg(g.Command, "--replica-id")).ToList();
        Assert.All(ids, id => Assert.False(string.IsNullOrEmpty(id), "every replica names its --replica-id"));
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        // The external broker's client id is sharpeyes-<host name>: fixed and distinct, so each persistent session waits for its replica.
        var hostnames = gateways.Select(g => g.Service["hostname"]?.ToString()).ToList();
        Assert.All(hostnames, h => Assert.False(string.IsNullOrEmpty(h)));
        Assert.Equal(hostnames.Count, hostnames.Distinct(StringComparer.Ordinal).Count());

        var stores = gateways.Select(g => DeployedSettings.Arg(g.Command, "--store")!).Distinct(StringComparer.Ordinal).ToList();
        var store = Assert.Single(stores);
        Assert.StartsWith("postgres://", store, StringComparison.Ordinal);
        Assert.False(DeployedSettings.HasPassword(store), $"the store's URL carries a password: {store}");
        var postgresHost = new Uri(store).Host;
        var postgres = file["services"]![postgresHost];
        Assert.NotNull(postgres);
        Assert.StartsWith("postgres:15", postgres["image"]!.ToString(), StringComparison.Ordinal);

        foreach (var (name, service, command) in gateways)
        {
            Assert.True(DeployedSettings.UnknownSwitch(command) is null, $"{name}: {DeployedSettings.UnknownSwitch(command)}");
            DeployedSettings.AssertKnownVariables(Environment(service).Keys);
        }
    }

    [Fact]
    public async Task Secrets_come_from_files_never_from_the_compose_file()
    {
        var (file, gateways) = await LoadAsync();
        var secrets = file["secrets"]!.AsObject();
        foreach (var (name, service, _) in gateways)
        {
            var env = Environment(service);
            var mounted = YamlFiles.Strings(service["secrets"]);
            // No secret given inline: each is a *_FILE naming a mounted compose secret, which is a file beside this one.
            foreach (var secret in DeployedSettings.FileVariables)
            {
                Assert.False(env.ContainsKey(secret), $"{name} sets {secret} in the compose file; give {secret}_FILE");
            }

            foreach (var required in new[] { "PGPASSWORD", "SHARPEYES_ADMIN_KEY" })
            {
                Assert.True(env.TryGetValue(required + "_FILE", out var path), $"{name}: {required}_FILE");
                var match = Regex.Match(path!, "^/run/secrets/(.+)$");
                Assert.True(match.Success, $"{name}: {required}_FILE={path} is not a compose secret");
                Assert.Contains(match.Groups[1].Value, mounted);
            }

            foreach (var secret in mounted)
            {
                var source = secrets[secret]?["file"]?.ToString();
                Assert.False(string.IsNullOrEmpty(source), $"secret {secret} is read from a file");
            }
        }

        // PostgreSQL's own password is the same secret the gateways read as PGPASSWORD.
        var postgres = file["services"]![new Uri(DeployedSettings.Arg(gateways[0].Command, "--store")!).Host]!;
        Assert.Equal(Environment(gateways[0].Service)["PGPASSWORD_FILE"], Environment(postgres)["POSTGRES_PASSWORD_FILE"]);

        // The secrets' files stay out of version control.
        var ignored = await File.ReadAllLinesAsync(Path.Combine(ComposeDir, ".gitignore"));
        var sources = secrets.Select(s => s.Value!["file"]!.ToString()).ToList();
        Assert.All(sources, s => Assert.Contains(ignored, i => s.TrimStart('.', '/').StartsWith(i.TrimEnd('/') + "/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Replicas_share_the_key_ring_volume_keep_their_own_data_check_healthz_and_stop_after_the_gateways_shutdown()
    {
        var (file, gateways) = await LoadAsync();
        var dataDir = ImageEnvironment()["SHARPEYES_DATA_DIR"];
        var keyRings = new List<string>();
        var dataVolumes = new List<string>();
        foreach (var (name, service, _) in gateways)
        {
            var env = Environment(service);
            var volumes = YamlFiles.Strings(service["volumes"]).Select(v => v.Split(':')).ToDictionary(v => v[1], v => v[0], StringComparer.Ordinal);
            var keyRingPath = env["SharpEyes__Secrets__KeyRingPath"];
            Assert.True(volumes.TryGetValue(keyRingPath, out var keyRing), $"{name} mounts a volume at its key ring {keyRingPath}");
            Assert.True(file["volumes"]!.AsObject().ContainsKey(keyRing!), $"{name}: the key ring is the named volume {keyRing}");
            keyRings.Add(keyRing!);
            Assert.True(volumes.TryGetValue(env.GetValueOrDefault("SHARPEYES_DATA_DIR", dataDir), out var data), $"{name} mounts its data directory");
            dataVolumes.Add(data!);

            // /healthz on the replica's HTTP port; curl -f fails on its 503.
            var test = YamlFiles.Strings(service["healthcheck"]!["test"]);
            Assert.Contains("curl", test);
            Assert.Contains(test, t => t.StartsWith("-f", StringComparison.Ordinal));
            var url = Assert.Single(test, t => t.Contains("://", StringComparison.Ordinal));
            Assert.Equal("/healthz", new Uri(url).AbsolutePath);
            Assert.Equal(env["SHARPEYES_HTTP_PORT"], new Uri(url).Port.ToString(CultureInfo.InvariantCulture));
            Assert.Equal(env.ContainsKey("SHARPEYES_TLS_CERT") ? "https" : "http", new Uri(url).Scheme);

            var grace = service["stop_grace_period"]!.ToString();
            Assert.Matches("^[0-9]+s$", grace);
            Assert.True(int.Parse(grace[..^1], CultureInfo.InvariantCulture) > 30, $"{name}: stop_grace_period {grace} must exceed the gateway's 30 s shutdown");
        }

        Assert.Single(keyRings.Distinct(StringComparer.Ordinal));
        Assert.Equal(dataVolumes.Count, dataVolumes.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task Haproxy_runs_the_shipped_config_whose_default_replicas_are_the_compose_gateways()
    {
        var (file, gateways) = await LoadAsync();
        var haproxy = file["services"]!["haproxy"]!;
        var config = Path.Combine(InteropPaths.RepoRoot, "deploy", "haproxy", "haproxy.cfg");
        var mount = YamlFiles.Strings(haproxy["volumes"]).Select(v => v.Split(':')).Single(v => v[1].EndsWith("haproxy.cfg", StringComparison.Ordinal));
        Assert.Equal(config, Path.GetFullPath(Path.Combine(ComposeDir, mount[0])));

        // The replicas the file names by default ("${SHARPEYES_REPLICAn_HOST-sharpeyes-n}") are the gateway services, on their ports.
        var defaults = ConfigDefault().Matches(await File.ReadAllTextAsync(config)).GroupBy(m => m.Groups[1].Value)
            .ToDictionary(g => g.Key, g => Assert.Single(g.Select(m => m.Groups[2].Value).Distinct()), StringComparer.Ordinal);
        var overrides = haproxy["environment"] is JsonObject e ? Environment(haproxy) : [];
        string Value(string name) => overrides.GetValueOrDefault(name) ?? defaults[name];
        for (var n = 1; n <= gateways.Count; n++)
        {
            var host = Value($"SHARPEYES_REPLICA{n}_HOST");
            var gateway = gateways.SingleOrDefault(g => g.Name == host);
            Assert.True(gateway.Service is not null, $"haproxy's replica {n} is {host}, which is no gateway service");
            var env = Environment(gateway.Service);
            Assert.Equal(env["SHARPEYES_GRPC_PORT"], Value($"SHARPEYES_REPLICA{n}_GRPC_PORT"));
            Assert.Equal(env["SHARPEYES_MQTT_PORT"], Value($"SHARPEYES_REPLICA{n}_MQTT_PORT"));
            Assert.Equal(env["SHARPEYES_HTTP_PORT"], Value($"SHARPEYES_REPLICA{n}_HTTP_PORT"));
        }

        // TLS checks on by default, as the replicas serve TLS here.
        Assert.Equal("on", Value("SHARPEYES_LB_CHECK_TLS"));
        Assert.All(gateways, g => Assert.True(Environment(g.Service).ContainsKey("SHARPEYES_TLS_CERT")));
    }

    [Fact]
    public async Task The_image_publishes_the_gateway_with_the_console_on_aspnet_with_ffmpeg_and_what_the_health_check_runs()
    {
        var lines = Instructions();
        var stages = lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToList();
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/aspnet:10.0", stages[^1], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("RUN dotnet publish src/SharpEyes.Gateway ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("RUN npm ci", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("npm run", StringComparison.Ordinal) && l.Contains("build", StringComparison.Ordinal));

        // Every path copied from the context exists in the repository.
        foreach (var copy in lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from", StringComparison.Ordinal)))
        {
            var parts = copy.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1];
            Assert.All(parts, p => Assert.True(Path.Exists(Path.Combine(InteropPaths.RepoRoot, p.TrimEnd('/'))), $"{copy}: {p} is not in the repository"));
        }

        // The runtime stage installs ffmpeg (stream checks) and the program the compose health check runs.
        var runtime = lines[lines.IndexOf(stages[^1])..];
        var install = Assert.Single(runtime, l => l.Contains("apt-get install", StringComparison.Ordinal));
        Assert.Contains(" ffmpeg", install, StringComparison.Ordinal);
        var (_, gateways) = await LoadAsync();
        var probe = YamlFiles.Strings(gateways[0].Service["healthcheck"]!["test"])[1];
        Assert.Contains(" " + probe, install, StringComparison.Ordinal);

        // The entrypoint is the shipped script; the image's settings are the gateway's.
        Assert.Contains("COPY deploy/docker/entrypoint.sh /usr/local/bin/sharpeyes-entrypoint", lines);
        Assert.Contains(runtime, l => l.StartsWith("ENTRYPOINT [\"/usr/local/bin/sharpeyes-entrypoint\"", StringComparison.Ordinal));
        DeployedSettings.AssertKnownVariables(ImageEnvironment().Keys);
    }

    [Fact]
    public async Task The_entrypoint_exports_each_secret_file_and_refuses_a_secret_given_twice()
    {
        Assert.All(DeployedSettings.FileVariables, name => Assert.Null(DeployedSettings.UnknownVariable(name)));
        var dir = Directory.CreateTempSubdirectory("sharpeyes-entrypoint-").FullName;
        var env = new Dictionary<string, string>();
        foreach (var name in DeployedSettings.FileVariables)
        {
            var path = Path.Combine(dir, name);
            await File.WriteAllTextAsync(path, $"value of {name} with spaces\n");
            env[name + "_FILE"] = path;
        }

        var script = string.Join("; ", DeployedSettings.FileVariables.Select(n => $"echo \"{n}=[$(printenv {n})] file=[$(printenv {n}_FILE)]\""));
        // Not inherited from this process (in-process test gateways set SHARPEYES_ADMIN_KEY in it): only what the test gives.
        string[] unset = [.. DeployedSettings.FileVariables.SelectMany(n => new[] { "-u", n })];
        var run = await ExternalTool.RunAsync("/usr/bin/env", [.. unset, "/bin/sh", DeployedSettings.Entrypoint, "/bin/sh", "-c", script], TimeSpan.FromSeconds(30), environment: env);
        Assert.True(run.ExitCode == 0, run.ToString());
        foreach (var name in DeployedSettings.FileVariables)
        {
            // The trailing newline is gone and the *_FILE variable is not passed on.
            Assert.Contains($"{name}=[value of {name} with spaces] file=[]", run.Stdout, StringComparison.Ordinal);
        }

        env["PGPASSWORD"] = "given-twice";
        string[] unsetOthers = [.. DeployedSettings.FileVariables.Where(n => n != "PGPASSWORD").SelectMany(n => new[] { "-u", n })];
        var twice = await ExternalTool.RunAsync("/usr/bin/env", [.. unsetOthers, "/bin/sh", DeployedSettings.Entrypoint, "/bin/true"], TimeSpan.FromSeconds(30), environment: env);
        Assert.Equal(2, twice.ExitCode);
        Assert.Contains("both PGPASSWORD and PGPASSWORD_FILE are set", twice.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("given-twice", twice.Stderr, StringComparison.Ordinal);
    }

    /// <summary>The Dockerfile's instructions, continuation lines joined, comments dropped.</summary>
    private static List<string> Instructions() =>
        [.. Regex.Replace(File.ReadAllText(Dockerfile), @"\\\n", " ").Split('\n')
            .Select(l => Regex.Replace(l.Trim(), @"\s+", " ")).Where(l => l.Length > 0 && !l.StartsWith('#'))];

    /// <summary>The runtime stage's ENV NAME=value pairs.</summary>
    private static Dictionary<string, string> ImageEnvironment()
    {
        var lines = Instructions();
        var runtime = lines[lines.FindLastIndex(l => l.StartsWith("FROM ", StringComparison.Ordinal))..];
        return runtime.Where(l => l.StartsWith("ENV ", StringComparison.Ordinal))
            .SelectMany(l => l[4..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
    }

    [GeneratedRegex(@"\$\{(SHARPEYES_[A-Z0-9_]+)-([^}]*)\}")]
    private static partial Regex ConfigDefault();
}
