// Oracle for CoverageModel's areas: for each case, @turf/turf's area of grid ∩ union(wedges) and of union(wedges).
// Usage: node coverage-areas.mjs input.json
//   where input.json = { "cases": [{ "grid": <GeoJSON Polygon|MultiPolygon>, "wedges": [<GeoJSON Polygon>, ...] }, ...] }
// Prints { "results": [{ "grid": m², "union": m², "covered": m² }, ...] } (turf's spherical areas, WGS-84 lon/lat
// input; an empty wedge list gives 0 and 0).
import { readFileSync } from 'node:fs';
import { area, feature, featureCollection, intersect, union } from '@turf/turf';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));

function unionOf(wedges) {
  if (wedges.length === 0) return null;
  if (wedges.length === 1) return feature(wedges[0]);
  return union(featureCollection(wedges.map((w) => feature(w))));
}

const results = input.cases.map(({ grid, wedges }) => {
  const gridFeature = feature(grid);
  const merged = unionOf(wedges);
  if (merged === null) {
    return { grid: area(gridFeature), union: 0, covered: 0 };
  }
  const covered = intersect(featureCollection([gridFeature, merged]));
  return { grid: area(gridFeature), union: area(merged), covered: covered === null ? 0 : area(covered) };
});
process.stdout.write(JSON.stringify({ results }));
