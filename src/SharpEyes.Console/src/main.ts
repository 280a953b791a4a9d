// The console page: the county's regions and key sites on a Leaflet map drawn on one canvas, with no tile layer (the
// base map is the county's own polygons, so nothing is fetched from another origin), a layer switcher, a legend,
// Chinese by default and English on request. The regions come from a GeoJSON file the build writes from demo/gaoyi
// (build.mjs); the live data replaces it when the gateway's JSON API serves it. Why Leaflet: docs/decisions.md#console.
import 'leaflet/dist/leaflet.css';
import './style.css';
import * as L from 'leaflet';
import type { Feature, FeatureCollection, Geometry } from 'geojson';
import demoCountyUrl from '../gen/demo-county.geojson';
import { type Lang, type MessageKey, format } from './messages';

type LayerKey = 'county' | 'townships' | 'villages' | 'grids' | 'keySites';
type Region = Feature<Geometry, { code: string; name: string }>;
type KeySite = Feature<Geometry, { code: string; name: string; category: string; priority: number }>;

const colours = {
  county: '#1d3557',
  township: '#2f6690',
  village: '#6c9bbf',
  villageFill: '#a8dadc',
  grid: '#d08c2c',
  site: '#d62828',
  siteFill: '#f4a3a3',
};

interface LegendEntry {
  label: MessageKey;
  swatch: 'area' | 'line' | 'dashed' | 'point';
  fill: string;
  stroke: string;
}

/** The layers, bottom to top, with whether they start shown and their legend rows. */
const layerSpecs: { key: LayerKey; visible: boolean; legend: LegendEntry[] }[] = [
  { key: 'villages', visible: true, legend: [{ label: 'villages', swatch: 'area', fill: colours.villageFill, stroke: colours.village }] },
  { key: 'grids', visible: false, legend: [{ label: 'grids', swatch: 'dashed', fill: 'transparent', stroke: colours.grid }] },
  { key: 'townships', visible: true, legend: [{ label: 'townships', swatch: 'line', fill: 'transparent', stroke: colours.township }] },
  { key: 'county', visible: true, legend: [{ label: 'county', swatch: 'line', fill: 'transparent', stroke: colours.county }] },
  {
    key: 'keySites', visible: true,
    legend: [
      { label: 'keySiteArea', swatch: 'area', fill: colours.siteFill, stroke: colours.site },
      { label: 'keySitePoint', swatch: 'point', fill: colours.site, stroke: '#ffffff' },
    ],
  },
];

/** Region level by the length of its code (GB/T 2260 county 6, township 9, village 12, grid 15). */
const levelOf = (code: string): LayerKey | undefined => ({ 6: 'county', 9: 'townships', 12: 'villages', 15: 'grids' } as Record<number, LayerKey>)[code.length];

/** Names shown on the map from this zoom on (townships always). */
const labelZoom: Partial<Record<LayerKey, number>> = { villages: 14, keySites: 15 };

const storedLang = (): Lang => (localStorage.getItem('sharpeyes.console.lang') === 'en' ? 'en' : 'zh');
let lang: Lang = storedLang();
let status: { key: MessageKey; values?: Record<string, string | number> } = { key: 'loading' };

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function render() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = format(lang, 'title');
  for (const node of document.querySelectorAll<HTMLElement>('[data-text]')) {
    node.textContent = format(lang, node.dataset.text as MessageKey);
  }
  const toggle = element<HTMLButtonElement>('language');
  toggle.textContent = format(lang, 'language');
  toggle.setAttribute('aria-label', format(lang, 'languageLabel'));
  element('status').textContent = format(lang, status.key, status.values);
}

function buildPanel(map: L.Map, layers: Record<LayerKey, L.LayerGroup>) {
  const switcher = element('layer-list');
  const legend = element('legend-list');
  for (const spec of layerSpecs.slice().reverse()) {
    const item = document.createElement('li');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.id = `layer-${spec.key}`;
    box.checked = spec.visible;
    box.addEventListener('change', () => {
      if (box.checked) {
        layers[spec.key].addTo(map);
      } else {
        layers[spec.key].remove();
      }
      legend.querySelectorAll<HTMLElement>(`[data-layer="${spec.key}"]`).forEach((row) => (row.hidden = !box.checked));
    });
    const text = document.createElement('label');
    text.htmlFor = box.id;
    text.dataset.text = spec.key;
    item.append(box, text);
    switcher.append(item);

    for (const entry of spec.legend) {
      const row = document.createElement('li');
      row.dataset.layer = spec.key;
      row.hidden = !spec.visible;
      const swatch = document.createElement('span');
      swatch.className = `swatch swatch-${entry.swatch}`;
      swatch.style.setProperty('--fill', entry.fill);
      swatch.style.setProperty('--stroke', entry.stroke);
      const name = document.createElement('span');
      name.dataset.text = entry.label;
      row.append(swatch, name);
      legend.append(row);
    }
  }
}

/** An invisible point to hang a name on (a div icon: Leaflet's default marker icon would load images). */
const anchor = (at: L.LatLng) => L.marker(at, { icon: L.divIcon({ className: 'label-anchor', html: '', iconSize: [0, 0] }), interactive: false, keyboard: false });

/** A name on the map: a permanent tooltip with no box, only the text with a white halo (style.css). */
const bindLabel = (layer: L.Layer, name: string, kind: 'township' | 'village' | 'site') =>
  layer.bindTooltip(name, {
    permanent: true, interactive: false, className: `map-label map-label-${kind}`,
    // A key site's name goes under its marker; a region's in its middle.
    ...(kind === 'site' ? { direction: 'bottom', offset: [0, 10] } : { direction: 'center' }),
  });

