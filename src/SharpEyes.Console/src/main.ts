// The console page: the county's regions and key sites on an OpenLayers map with no tile layer (the base map is the
// county's own polygons, so nothing is fetched from another origin), a layer switcher, a legend, Chinese by default
// and English on request. The regions come from a GeoJSON file the build writes from demo/gaoyi (build.mjs); the
// live data replaces it when the gateway's JSON API serves it.
import 'ol/ol.css';
import './style.css';
import Map from 'ol/Map';
import View from 'ol/View';
import VectorLayer from 'ol/layer/Vector';
import VectorSource from 'ol/source/Vector';
import GeoJSON from 'ol/format/GeoJSON';
import ScaleLine from 'ol/control/ScaleLine';
import { defaults as defaultControls } from 'ol/control/defaults';
import { Style, Fill, Stroke, Circle, RegularShape, Text } from 'ol/style';
import type Polygon from 'ol/geom/Polygon';
import type { FeatureLike } from 'ol/Feature';
import type Feature from 'ol/Feature';
import demoCountyUrl from '../gen/demo-county.geojson';
import { type Lang, type MessageKey, format } from './messages';

type LayerKey = 'county' | 'townships' | 'villages' | 'grids' | 'keySites';

interface LayerSpec {
  key: LayerKey;
  visible: boolean;
  /** Labels that would overlap are left out (OpenLayers' declutter). */
  declutter?: boolean;
  style: (feature: FeatureLike, resolution: number) => Style | Style[];
  legend: { label: MessageKey; swatch: 'area' | 'line' | 'dashed' | 'point'; fill: string; stroke: string }[];
}

const font = 'system-ui, "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif';
const label = (text: string, size: number, colour: string) =>
  new Text({ text, font: `600 ${size}px ${font}`, fill: new Fill({ color: colour }), stroke: new Stroke({ color: '#ffffff', width: 4 }), overflow: true });

const colours = {
  county: '#1d3557',
  township: '#2f6690',
  village: '#6c9bbf',
  villageFill: 'rgba(168, 218, 220, 0.22)',
  grid: '#d08c2c',
  site: '#d62828',
  siteFill: 'rgba(214, 40, 40, 0.30)',
};

const countyStyle = new Style({ stroke: new Stroke({ color: colours.county, width: 4 }), fill: new Fill({ color: 'rgba(29, 53, 87, 0.04)' }) });
const villageStyle = new Style({ stroke: new Stroke({ color: colours.village, width: 1 }), fill: new Fill({ color: colours.villageFill }) });
const gridStyle = new Style({ stroke: new Stroke({ color: colours.grid, width: 1.5, lineDash: [6, 4] }) });
const siteArea = new Style({ stroke: new Stroke({ color: colours.site, width: 2 }), fill: new Fill({ color: colours.siteFill }) });
// An area key site is a few pixels wide at county zoom: a square at its interior point keeps it visible.
const siteSquare = new Style({
  image: new RegularShape({ points: 4, radius: 7, angle: Math.PI / 4, fill: new Fill({ color: colours.siteFill.replace('0.30', '0.85') }), stroke: new Stroke({ color: colours.site, width: 2 }) }),
  geometry: (f) => (f.getGeometry() as Polygon).getInteriorPoint(),
});
const sitePoint = new Style({ image: new Circle({ radius: 7, fill: new Fill({ color: colours.site }), stroke: new Stroke({ color: '#ffffff', width: 2 }) }) });

