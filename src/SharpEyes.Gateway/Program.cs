using SharpEyes.Gateway.Cli;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Hosting;

if (GatewayCli.IsClientCommand(args))
{
    return await GatewayCli.RunAsync(args);
}

// Content root = the binaries, and no config reload-on-change: otherwise the host watches the working directory
// recursively, and every SQLite write under ./data wakes the file watcher.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    ContentRootPath = AppContext.BaseDirectory,
    Args = ["--hostBuilder:reloadConfigOnChange=false"],
});
WebApplication app;
GatewayOptions options;
try
{
    builder.AddSharpEyesGateway(GatewayCli.ServeArgs(args));
    app = builder.Build();
    options = app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value; // validates every section
    app.MapSharpEyesGateway();
}
catch (Exception e) when (StartupFailureException.Describe(e) is { } why)
{
    // Bad configuration or an unwritable data directory is an operator's to fix, not a crash: one line, exit 2.
    await Console.Error.WriteLineAsync("sharpeyes: " + why);
    return 2;
}

try
{
    await app.RunAsync();
}
catch (Exception e) when (StartupFailureException.Describe(e) is { } why)
{
    await Console.Error.WriteLineAsync("sharpeyes: " + why);
    return 2;
}
catch (Exception e) when (GatewayListeners.DescribeBindFailure(e, options) is { } why)
{
    // A port in use is an operator's problem to solve, not a crash: say which listener, and exit non-zero.
    await Console.Error.WriteLineAsync("sharpeyes: " + why);
    return 2;
}

return 0;
