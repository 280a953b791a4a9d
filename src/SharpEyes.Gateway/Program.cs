using SharpEyes.Gateway.Cli;
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
builder.AddSharpEyesGateway(GatewayCli.ServeArgs(args));
var app = builder.Build();
app.MapSharpEyesGateway();
await app.RunAsync();
return 0;