const layers: LayerSpec[] = [
  { key: 'villages', visible: true, declutter: true, style: (f, r) => (r < 10 ? new Style({ stroke: villageStyle.getStroke()!, fill: villageStyle.getFill()!, text: label(f.get('name') as string, 13, '#24476b') }) : villageStyle), legend: [{ label: 'villages', swatch: 'area', fill: colours.villageFill, stroke: colours.village }] },
  { key: 'grids', visible: false, style: () => gridStyle, legend: [{ label: 'grids', swatch: 'dashed', fill: 'transparent', stroke: colours.grid }] },
  { key: 'townships', visible: true, style: (f) => new Style({ stroke: new Stroke({ color: colours.township, width: 2.5 }), text: label(f.get('name') as string, 24, colours.county) }), legend: [{ label: 'townships', swatch: 'line', fill: 'transparent', stroke: colours.township }] },
  { key: 'county', visible: true, style: () => countyStyle, legend: [{ label: 'county', swatch: 'line', fill: 'transparent', stroke: colours.county }] },
  {
    key: 'keySites', visible: true, declutter: true,
    style: (f, r) => {
      const point = f.getGeometry()?.getType() === 'Point';
      const styles = point ? [sitePoint] : r > 4 ? [siteArea, siteSquare] : [siteArea];
      return r < 6 ? [...styles, new Style({ text: label(f.get('name') as string, 14, '#8b1e1e'), geometry: point ? undefined : siteSquare.getGeometry()! })] : styles;
    },
    legend: [
      { label: 'keySiteArea', swatch: 'area', fill: colours.siteFill.replace('0.30', '0.85'), stroke: colours.site },
      { label: 'keySitePoint', swatch: 'point', fill: colours.site, stroke: '#ffffff' },
    ],
  },
];

/** Region level by the length of its code (GB/T 2260 county 6, township 9, village 12, grid 15). */
const levelOf = (code: string): LayerKey | undefined => ({ 6: 'county', 9: 'townships', 12: 'villages', 15: 'grids' } as Record<number, LayerKey>)[code.length];

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

function buildPanel(mapLayers: Record<LayerKey, VectorLayer>) {
  const switcher = element('layer-list');
  const legend = element('legend-list');
  for (const spec of layers.slice().reverse()) {
    const item = document.createElement('li');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.id = `layer-${spec.key}`;
    box.checked = spec.visible;
    box.addEventListener('change', () => {
      mapLayers[spec.key].setVisible(box.checked);
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

async function main() {
  element('language').addEventListener('click', () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem('sharpeyes.console.lang', lang);
    render();
  });

  const sources = Object.fromEntries(layers.map((l) => [l.key, new VectorSource()])) as Record<LayerKey, VectorSource>;
  const mapLayers = Object.fromEntries(
    layers.map((l) => [l.key, new VectorLayer({ source: sources[l.key], style: l.style, visible: l.visible, declutter: l.declutter ?? false, properties: { name: l.key } })]),
  ) as Record<LayerKey, VectorLayer>;
  buildPanel(mapLayers);
  render();

  const map = new Map({
    target: 'map',
    layers: layers.map((l) => mapLayers[l.key]),
    view: new View({ center: [12_754_000, 4_525_000], zoom: 11 }),
    controls: defaultControls({ attribution: false, rotate: false }).extend([new ScaleLine()]),
  });

  try {
    const response = await fetch(demoCountyUrl);
    if (!response.ok) {
      throw new Error(`${response.status} ${response.statusText}`);
    }
    const data = (await response.json()) as { regions: object; keySites: object };
    const geojson = new GeoJSON({ dataProjection: 'EPSG:4326', featureProjection: 'EPSG:3857' });
    const regions = geojson.readFeatures(data.regions) as Feature[];
    for (const feature of regions) {
      const level = levelOf(String(feature.get('code')));
      if (level) {
        sources[level].addFeature(feature);
      }
    }
    const sites = geojson.readFeatures(data.keySites) as Feature[];
    sources.keySites.addFeatures(sites);
    const extent = sources.county.getExtent();
    if (extent) {
      map.getView().fit(extent, { padding: [40, 40, 40, 40] });
    }
    status = { key: 'loaded', values: { regions: regions.length, sites: sites.length } };
    render();
    map.once('rendercomplete', () => {
      // What the browser tests wait for: the county drawn, with how many features each layer holds.
      const root = document.documentElement;
      root.dataset.map = 'drawn';
      root.dataset.regions = String(regions.length);
      root.dataset.keySites = String(sites.length);
    });
  } catch (e) {
    status = { key: 'failed', values: { error: String((e as Error).message ?? e) } };
    document.documentElement.dataset.map = 'failed';
    render();
  }
}

void main();
