using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Hosting;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Auth;

/// <summary>The documented switches and environment variables, and validation that fails loudly at start.</summary>
public sealed class ConfigurationTests
{
    [Fact]
    public void Documented_switches_map_onto_the_options_section()
    {
        var values = GatewayConfiguration.ParseArgs(["--grpc-port", "6000", "--mqtt-port=6001", "--http-port", "6002", "--data-dir", "/var/lib/sharpeyes", "--demo", "--bind", "127.0.0.1", "--SharpEyes:Alarms:MaxBatch=500"]);

        Assert.Equal("6000", values["SharpEyes:GrpcPort"]);
        Assert.Equal("6001", values["SharpEyes:MqttPort"]);
        Assert.Equal("6002", values["SharpEyes:HttpPort"]);
        Assert.Equal("/var/lib/sharpeyes", values["SharpEyes:DataDir"]);
        Assert.Equal("true", values["SharpEyes:Demo"]);
        Assert.Equal("127.0.0.1", values["SharpEyes:BindAddress"]);
        Assert.Equal("500", values["SharpEyes:Alarms:MaxBatch"]);
    }

    [Fact]
    public void Every_switch_has_an_environment_variable()
    {
        Assert.All(GatewayConfiguration.Settings, s => Assert.Equal("SHARPEYES_" + s.Switch[2..].Replace('-', '_').ToUpperInvariant(), s.Env));
    }

    [Theory]
    [InlineData("--SharpEyes:Limits:MqttMaxConnections=0", "Limits: The field MqttMaxConnections must be between 1 and 1000000.")]
    [InlineData("--SharpEyes:Alarms:MaxPayloadBytes=10", "Alarms: The field MaxPayloadBytes must be between 256 and 1048576.")]
    [InlineData("--SharpEyes:Limits:FailedAuthWindow=00:00:00", "Limits: LogInterval, MqttConnectTimeout and FailedAuthWindow must be positive")]
    public async Task Settings_of_nested_sections_are_checked_at_start(string arg, string expected)
    {
        var error = await Assert.ThrowsAnyAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => GatewayHost.StartAsync(demo: false, extraArgs: [arg]));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not-an-ip", 1, 2, 3, "BindAddress")]
    [InlineData("127.0.0.1", 1883, 1883, 3, "ports must differ")]
    public void Bad_configuration_is_rejected_with_a_reason(string bind, int grpc, int mqtt, int http, string expected)
    {
        var result = new GatewayOptionsValidator().Validate(null, new GatewayOptions { BindAddress = bind, GrpcPort = grpc, MqttPort = mqtt, HttpPort = http });
        Assert.True(result.Failed);
        Assert.Contains(expected, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_configuration_is_valid()
    {
        Assert.Equal(ValidateOptionsResult.Success, new GatewayOptionsValidator().Validate(null, new GatewayOptions()));
        Assert.Equal(50051, new GatewayOptions().GrpcPort);
        Assert.Equal(1883, new GatewayOptions().MqttListenPort);
        Assert.Equal(8080, new GatewayOptions().HttpPort);
        Assert.Equal("./data", new GatewayOptions().DataDir);
    }
}
