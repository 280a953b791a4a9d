// The planner's geometry and files: a suggested camera's wedge as a polygon (WGS-84), the suggestions as a GeoJSON
// FeatureCollection, the legend swatch of the uncovered area's hatch (hatch.ts), and saving text as a file from a Blob URL.
//
// The wedge is hand-written (twenty lines of spherical geometry) rather than taken from Turf (@turf/sector): one
// function does not earn a new dependency in a bundle built for closed networks. It follows the gateway's model
// (Coverage: apex at the camera, centred on the azimuth, opening hfov, radius range, the arc cut into chords of at
// most 4°), on a sphere of the mean Earth radius: at ranges under 5 km the difference from the gateway's transverse
// Mercator is far below a pixel.
import type { Feature, FeatureCollection, Polygon } from 'geojson';

const earthRadiusM = 6_371_008.8;
const chordDeg = 4;
const toRad = (deg: number) => (deg * Math.PI) / 180;
const toDeg = (rad: number) => (rad * 180) / Math.PI;

/** The point `distanceM` from (lng, lat) along `bearingDeg` (clockwise from north), WGS-84 degrees. */
export function destination(lng: number, lat: number, bearingDeg: number, distanceM: number): [number, number] {
  const d = distanceM / earthRadiusM;
  const b = toRad(bearingDeg);
  const p1 = toRad(lat);
  const l1 = toRad(lng);
  const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b));
  const l2 = l1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
  return [toDeg(l2), toDeg(p2)];
}

/** A camera's view as a closed ring of [lng, lat]: apex, arc, apex (a full circle for hfov >= 360). */
export function wedgeRing(lng: number, lat: number, azimuthDeg: number, hfovDeg: number, rangeM: number): [number, number][] {
  const full = hfovDeg >= 360;
  const opening = full ? 360 : hfovDeg;
  const steps = Math.max(1, Math.ceil(opening / chordDeg));
  const start = azimuthDeg - opening / 2;
  const arc: [number, number][] = [];
  for (let i = 0; i <= steps; i++) {
    arc.push(destination(lng, lat, start + (opening * i) / steps, rangeM));
  }
  if (full) {
    arc[arc.length - 1] = arc[0];
    return arc;
  }
  return [[lng, lat], ...arc, [lng, lat]];
}

export interface Suggestion {
  rank: number;
  position: { lon: number; lat: number };
  azimuthDeg: number;
  gain: number;
  gainAreaM2: number;
  sitesCompleted?: string[];
  sitesImproved?: string[];
  source?: string;
  gridCode?: string;
}

/** The suggestions as wedges (WGS-84), each with its rank, gain and what it covers, for a GIS. */
export function suggestionsGeoJson(
  suggestions: Suggestion[], model: { hfovDeg: number; rangeM: number }, regionPrefix: string,
): FeatureCollection<Polygon> {
  const features = suggestions.map((s): Feature<Polygon> => ({
    type: 'Feature',
    properties: {
      rank: s.rank,
      lon: s.position.lon,
      lat: s.position.lat,
      azimuth_deg: s.azimuthDeg,
      hfov_deg: model.hfovDeg,
      range_m: model.rangeM,
      gain: s.gain,
      gain_area_m2: s.gainAreaM2,
      sites_completed: s.sitesCompleted ?? [],
      sites_improved: s.sitesImproved ?? [],
      grid_code: s.gridCode ?? '',
      source: s.source ?? '',
      region_prefix: regionPrefix,
    },
    geometry: { type: 'Polygon', coordinates: [wedgeRing(s.position.lon, s.position.lat, s.azimuthDeg, model.hfovDeg, model.rangeM)] },
  }));
  return { type: 'FeatureCollection', features };
}

/** The same hatch for a legend swatch (CSS background). */
export const hatchCss = (colour: string) =>
  `repeating-linear-gradient(-45deg, ${colour} 0 3px, transparent 3px 7px)`;

/**
 * Saves text as a file: a Blob URL on this page's origin and an <a download>, so nothing is fetched from anywhere
 * and the file never passes through another server. The URL is revoked once the browser has taken the file.
 */
export function saveFile(name: string, type: string, content: string) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
