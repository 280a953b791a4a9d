// Runs VendorExample with settings from the environment; in this directory:
//   SHARPEYES_SERVER=http://127.0.0.1:50051 SHARPEYES_MQTT_URL=mqtt://127.0.0.1:1883 \
//   SHARPEYES_VENDOR_ID=acme SHARPEYES_API_KEY=se_... dotnet run
// Optional: SHARPEYES_DEVICE_ID (default 13012700001320000001). Exits 0 when the gateway accepted the alarm.
using SharpEyes.Examples;

static string Setting(string name, string? fallback = null) =>
    Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : fallback ?? throw new InvalidOperationException($"set {name}");

var result = await VendorExample.RunAsync(
    new Uri(Setting("SHARPEYES_SERVER", "http://127.0.0.1:50051")),
    new Uri(Setting("SHARPEYES_MQTT_URL", "mqtt://127.0.0.1:1883")),
    Setting("SHARPEYES_VENDOR_ID"),
    Setting("SHARPEYES_API_KEY"),
    Setting("SHARPEYES_DEVICE_ID", "13012700001320000001"),
    Console.Out);
return result.Puback.IsSuccess ? 0 : 1;
