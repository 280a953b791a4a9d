// The map's base: the county's own polygons (county, townships, villages, grids) and its key sites, read from the
// gateway (GET /api/v1/grids and /api/v1/keySites with their geometry), drawn on one canvas with no tile layer unless
// the gateway names an intranet tile server (basemap tiles: see tiles.ts). Modules add their overlays here
// (addOverlay): each gets a row in the layer switcher and its rows in the legend. Why Leaflet: docs/decisions.md#console.
import * as L from 'leaflet';
import type { Feature, Geometry } from 'geojson';
import { getJson } from './api';
import { listen } from './bus';
import { defineMessages, onLangChange } from './i18n';
import { el } from './sidebar';

export const text = defineMessages(
  {
    county: '县界',
    townships: '乡镇',
    villages: '村（社区）',
    grids: '网格',
    keySites: '重点部位',
    keySiteArea: '重点部位（区域）',
    keySitePoint: '重点部位（点位）',
    layers: '图层',
    legend: '图例',
  },
  {
    county: 'County border',
    townships: 'Townships',
    villages: 'Villages',
    grids: 'Grids',
    keySites: 'Key sites',
    keySiteArea: 'Key site (area)',
    keySitePoint: 'Key site (point)',
    layers: 'Layers',
    legend: 'Legend',
  },
);

export const colours = {
  county: '#1d3557',
  township: '#2f6690',
  village: '#6c9bbf',
  villageFill: '#a8dadc',
  grid: '#d08c2c',
  site: '#d62828',
  siteFill: '#f4a3a3',
};

export interface Grid {
  code: string;
  name: string;
  level: number;
  parentCode?: string;
  areaM2?: number;
  geojson?: string;
  coverageTarget?: number;
}

export interface KeySite {
  code: string;
  name: string;
  category: string;
  priority: number;
  gridCode?: string;
  geojson?: string;
}

export type RegionFeature = Feature<Geometry, Grid>;
export type SiteFeature = Feature<Geometry, KeySite>;

export interface LegendEntry {
  label: () => string;
  swatch: 'area' | 'line' | 'dashed' | 'point' | 'wedge';
  fill: string;
  stroke: string;
}

export interface Overlay {
  key: string;
  label: () => string;
  layer: L.Layer;
  visible: boolean;
  legend: LegendEntry[];
}

export interface BaseMap {
  map: L.Map;
  renderer: L.Canvas;
  regions: RegionFeature[];
  sites: SiteFeature[];
  /** The region polygons by level, as drawn (county, townships, villages, grids). */
  regionLayers: Record<'county' | 'townships' | 'villages' | 'grids', L.GeoJSON>;
  /** Adds an overlay above those added before, with its switcher and legend rows. */
  addOverlay(overlay: Overlay): void;
  /** Shows or hides an overlay as its switcher box does. */
  setVisible(key: string, visible: boolean): void;
}

/** WGS-84 (as the gateway answers) to what the map draws in; identity unless the base layer is GCJ-02 (tiles.ts). */
export let toMap: (lng: number, lat: number) => [number, number] = (lng, lat) => [lng, lat];
export function useProjection(project: (lng: number, lat: number) => [number, number]) {
  toMap = project;
}

/** A GeoJSON geometry in the map's datum. */
export function geometryToMap<G extends Geometry>(geometry: G): G {
  const convert = (c: unknown): unknown => (typeof (c as number[])[0] === 'number' ? toMap((c as number[])[0], (c as number[])[1]) : (c as unknown[]).map(convert));
  if (geometry.type === 'GeometryCollection') {
    return { ...geometry, geometries: geometry.geometries.map(geometryToMap) };
  }
  return { ...geometry, coordinates: convert((geometry as { coordinates: unknown }).coordinates) } as G;
}

export const latLng = (lng: number, lat: number) => {
  const [x, y] = toMap(lng, lat);
  return L.latLng(y, x);
};

/** An invisible point to hang a name on (a div icon: Leaflet's default marker icon would load images). */
export const anchor = (at: L.LatLng) => L.marker(at, { icon: L.divIcon({ className: 'label-anchor', html: '', iconSize: [0, 0] }), interactive: false, keyboard: false });

/** A name on the map: a permanent tooltip with no box, only the text with a white halo (style.css). */
export const bindLabel = (layer: L.Layer, name: string, kind: 'township' | 'village' | 'site') =>
  layer.bindTooltip(name, {
    permanent: true, interactive: false, className: `map-label map-label-${kind}`,
    ...(kind === 'site' ? { direction: 'bottom', offset: [0, 10] } : { direction: 'center' }),
  });

