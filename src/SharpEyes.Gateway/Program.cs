using SharpEyes.Gateway.Cli;
using SharpEyes.Gateway.Hosting;

if (GatewayCli.IsClientCommand(args))
{
    return await GatewayCli.RunAsync(args);
}

var builder = WebApplication.CreateBuilder();
builder.AddSharpEyesGateway(GatewayCli.ServeArgs(args));
var app = builder.Build();
app.MapSharpEyesGateway();
await app.RunAsync();
return 0;
