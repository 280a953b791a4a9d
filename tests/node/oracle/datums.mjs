// Oracle for DatumConverter: gcoord's WGS84 / GCJ02 / BD09 conversions of each point.
// Usage: node datums.mjs input.json   where input.json = { "points": [[lon, lat], ...] }
// Prints { "results": [{ wgs2gcj, gcj2wgs, gcj2bd, bd2gcj, wgs2bd, bd2wgs }, ...] } with [lon, lat] pairs; every
// conversion takes the input point as being in the source datum.
import { readFileSync } from 'node:fs';
import gcoord from 'gcoord';

const { transform, WGS84, GCJ02, BD09 } = gcoord;
const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const results = input.points.map((p) => ({
  wgs2gcj: transform(p, WGS84, GCJ02),
  gcj2wgs: transform(p, GCJ02, WGS84),
  gcj2bd: transform(p, GCJ02, BD09),
  bd2gcj: transform(p, BD09, GCJ02),
  wgs2bd: transform(p, WGS84, BD09),
  bd2wgs: transform(p, BD09, WGS84),
}));
process.stdout.write(JSON.stringify({ results }));
