using SharpEyes.Gateway.Auth;

namespace SharpEyes.Gateway.Tests.Tls;

/// <summary>How a configured subject is read: .NET's form and RFC 4514's mean the same name; a non-name is refused at start.</summary>
public sealed class ClientCertificateSubjectTests
{
    [Theory]
    [InlineData("CN=acme-gw-01, O=Acme", "CN=acme-gw-01, O=Acme")]
    [InlineData("CN=acme-gw-01,O=Acme", "CN=acme-gw-01, O=Acme")]
    [InlineData("cn=acme-gw-01 , o=Acme", "CN=acme-gw-01, O=Acme")]
    [InlineData("CN=县公安局指挥中心, O=高邑县", "CN=县公安局指挥中心, O=高邑县")]
    [InlineData("acme-gw-01", null)]
    [InlineData("", null)]
    public void A_subject_is_read_in_net_or_rfc_4514_form(string configured, string? canonical) =>
        Assert.Equal(canonical, ClientCertificateIdentities.Canonical(configured));
}
