using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The source_id row of the meta table through its repository, on the run's engine.</summary>
public sealed class MetaRepositoryTests
{
    [Fact]
    public async Task The_first_source_id_stored_is_kept()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        Assert.Null(store.Read(MetaRepository.SourceId)); // a new store has none yet

        store.Read(c =>
        {
            MetaRepository.AddSourceIdIfAbsent(c, "sharpeyes-first");
            MetaRepository.AddSourceIdIfAbsent(c, "sharpeyes-second"); // a later start generates another: not kept
            return true;
        });
        Assert.Equal("sharpeyes-first", store.Read(MetaRepository.SourceId));
    }
}
