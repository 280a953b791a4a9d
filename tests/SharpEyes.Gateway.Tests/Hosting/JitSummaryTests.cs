using SharpEyes.Gateway.Hosting;

namespace SharpEyes.Gateway.Tests.Hosting;

/// <summary>The start-up line that says how the JIT runs: the environment over runtimeconfig.json, and tiered compilation turned off said as such.</summary>
public sealed class JitSummaryTests
{
    private const string DelayKnob = "System.Runtime.TieredCompilation.CallCountingDelayMs";

    private static string Summary(Dictionary<string, string> environment, Dictionary<string, object> runtimeConfig) =>
        GatewayServiceCollectionExtensions.JitSummary(
            name => environment.GetValueOrDefault(name), name => runtimeConfig.GetValueOrDefault(name));

    [Fact]
    public void The_runtimeconfig_delay_is_reported_with_its_source()
    {
        Assert.Equal($"tiered, call counting delay 0 ms ({DelayKnob})", Summary([], new() { [DelayKnob] = "0" }));
    }

    [Fact]
    public void The_environment_overrides_the_runtimeconfig_and_is_read_as_hexadecimal()
    {
        Assert.Equal(
            "tiered, call counting delay 16 ms (DOTNET_TC_CallCountingDelayMs, hexadecimal)",
            Summary(new() { ["DOTNET_TC_CallCountingDelayMs"] = "10" }, new() { [DelayKnob] = "0" }));
    }

    [Fact]
    public void Neither_set_is_the_runtimes_default_of_100_ms()
    {
        Assert.Equal("tiered, call counting delay 100 ms (the runtime's default)", Summary([], []));
    }

    [Theory]
    [InlineData("0", null)]
    [InlineData("00", "true")]
    [InlineData(null, "false")]
    [InlineData(null, "False")]
    public void Tiered_compilation_off_is_said_rather_than_a_delay_that_does_not_apply(string? environmentFlag, string? runtimeConfigFlag)
    {
        var environment = new Dictionary<string, string> { ["DOTNET_TC_CallCountingDelayMs"] = "0" };
        if (environmentFlag is not null)
        {
            environment["DOTNET_TieredCompilation"] = environmentFlag;
        }

        var runtimeConfig = new Dictionary<string, object> { [DelayKnob] = "0" };
        if (runtimeConfigFlag is not null)
        {
            runtimeConfig["System.Runtime.TieredCompilation"] = runtimeConfigFlag;
        }

        Assert.StartsWith("not tiered, every method optimised at its first call", Summary(environment, runtimeConfig), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1", "false")]
    [InlineData(null, "true")]
    public void Tiered_compilation_on_reports_the_delay(string? environmentFlag, string runtimeConfigFlag)
    {
        var environment = new Dictionary<string, string>();
        if (environmentFlag is not null)
        {
            environment["DOTNET_TieredCompilation"] = environmentFlag;
        }

        Assert.StartsWith(
            "tiered, call counting delay 0 ms",
            Summary(environment, new() { [DelayKnob] = "0", ["System.Runtime.TieredCompilation"] = runtimeConfigFlag }),
            StringComparison.Ordinal);
    }
}
