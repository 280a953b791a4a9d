using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Coverage;
using SharpEyes.Gateway.Demo;
using SharpEyes.Gateway.Geography;
using SharpEyes.V1;
using SharpEyes.Gateway.Storage;

namespace SharpEyes.Gateway.Hosting;

/// <summary>
/// First-start work: the first admin key (from SHARPEYES_ADMIN_KEY, else generated, printed once to the console —
/// not to the log — and written to {data-dir}/initial-admin-key with mode 600), and the demo geography with --demo.
/// </summary>
public sealed partial class GatewayBootstrap(
    ApiKeyStore keys,
    GeographyState geography,
    DemoDataset demo,
    CoverageTracker coverage,
    Journal journal,
    IOptions<GatewayOptions> options,
    ILogger<GatewayBootstrap> logger) : IHostedService
{
    public const string AdminKeyVariable = "SHARPEYES_ADMIN_KEY";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var preset = Environment.GetEnvironmentVariable(AdminKeyVariable);
        if (!string.IsNullOrEmpty(preset))
        {
            // The variable only bootstraps an empty store: once any key exists (revoked ones included), keys are
            // managed through the Admin service, and a revoked environment key stays revoked across restarts.
            if (keys.IsEmpty)
            {
                var (info, _) = await keys.CreateAsync(Role.Admin, null, "from " + AdminKeyVariable, preset).ConfigureAwait(false);
                LogAdminFromEnvironment(logger, info.KeyId);
            }
            else if (keys.Authenticate(preset) is null)
            {
                LogEnvironmentKeyIgnored(logger);
            }
        }
        else if (!keys.HasAdminKey)
        {
            var (info, key) = await keys.CreateAsync(Role.Admin, null, "generated on first start").ConfigureAwait(false);
            var file = Path.Combine(options.Value.DataDir, "initial-admin-key");
            // Created 0600, never readable by others even for a moment.
            await PrivateFiles.WriteAtomicallyAsync(file, System.Text.Encoding.UTF8.GetBytes(key + "\n"), cancellationToken).ConfigureAwait(false);

            // The one place a secret is shown: the console, once, never the log.
            Console.Out.WriteLine($"\nFirst start: generated admin API key (shown once; also in {file}):\n  {key}\n");
            LogAdminGenerated(logger, info.KeyId, file);
        }

        if (options.Value.Demo && geography.Index.Grids.Count == 0)
        {
            var (grids, sites) = await demo.LoadGeographyAsync(cancellationToken).ConfigureAwait(false);
            if (!grids.Ok || !sites.Ok)
            {
                throw new InvalidOperationException("the shipped demo dataset failed validation: " +
                    string.Join("; ", grids.Errors.Concat(sites.Errors).Take(5).Select(e => e.Message)));
            }

            LogDemoLoaded(logger, grids.Features.Count, sites.Features.Count);
        }

        if (options.Value.Demo && options.Value.DemoCameras)
        {
            await demo.RegisterCamerasAsync(cancellationToken).ConfigureAwait(false);
        }

        // Announce whatever the full recompute at start found different from the stored gaps (first run, new thresholds).
        await journal.ExecuteAsync(coverage.Reconcile, cancellationToken).ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Admin key {KeyId} created from " + AdminKeyVariable)]
    private static partial void LogAdminFromEnvironment(ILogger logger, string keyId);

    [LoggerMessage(Level = LogLevel.Warning, Message = AdminKeyVariable + " is set but not a valid key of this store, which already has keys: it was ignored (it only creates the first key of an empty store; a revoked key stays revoked)")]
    private static partial void LogEnvironmentKeyIgnored(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Generated the first admin key {KeyId}; it was printed to the console and saved to {File}")]
    private static partial void LogAdminGenerated(ILogger logger, string keyId, string file);

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded the 高邑县 demo dataset: {Grids} grids, {Sites} key sites")]
    private static partial void LogDemoLoaded(ILogger logger, int grids, int sites);
}