function buildLayers(renderer: L.Canvas, regions: Region[], sites: KeySite[]): Record<LayerKey, L.LayerGroup> {
  const byLevel = (level: LayerKey): FeatureCollection => ({ type: 'FeatureCollection', features: regions.filter((f) => levelOf(f.properties.code) === level) });
  const area = (options: L.PathOptions) => ({ renderer, interactive: false, ...options });
  const county = L.geoJSON(byLevel('county'), { style: () => area({ color: colours.county, weight: 4, fillColor: colours.county, fillOpacity: 0.04 }) });
  const villages = L.geoJSON(byLevel('villages'), { style: () => area({ color: colours.village, weight: 1, fillColor: colours.villageFill, fillOpacity: 0.3 }) });
  const grids = L.geoJSON(byLevel('grids'), { style: () => area({ color: colours.grid, weight: 1.5, dashArray: '6 4', fill: false }) });
  const townships = L.geoJSON(byLevel('townships'), {
    style: () => area({ color: colours.township, weight: 2.5, fill: false }),
    onEachFeature: (f: Region, layer) => bindLabel(layer, f.properties.name, 'township'),
  });
  const villageLabels = L.layerGroup();
  villages.eachLayer((layer) => {
    const f = (layer as L.Polygon).feature as Region;
    villageLabels.addLayer(bindLabel(anchor((layer as L.Polygon).getBounds().getCenter()), f.properties.name, 'village'));
  });

  // An area key site is a few pixels wide at county zoom: a ring at its centre keeps it visible.
  const keySites = L.layerGroup();
  const siteLabels = L.layerGroup();
  for (const f of sites) {
    const point = f.geometry.type === 'Point';
    const shape = L.geoJSON(f, {
      // Leaflet applies style to point markers too: only the polygons take it.
      style: () => (point ? {} : area({ color: colours.site, weight: 2, fillColor: colours.siteFill, fillOpacity: 0.6 })),
      pointToLayer: (_, at) => L.circleMarker(at, { renderer, radius: 8, color: '#ffffff', weight: 2.5, fillColor: colours.site, fillOpacity: 1, interactive: false }),
    });
    keySites.addLayer(shape);
    const centre = shape.getBounds().getCenter();
    if (!point) {
      keySites.addLayer(L.circleMarker(centre, { renderer, radius: 6, color: colours.site, weight: 2.5, fillColor: colours.siteFill, fillOpacity: 1, interactive: false }));
    }
    siteLabels.addLayer(bindLabel(anchor(centre), f.properties.name, 'site'));
  }
  return {
    county,
    townships,
    villages: L.layerGroup([villages, villageLabels]),
    grids,
    keySites: L.layerGroup([keySites, siteLabels]),
  };
}

/** Shows village and key-site names only from the zoom where they fit. */
function toggleLabels(map: L.Map) {
  const zoom = map.getZoom();
  for (const [key, from] of Object.entries(labelZoom) as [LayerKey, number][]) {
    document.getElementById('map')!.classList.toggle(`hide-${key}-labels`, zoom < from);
  }
}

const nextFrame = () => new Promise<number>((resolve) => requestAnimationFrame(resolve));

async function main() {
  element('language').addEventListener('click', () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem('sharpeyes.console.lang', lang);
    render();
  });
  render();

  // One canvas for every shape (a county of 20,000 cameras stays one element), with a click tolerance of 3 px.
  const renderer = L.canvas({ padding: 0.5, tolerance: 3 });
  // No tile layer sets the zoom range: from the whole county to a street corner.
  const map = L.map('map', { renderer, preferCanvas: true, attributionControl: false, zoomSnap: 0.25, minZoom: 9, maxZoom: 18, center: [37.62, 114.6], zoom: 12 });
  L.control.scale({ imperial: false, position: 'bottomleft' }).addTo(map);

  try {
    const response = await fetch(demoCountyUrl);
    if (!response.ok) {
      throw new Error(`${response.status} ${response.statusText}`);
    }
    const data = (await response.json()) as { regions: FeatureCollection<Geometry, Region['properties']>; keySites: FeatureCollection<Geometry, KeySite['properties']> };
    const regions = data.regions.features as Region[];
    const sites = data.keySites.features as KeySite[];
    const layers = buildLayers(renderer, regions, sites);
    for (const spec of layerSpecs) {
      if (spec.visible) {
        layers[spec.key].addTo(map);
      }
    }
    buildPanel(map, layers);
    map.fitBounds((layers.county as L.GeoJSON).getBounds(), { padding: [40, 40], animate: false });
    map.on('zoomend', () => toggleLabels(map));
    toggleLabels(map);
    status = { key: 'loaded', values: { regions: regions.length, sites: sites.length } };
    render();
    // The canvas renderer draws in the next animation frame; the frame after it is on screen. What the browser tests
    // wait for: the county drawn, with how many features the layers hold.
    await nextFrame();
    await nextFrame();
    const root = document.documentElement;
    root.dataset.regions = String(regions.length);
    root.dataset.keySites = String(sites.length);
    root.dataset.map = 'drawn';
  } catch (e) {
    status = { key: 'failed', values: { error: String((e as Error).message ?? e) } };
    document.documentElement.dataset.map = 'failed';
    render();
  }
}

void main();
