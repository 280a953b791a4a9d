using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Deploy;

/// <summary>
/// deploy/kubernetes: rendered by `kubectl kustomize` (client only; `kubectl apply --dry-run=client` needs an API
/// server for its type discovery, so it cannot run here), and the objects checked for what replicas need.
/// </summary>
public sealed class KubernetesManifestTests
{
    private static string Dir => Path.Combine(InteropPaths.RepoRoot, "deploy", "kubernetes");

    /// <summary>The objects of every file the kustomization lists, as written.</summary>
    private static async Task<List<JsonNode>> ObjectsAsync()
    {
        var kustomization = await YamlFiles.LoadAsync(Path.Combine(Dir, "kustomization.yaml"));
        var objects = new List<JsonNode>();
        foreach (var file in YamlFiles.Strings(kustomization["resources"]))
        {
            objects.AddRange(await YamlFiles.LoadAllAsync(Path.Combine(Dir, file)));
        }

        return objects;
    }

    private static JsonNode Single(List<JsonNode> objects, string kind, string name) =>
        Assert.Single(objects, o => o["kind"]!.ToString() == kind && o["metadata"]!["name"]!.ToString() == name);

    private static (JsonNode Set, JsonNode Pod, JsonNode Container) Gateway(List<JsonNode> objects)
    {
        var set = Assert.Single(objects, o => o["kind"]!.ToString() is "StatefulSet" or "Deployment"
            && o["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Any(c => YamlFiles.Strings(c!["args"]).Contains("--store")));
        var pod = set["spec"]!["template"]!["spec"]!;
        return (set, pod, Assert.Single(pod["containers"]!.AsArray())!);
    }

    private static Dictionary<string, JsonNode> Env(JsonNode container) =>
        container["env"]!.AsArray().ToDictionary(e => e!["name"]!.ToString(), e => e!, StringComparer.Ordinal);

    [Fact]
    public async Task Kubectl_kustomize_renders_every_object_into_the_namespace()
    {
        var kubectl = File.Exists("/usr/bin/kubectl") ? "/usr/bin/kubectl" : InteropPaths.FindOnPath("kubectl");
        if (kubectl is null)
        {
            // Not installed by scripts/install-test-deps.sh: Debian 12's kubernetes-client is 1.20 (kustomize 2). The
            // other tests here read the same files without it.
            Assert.Skip("kubectl is not installed, so `kubectl kustomize deploy/kubernetes` cannot run here; the structural tests still ran.");
        }

        // KUBECONFIG=/dev/null: rendering never talks to a cluster, and must not find one by accident.
        var run = await ExternalTool.RunAsync(kubectl, ["kustomize", Dir], TimeSpan.FromSeconds(60), environment: new Dictionary<string, string> { ["KUBECONFIG"] = "/dev/null" });
        Assert.True(run.ExitCode == 0, run.ToString());
        var rendered = Path.Combine(Directory.CreateTempSubdirectory("sharpeyes-kustomize-").FullName, "rendered.yaml");
        await File.WriteAllTextAsync(rendered, run.Stdout);
        var objects = await YamlFiles.LoadAllAsync(rendered);

        static string Id(JsonNode o) => o["kind"] + "/" + o["metadata"]!["name"];
        Assert.Equal((await ObjectsAsync()).Select(Id).Order(StringComparer.Ordinal), objects.Select(Id).Order(StringComparer.Ordinal));
        var kustomization = await YamlFiles.LoadAsync(Path.Combine(Dir, "kustomization.yaml"));
        var ns = kustomization["namespace"]!.ToString();
        Assert.Contains(objects, o => Id(o) == "Namespace/" + ns);
        Assert.All(objects.Where(o => o["kind"]!.ToString() != "Namespace"), o => Assert.Equal(ns, o["metadata"]!["namespace"]?.ToString()));
        // The secret template is not among them: applying the kustomization never writes a password.
        Assert.DoesNotContain(objects, o => o["kind"]!.ToString() == "Secret");
    }

    [Fact]
    public async Task Replicas_have_distinct_ids_a_store_url_without_password_secrets_from_the_secret_and_known_settings()
    {
        var objects = await ObjectsAsync();
        var (set, _, container) = Gateway(objects);
        Assert.Equal("StatefulSet", set["kind"]!.ToString());
        Assert.True((int)set["spec"]!["replicas"]! >= 2);

        // --replica-id $(POD_NAME), the pod's own name: distinct among live pods and stable across a pod's restarts.
        var args = YamlFiles.Strings(container["args"]);
        Assert.Equal("$(POD_NAME)", DeployedSettings.Arg(args, "--replica-id"));
        var env = Env(container);
        Assert.Equal("metadata.name", env["POD_NAME"]["valueFrom"]!["fieldRef"]!["fieldPath"]!.ToString());

        var store = DeployedSettings.Arg(args, "--store")!;
        Assert.StartsWith("postgres://", store, StringComparison.Ordinal);
        Assert.False(DeployedSettings.HasPassword(store), $"the store's URL carries a password: {store}");
        Assert.True(DeployedSettings.UnknownSwitch(args) is null, DeployedSettings.UnknownSwitch(args));
        DeployedSettings.AssertKnownVariables(env.Keys.Where(n => n != "POD_NAME"));

        // Secrets only by reference, to keys the template has (and the template holds no value).
        var template = await YamlFiles.LoadAsync(Path.Combine(Dir, "secret.example.yaml"));
        var keys = template["stringData"]!.AsObject();
        Assert.All(keys, k => Assert.Equal("", k.Value!.ToString()));
        foreach (var secret in new[] { "PGPASSWORD", "SHARPEYES_ADMIN_KEY" })
        {
            var reference = env[secret]["valueFrom"]?["secretKeyRef"];
            Assert.True(reference is not null, $"{secret} comes from a secretKeyRef");
            Assert.Equal(template["metadata"]!["name"]!.ToString(), reference["name"]!.ToString());
            Assert.True(keys.ContainsKey(reference["key"]!.ToString()), $"{secret}: the secret template has no key {reference["key"]}");
            Assert.Null(env[secret]["value"]);
        }

        // The demo PostgreSQL takes its password from the same key, and is version 15.
        var postgres = Single(objects, "StatefulSet", new Uri(store).Host);
        var pgContainer = Assert.Single(postgres["spec"]!["template"]!["spec"]!["containers"]!.AsArray())!;
        Assert.StartsWith("postgres:15", pgContainer["image"]!.ToString(), StringComparison.Ordinal);
        Assert.Equal(env["PGPASSWORD"]["valueFrom"]!.ToJsonString(), Env(pgContainer)["POSTGRES_PASSWORD"]["valueFrom"]!.ToJsonString());
        Single(objects, "Service", new Uri(store).Host);
    }

    [Fact]
    public async Task Probes_hit_healthz_on_the_http_port_and_ready_means_200()
    {
        // What /healthz answers: 200 (Healthy, Degraded) or 503 (Unhealthy), nothing in 201-399, which Kubernetes
        // would also count as success: so a probe's success is exactly a 200.
        Assert.All(HealthText.Options.ResultStatusCodes.Values, code => Assert.True(code is StatusCodes.Status200OK or >= 400, $"/healthz answers {code}"));

        var (_, _, container) = Gateway(await ObjectsAsync());
        var env = Env(container);
        var httpPort = env["SHARPEYES_HTTP_PORT"]["value"]!.ToString();
        var ports = container["ports"]!.AsArray().ToDictionary(p => p!["name"]!.ToString(), p => p!["containerPort"]!.ToString());
        Assert.Equal(httpPort, ports["http"]);
        Assert.Equal(env["SHARPEYES_GRPC_PORT"]["value"]!.ToString(), ports["grpc"]);
        Assert.Equal(env["SHARPEYES_MQTT_PORT"]["value"]!.ToString(), ports["mqtt"]);

        foreach (var probe in new[] { "readinessProbe", "livenessProbe", "startupProbe" })
        {
            var get = container[probe]?["httpGet"];
            Assert.True(get is not null, $"{probe} is an HTTP GET");
            Assert.Equal("/healthz", get["path"]!.ToString());
            var port = get["port"]!.ToString();
            Assert.Equal(httpPort, ports.GetValueOrDefault(port, port));
            Assert.Equal(env.ContainsKey("SHARPEYES_TLS_CERT") ? "HTTPS" : "HTTP", get["scheme"]?.ToString() ?? "HTTP");
        }

        // Liveness is slower to act than readiness: a replica out of the Services first, restarted only if it stays bad.
        static int Window(JsonNode p) => (int)p["periodSeconds"]! * (int)p["failureThreshold"]!;
        Assert.True(Window(container["livenessProbe"]!) > Window(container["readinessProbe"]!));
    }

    [Fact]
    public async Task Replicas_share_a_read_write_many_key_ring_keep_their_own_data_and_outlast_the_gateways_shutdown()
    {
        var objects = await ObjectsAsync();
        var (set, pod, container) = Gateway(objects);
        var grace = (int)pod["terminationGracePeriodSeconds"]!;
        Assert.True(grace > 30, $"terminationGracePeriodSeconds {grace} must exceed the gateway's 30 s shutdown");

        var mounts = container["volumeMounts"]!.AsArray().ToDictionary(m => m!["mountPath"]!.ToString(), m => m!["name"]!.ToString(), StringComparer.Ordinal);
        var keyRingPath = Env(container)["SharpEyes__Secrets__KeyRingPath"]["value"]!.ToString();
        var keyRing = pod["volumes"]!.AsArray().Single(v => v!["name"]!.ToString() == mounts[keyRingPath])!;
        var claim = Single(objects, "PersistentVolumeClaim", keyRing["persistentVolumeClaim"]!["claimName"]!.ToString());
        Assert.Equal(["ReadWriteMany"], YamlFiles.Strings(claim["spec"]!["accessModes"]));

        // The data directory (the image's /var/lib/sharpeyes): a claim per pod, from the StatefulSet's templates.
        var data = mounts["/var/lib/sharpeyes"];
        Assert.Contains(set["spec"]!["volumeClaimTemplates"]!.AsArray(), t => t!["metadata"]!["name"]!.ToString() == data);
    }

    [Fact]
    public async Task Services_carry_grpc_mqtt_and_http_with_affinity_only_on_http_and_a_disruption_budget_keeps_a_replica()
    {
        var objects = await ObjectsAsync();
        var (set, pod, container) = Gateway(objects);
        var labels = set["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
        bool Selects(JsonNode? selector) => selector is JsonObject s && s.Count > 0 && s.All(kv => labels[kv.Key]?.ToString() == kv.Value!.ToString());

        var services = objects.Where(o => o["kind"]!.ToString() == "Service" && Selects(o["spec"]!["selector"]) && o["spec"]!["clusterIP"]?.ToString() != "None").ToList();
        var byPort = services.SelectMany(s => s["spec"]!["ports"]!.AsArray().Select(p => (Service: s, Port: p!))).ToList();
        var containerPorts = container["ports"]!.AsArray().Select(p => p!["name"]!.ToString()).ToHashSet(StringComparer.Ordinal);
        Assert.All(byPort, p => Assert.Contains(p.Port["targetPort"]!.ToString(), containerPorts));
        Assert.All(byPort, p => Assert.Equal("TCP", p.Port["protocol"]?.ToString() ?? "TCP"));
        string Affinity(string target) => Assert.Single(byPort, p => p.Port["targetPort"]!.ToString() == target).Service["spec"]!["sessionAffinity"]?.ToString() ?? "None";
        Assert.Equal("None", Affinity("grpc"));
        Assert.Equal("None", Affinity("mqtt"));
        Assert.Equal("ClientIP", Affinity("http"));

        // The StatefulSet's governing (headless) service exists.
        Assert.Equal("None", Single(objects, "Service", set["spec"]!["serviceName"]!.ToString())["spec"]!["clusterIP"]!.ToString());

        var pdb = Assert.Single(objects, o => o["kind"]!.ToString() == "PodDisruptionBudget");
        Assert.True(Selects(pdb["spec"]!["selector"]!["matchLabels"]));
        var replicas = (int)set["spec"]!["replicas"]!;
        var keeps = pdb["spec"]!["minAvailable"] is { } min ? (int)min : replicas - (int)pdb["spec"]!["maxUnavailable"]!;
        Assert.InRange(keeps, 1, replicas - 1);
        Assert.NotNull(pod["affinity"]?["podAntiAffinity"]);
    }
}
