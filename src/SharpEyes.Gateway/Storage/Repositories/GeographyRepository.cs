using System.Data.Common;
using NetTopologySuite.IO;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The county's geography: tables <c>grids</c> (counties, townships, villages and level-4 grids, with their coverage
/// targets) and <c>key_sites</c>, geometries stored as WKB. The only code that names either table.
/// </summary>
public static class GeographyRepository
{
    /// <summary>Every stored grid and key site, each list ordered by code.</summary>
    public static StoredGeography Load(DbConnection connection)
    {
        var wkb = new WKBReader();
        var grids = new List<GridFeature>();
        using (var command = connection.Sql("SELECT code, name, level, parent_code, geometry, coverage_target FROM grids ORDER BY code"))
        using (var r = command.ExecuteReader())
        {
            while (r.Read())
            {
                grids.Add(new GridFeature(r.GetString(0), r.GetString(1), r.GetInt32Value(2), r.IsDBNull(3) ? null : r.GetString(3), wkb.Read((byte[])r[4]))
                {
                    CoverageTarget = r.IsDBNull(5) ? null : r.GetDouble(5),
                });
            }
        }

        var sites = new List<KeySiteFeature>();
        using (var command = connection.Sql("SELECT code, name, category, priority, geometry FROM key_sites ORDER BY code"))
        using (var r = command.ExecuteReader())
        {
            while (r.Read())
            {
                sites.Add(new KeySiteFeature(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt32Value(3), wkb.Read((byte[])r[4])));
            }
        }

        return new StoredGeography(grids, sites);
    }

    /// <summary>Stores each grid, replacing the one with the same code (name, level, parent, geometry and target all replaced).</summary>
    public static void UpsertGrids(JournalTransaction tx, IEnumerable<GridFeature> grids)
    {
        var wkb = new WKBWriter();
        foreach (var g in grids)
        {
            tx.Execute("""
                INSERT INTO grids(code, name, level, parent_code, geometry, coverage_target) VALUES(@p0,@p1,@p2,@p3,@p4,@p5)
                ON CONFLICT(code) DO UPDATE SET name = excluded.name, level = excluded.level, parent_code = excluded.parent_code,
                    geometry = excluded.geometry, coverage_target = excluded.coverage_target
                """,
                g.Code, g.Name, g.Level, g.ParentCode, wkb.Write(g.Geometry), g.CoverageTarget);
        }
    }

    /// <summary>Stores each key site, replacing the one with the same code.</summary>
    public static void UpsertKeySites(JournalTransaction tx, IEnumerable<KeySiteFeature> sites)
    {
        var wkb = new WKBWriter();
        foreach (var s in sites)
        {
            tx.Execute("""
                INSERT INTO key_sites(code, name, category, priority, geometry) VALUES(@p0,@p1,@p2,@p3,@p4)
                ON CONFLICT(code) DO UPDATE SET name = excluded.name, category = excluded.category, priority = excluded.priority,
                    geometry = excluded.geometry
                """,
                s.Code, s.Name, s.Category, s.Priority, wkb.Write(s.Geometry));
        }
    }
}

/// <summary>The stored geography: grids of every level and key sites, each ordered by code.</summary>
public sealed record StoredGeography(IReadOnlyList<GridFeature> Grids, IReadOnlyList<KeySiteFeature> KeySites);
