// Oracle for RegionIndex.Locate: which features contain each point, by @turf/turf booleanPointInPolygon.
// Usage: node point-in-grid.mjs input.json   where input.json = { "geojson": "<path>", "points": [[lon, lat], ...] }
// Prints { "containing": [[code, ...], ...] } (codes of every feature, any level, containing the point; boundary counts).
import { readFileSync } from 'node:fs';
import { booleanPointInPolygon, point } from '@turf/turf';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const collection = JSON.parse(readFileSync(input.geojson, 'utf8'));
const containing = input.points.map(([lon, lat]) => {
  const p = point([lon, lat]);
  return collection.features
    .filter((f) => booleanPointInPolygon(p, f, { ignoreBoundary: false }))
    .map((f) => String(f.properties.code));
});
process.stdout.write(JSON.stringify({ containing }));