/** Names shown on the map from this zoom on (townships always). */
const labelZoom = { villages: 14, keySites: 15 };

/** At most this many names of one kind at once (a dense view shows the first ones, in the order given). */
const maxLabels = 300;

/**
 * Names drawn only for the places in view, from zoom `from` on: a layer that rebuilds its few labels when the view
 * stops moving, so a county with thousands of key sites never holds thousands of label nodes.
 */
function viewportLabels(map: L.Map, kind: 'village' | 'site', from: number, places: { name: string; at: L.LatLng }[]): L.LayerGroup {
  const group = L.layerGroup();
  const refresh = () => {
    group.clearLayers();
    if (!map.hasLayer(group) || map.getZoom() < from) {
      return;
    }
    const view = map.getBounds().pad(0.1);
    let shown = 0;
    for (const place of places) {
      if (shown >= maxLabels) {
        break;
      }
      if (view.contains(place.at)) {
        group.addLayer(bindLabel(anchor(place.at), place.name, kind));
        shown++;
      }
    }
  };
  map.on('moveend', refresh);
  group.on('add', () => setTimeout(refresh));
  return group;
}

export async function loadBaseMap(container: HTMLElement, panel: HTMLElement): Promise<BaseMap> {
  const [gridAnswer, siteAnswer] = await Promise.all([
    getJson<{ grids?: Grid[] }>('/api/v1/grids', { includeGeometry: true }),
    getJson<{ sites?: KeySite[] }>('/api/v1/keySites', { includeGeometry: true }),
  ]);
  const feature = <T extends { geojson?: string }>(item: T): Feature<Geometry, T> => ({
    type: 'Feature',
    properties: { ...item, geojson: undefined },
    geometry: geometryToMap(JSON.parse(item.geojson!) as Geometry),
  });
  const regions = (gridAnswer.grids ?? []).filter((g) => g.geojson).map(feature);
  const sites = (siteAnswer.sites ?? []).filter((s) => s.geojson).map(feature);

  // One canvas for every shape (a county of 20,000 cameras stays one element), with a click tolerance of 3 px.
  const renderer = L.canvas({ padding: 0.5, tolerance: 3 });
  const map = L.map(container, { renderer, preferCanvas: true, attributionControl: false, zoomSnap: 0.25, minZoom: 7, maxZoom: 19, center: [37.62, 114.6], zoom: 12 });
  L.control.scale({ imperial: false, position: 'bottomleft' }).addTo(map);

  const byLevel = (level: number) => regions.filter((f) => f.properties.level === level);
  const area = (options: L.PathOptions) => ({ renderer, interactive: false, ...options });
  const county = L.geoJSON(byLevel(1), { style: () => area({ color: colours.county, weight: 4, fillColor: colours.county, fillOpacity: 0.04 }) });
  const villages = L.geoJSON(byLevel(3), { style: () => area({ color: colours.village, weight: 1, fillColor: colours.villageFill, fillOpacity: 0.3 }) });
  const grids = L.geoJSON(byLevel(4), { style: () => area({ color: colours.grid, weight: 1.5, dashArray: '6 4', fill: false }) });
  const townships = L.geoJSON(byLevel(2), {
    style: () => area({ color: colours.township, weight: 2.5, fill: false }),
    onEachFeature: (f: RegionFeature, layer) => bindLabel(layer, f.properties.name, 'township'),
  });
  // Names: only those in view, from the zoom where they fit (a county has thousands of key sites: a label each would
  // be thousands of DOM nodes).
  const villageLabels = viewportLabels(map, 'village', labelZoom.villages,
    byLevel(3).map((f) => ({ name: f.properties.name, at: L.geoJSON(f).getBounds().getCenter() })));

  // An area key site is a few pixels wide at county zoom: a ring at its centre keeps it visible. One GeoJSON layer
  // for all of them, on the canvas.
  const sitePolygons = L.geoJSON(sites.filter((f) => f.geometry.type !== 'Point'), {
    style: () => area({ color: colours.site, weight: 2, fillColor: colours.siteFill, fillOpacity: 0.6 }),
  });
  const siteCentres = sites.map((f) => ({ name: f.properties.name, point: f.geometry.type === 'Point', at: L.geoJSON(f).getBounds().getCenter() }));
  const siteMarkers = L.layerGroup(siteCentres.map((c) => (c.point
    ? L.circleMarker(c.at, { renderer, radius: 8, color: '#ffffff', weight: 2.5, fillColor: colours.site, fillOpacity: 1, interactive: false })
    : L.circleMarker(c.at, { renderer, radius: 6, color: colours.site, weight: 2.5, fillColor: colours.siteFill, fillOpacity: 1, interactive: false }))));
  const keySites = L.layerGroup([sitePolygons, siteMarkers]);
  const siteLabels = viewportLabels(map, 'site', labelZoom.keySites, siteCentres);

  const switcher = el('ul', 'layer-list');
  switcher.id = 'layer-list';
  const legend = el('ul', 'legend-list');
  legend.id = 'legend-list';
  const layersTitle = el('h2', undefined, text('layers'));
  const legendTitle = el('h2', undefined, text('legend'));
  panel.append(el('section', undefined, layersTitle, switcher), el('section', undefined, legendTitle, legend));

  const overlays = new Map<string, Overlay>();
  const labels: { node: HTMLElement; label: () => string }[] = [
    { node: layersTitle, label: () => text('layers') },
    { node: legendTitle, label: () => text('legend') },
  ];

  const setVisible = (key: string, visible: boolean) => {
    const overlay = overlays.get(key);
    if (!overlay) {
      return;
    }
    overlay.visible = visible;
    if (visible) {
      overlay.layer.addTo(map);
    } else {
      overlay.layer.remove();
    }
    const box = document.getElementById(`layer-${key}`) as HTMLInputElement | null;
    if (box) {
      box.checked = visible;
    }
    legend.querySelectorAll<HTMLElement>(`[data-layer="${key}"]`).forEach((row) => (row.hidden = !visible));
  };

  const addOverlay = (overlay: Overlay) => {
    overlays.set(overlay.key, overlay);
    if (overlay.visible) {
      overlay.layer.addTo(map);
    }
    // The switcher lists the top layer first.
    const item = document.createElement('li');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.id = `layer-${overlay.key}`;
    box.checked = overlay.visible;
    box.addEventListener('change', () => setVisible(overlay.key, box.checked));
    const name = document.createElement('label');
    name.htmlFor = box.id;
    labels.push({ node: name, label: overlay.label });
    item.append(box, name);
    switcher.prepend(item);
    const rows: HTMLElement[] = [];
    for (const entry of overlay.legend) {
      const row = document.createElement('li');
      row.dataset.layer = overlay.key;
      row.hidden = !overlay.visible;
      const swatch = document.createElement('span');
      swatch.className = `swatch swatch-${entry.swatch}`;
      swatch.style.setProperty('--fill', entry.fill);
      swatch.style.setProperty('--stroke', entry.stroke);
      const label = document.createElement('span');
      labels.push({ node: label, label: entry.label });
      row.append(swatch, label);
      rows.push(row);
    }
    legend.prepend(...rows);
    relabel();
  };
  const relabel = () => labels.forEach(({ node, label }) => (node.textContent = label()));

  addOverlay({ key: 'villages', label: () => text('villages'), layer: L.layerGroup([villages, villageLabels]), visible: true, legend: [{ label: () => text('villages'), swatch: 'area', fill: colours.villageFill, stroke: colours.village }] });
  addOverlay({ key: 'grids', label: () => text('grids'), layer: grids, visible: false, legend: [{ label: () => text('grids'), swatch: 'dashed', fill: 'transparent', stroke: colours.grid }] });
  addOverlay({ key: 'townships', label: () => text('townships'), layer: townships, visible: true, legend: [{ label: () => text('townships'), swatch: 'line', fill: 'transparent', stroke: colours.township }] });
  addOverlay({ key: 'county', label: () => text('county'), layer: county, visible: true, legend: [{ label: () => text('county'), swatch: 'line', fill: 'transparent', stroke: colours.county }] });
  addOverlay({
    key: 'keySites', label: () => text('keySites'), layer: L.layerGroup([keySites, siteLabels]), visible: true,
    legend: [
      { label: () => text('keySiteArea'), swatch: 'area', fill: colours.siteFill, stroke: colours.site },
      { label: () => text('keySitePoint'), swatch: 'point', fill: colours.site, stroke: '#ffffff' },
    ],
  });

  const bounds = county.getLayers().length > 0 ? county.getBounds() : L.geoJSON(regions).getBounds();
  if (bounds.isValid()) {
    map.fitBounds(bounds, { padding: [40, 40], animate: false });
  }
  // Another view names a point (a blind spot, an incident): the map flies there.
  listen('focus', ({ lng, lat, zoom }) => map.flyTo(latLng(lng, lat), zoom ?? Math.max(map.getZoom(), 16), { duration: 0.5 }));

  onLangChange(relabel);

  return {
    map, renderer, regions, sites,
    regionLayers: { county, townships, villages, grids },
    addOverlay, setVisible,
  };
}
