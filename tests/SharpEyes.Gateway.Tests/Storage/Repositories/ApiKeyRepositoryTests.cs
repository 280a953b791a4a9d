using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The api_keys table through its repository, on the run's engine (both passes of scripts/test.sh).</summary>
public sealed class ApiKeyRepositoryTests
{
    private static readonly byte[] HashA = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];
    private static readonly byte[] HashB = [.. Enumerable.Range(100, 32).Select(i => (byte)i)];

    [Fact]
    public async Task A_key_round_trips_with_its_nulls_and_a_recreated_key_replaces_a_revoked_one()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        var admin = new ApiKeyRow("a1", HashA, Role.Admin, null, "", 1_000, false, null);
        var vendor = new ApiKeyRow("v1", HashB, Role.Vendor, "vendor-x", "the vendor's key", 2_000, false, 9_000);
        await store.WriteAsync(tx =>
        {
            ApiKeyRepository.Create(tx, admin);
            ApiKeyRepository.Create(tx, vendor with { Revoked = true }); // created keys are active whatever the row says
        });

        var loaded = store.Read(ApiKeyRepository.LoadAll).OrderBy(k => k.KeyId, StringComparer.Ordinal).ToList();
        Assert.Equal(2, loaded.Count);
        AssertKey(admin, loaded[0]);
        AssertKey(vendor, loaded[1]);

        Assert.Equal(1, await store.WriteAsync(tx => ApiKeyRepository.Revoke(tx, "v1")));
        Assert.True(store.Read(ApiKeyRepository.LoadAll).Single(k => k.KeyId == "v1").Revoked);

        var recreated = new ApiKeyRow("v1", HashA, Role.Operator, null, "again", 3_000, false, null);
        await store.WriteAsync(tx => ApiKeyRepository.Create(tx, recreated));
        AssertKey(recreated, store.Read(ApiKeyRepository.LoadAll).Single(k => k.KeyId == "v1"));
    }

    [Fact]
    public async Task Expiry_and_revocation_change_only_keys_that_exist_and_expiry_only_unrevoked_ones()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx => ApiKeyRepository.Create(tx, new ApiKeyRow("k1", HashA, Role.Vendor, "vendor-x", "d", 1_000, false, null)));

        Assert.Equal(1, await store.WriteAsync(tx => ApiKeyRepository.SetExpiry(tx, "k1", 50_000)));
        Assert.Equal(50_000, store.Read(ApiKeyRepository.LoadAll).Single().ExpiresAt);
        Assert.Equal(1, await store.WriteAsync(tx => ApiKeyRepository.SetExpiry(tx, "k1", null))); // no expiry again
        Assert.Null(store.Read(ApiKeyRepository.LoadAll).Single().ExpiresAt);

        Assert.Equal(0, await store.WriteAsync(tx => ApiKeyRepository.SetExpiry(tx, "unknown", 1)));
        Assert.Equal(0, await store.WriteAsync(tx => ApiKeyRepository.Revoke(tx, "unknown")));
        await store.WriteAsync(tx => ApiKeyRepository.Revoke(tx, "k1"));
        Assert.Equal(0, await store.WriteAsync(tx => ApiKeyRepository.SetExpiry(tx, "k1", 70_000))); // a revoked key is not changed
        Assert.Null(store.Read(ApiKeyRepository.LoadAll).Single().ExpiresAt);
    }

    [Fact]
    public async Task The_writer_reads_one_key_or_all_including_its_own_uncommitted_change_and_a_rollback_keeps_none()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx => ApiKeyRepository.Create(tx, new ApiKeyRow("k1", HashA, Role.Admin, null, "", 1_000, false, null)));
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(tx =>
        {
            ApiKeyRepository.Create(tx, new ApiKeyRow("k2", HashB, Role.Vendor, "vendor-y", "", 2_000, false, null));
            Assert.Equal("k2", Assert.Single(ApiKeyRepository.Load(tx, "k2")).KeyId);
            Assert.Equal(2, ApiKeyRepository.Load(tx, null).Count);
            Assert.Empty(ApiKeyRepository.Load(tx, "unknown"));
            throw new InvalidOperationException("the item's own failure");
        }));
        Assert.Equal("k1", Assert.Single(store.Read(ApiKeyRepository.LoadAll)).KeyId);
    }

    /// <summary>The row as stored: active, every field equal (the hash by value).</summary>
    private static void AssertKey(ApiKeyRow expected, ApiKeyRow actual)
    {
        Assert.Equal(
            (expected.KeyId, expected.Role, expected.VendorId, expected.Description, expected.CreatedAt, false, expected.ExpiresAt),
            (actual.KeyId, actual.Role, actual.VendorId, actual.Description, actual.CreatedAt, actual.Revoked, actual.ExpiresAt));
        Assert.Equal(expected.SecretHash, actual.SecretHash);
    }
}
