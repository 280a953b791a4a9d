// The planner view (planner and admin keys): the blind-spot ranking of a region as a table linked to the map, the
// uncovered area drawn hatched with its total, placement suggestions for k cameras of a chosen lens drawn as numbered
// wedges with the gain of each, and the exports (the region's report as CSV, the uncovered area and the suggestions as
// GeoJSON), saved from Blob URLs of this page. Live: a coverage gap opening or closing, a camera registered,
// deregistered or changing status, or an incident opened marks the ranking stale at once and reloads it (debounced,
// at most every few seconds); a resync reloads everything. docs/console-guide.md#planning says what a planner can do.
import * as L from 'leaflet';
import type { Feature, FeatureCollection, Geometry } from 'geojson';
import './planner.css';
import { ApiError, getJson } from './api';
import { geometryToMap, latLng, type RegionFeature } from './basemap';
import { send } from './bus';
import { formatDate, formatNumber, formatPercent, onLangChange } from './i18n';
import * as live from './live';
import { categories, categoryNames, known, reasons, text } from './planner-text';
import { hatch } from './hatch';
import { hatchCss, saveFile, suggestionsGeoJson, wedgeRing, type Suggestion } from './planner-geo';
import { can } from './session';
import { addTab, el, showTab } from './sidebar';
import type { ViewContext } from './view';

/** How many blind spots the table shows (sites first, then grids: the ranking's order). */
const tableRows = 200;
/** Live changes: wait this long for more before reloading, and reload at most this often. */
const debounceMs = 400;
const minIntervalMs = 3_000;
/** Lens presets: a 1/2.8" sensor (5.6 mm across) with a 1080p image, the common CCTV bullet and dome cameras. */
const lenses: Record<string, { focal: number; label: Parameters<typeof text>[0] }> = {
  wide: { focal: 2.8, label: 'lensWide' },
  standard: { focal: 4, label: 'lensStandard' },
  medium: { focal: 6, label: 'lensMedium' },
  long: { focal: 8, label: 'lensLong' },
  tele: { focal: 12, label: 'lensTele' },
};
const sensorWidthMm = 5.6;
const horizontalPixels = 1920;

const colours = {
  spotSite: '#111111',
  spotGrid: '#b45309',
  selected: '#ffb703',
  uncovered: '#c9184a',
  suggestion: '#7b2cbf',
  suggestionStroke: '#3c096c',
};

const feedKinds = new Set([
  'COVERAGE_GAP_OPENED', 'COVERAGE_GAP_CLOSED', 'DEVICE_REGISTERED', 'DEVICE_DEREGISTERED',
  'DEVICE_ONLINE', 'DEVICE_OFFLINE', 'CAMERA_FAULTY', 'CAMERA_REPAIRED', 'INCIDENT_OPENED',
].map((k) => `FEED_EVENT_KIND_${k}`));
/** Kinds whose region code is where their effect is; a camera's wedge can reach across a border, so not these. */
const deviceKinds = new Set(['DEVICE_REGISTERED', 'DEVICE_DEREGISTERED', 'DEVICE_ONLINE', 'DEVICE_OFFLINE', 'CAMERA_FAULTY', 'CAMERA_REPAIRED'].map((k) => `FEED_EVENT_KIND_${k}`));

interface BlindSpot {
  kind: 'BLIND_SPOT_KIND_KEY_SITE' | 'BLIND_SPOT_KIND_GRID';
  code: string;
  name: string;
  category?: string;
  priority?: number;
  incidents?: number;
  score: number;
  reason: string;
  realFraction?: number;
  uncoveredM2?: number;
  gridCode?: string;
  position?: { lon: number; lat: number };
}

interface PlacementAnswer {
  suggestions?: Suggestion[];
  uncoveredWeightBefore?: number;
  uncoveredWeightAfter?: number;
  candidates?: number;
  hfovDeg: number;
  rangeM: number;
}

type Kind = 'all' | 'site' | 'grid';
type Truth = 'COVERAGE_TRUTH_REAL' | 'COVERAGE_TRUTH_DECLARED' | 'COVERAGE_TRUTH_POTENTIAL';

/**
 * A load that may be overtaken (the region changed, a live reload): only the answer of the latest call is applied,
 * then drawn; an earlier one that ends later is dropped.
 */
function latest<T>(read: () => Promise<T>, apply: (value: T) => void, fail: (message: string) => void, render: () => void) {
  let generation = 0;
  const load = async () => {
    const mine = ++generation;
    try {
      const value = await read();
      if (mine !== generation) {
        return;
      }
      apply(value);
    } catch (e) {
      if (mine !== generation) {
        return;
      }
      fail((e as Error).message);
    }
    render();
  };
  return { load, generation: () => generation };
}

const toRad = (deg: number) => (deg * Math.PI) / 180;
const formatArea = (m2: number) => (m2 >= 1_000_000 ? text('km2', { n: formatNumber(m2 / 1_000_000, 2) }) : text('m2', { n: formatNumber(m2) }));

function labelled(label: () => string, control: HTMLElement, relabel: (() => void)[]) {
  const node = el('label', 'plan-field');
  const caption = el('span');
  relabel.push(() => (caption.textContent = label()));
  node.append(caption, control);
  return node;
}

function numberInput(id: string, min: number, max: number, value: number) {
  const node = el('input');
  node.id = id;
  node.type = 'number';
  node.min = String(min);
  node.max = String(max);
  node.step = 'any';
  node.value = String(value);
  return node;
}

function button(id: string, className: string, type: 'button' | 'submit' = 'button') {
  const node = el('button', className);
  node.id = id;
  node.type = type;
  return node;
}

function select(id: string, options: [string, () => string][], relabel: (() => void)[]) {
  const node = el('select');
  node.id = id;
  for (const [value, label] of options) {
    const option = el('option');
    option.value = value;
    relabel.push(() => (option.textContent = label()));
    node.append(option);
  }
  return node;
}

export async function mount({ base }: ViewContext): Promise<void> {
  if (!can.plan()) {
    return;
  }
  const relabel: (() => void)[] = [];
  const pane = addTab('planning', () => text('tab'));
  pane.classList.add('planner');
  const byCode = new Map<string, RegionFeature>(base.regions.map((f) => [f.properties.code, f]));
  const siteNames = new Map(base.sites.map((f) => [f.properties.code, f.properties.name]));
  const map = base.map;

  // --- the controls ---------------------------------------------------------------------------------------------
  const counties = base.regions.filter((f) => f.properties.level === 1);
  const townships = base.regions.filter((f) => f.properties.level === 2).sort((a, b) => a.properties.code.localeCompare(b.properties.code));
  const regionOptions: [string, () => string][] = [];
  if (counties.length !== 1) {
    regionOptions.push(['', () => text('allRegions')]);
  }
  for (const c of counties) {
    regionOptions.push([c.properties.code, () => c.properties.name]);
    for (const t of townships.filter((t) => t.properties.parentCode === c.properties.code || t.properties.code.startsWith(c.properties.code))) {
      regionOptions.push([t.properties.code, () => `\u2003${t.properties.name}`]);
    }
  }
  const regionSelect = select('plan-region', regionOptions, relabel);
  const kindSelect = select('plan-kind', [['all', () => text('kindAll')], ['site', () => text('kindSite')], ['grid', () => text('kindGrid')]], relabel);
  const truthSelect = select('plan-truth', [['COVERAGE_TRUTH_REAL', () => text('truthReal')], ['COVERAGE_TRUTH_DECLARED', () => text('truthDeclared')], ['COVERAGE_TRUTH_POTENTIAL', () => text('truthPotential')]], relabel);

  const heading = (key: Parameters<typeof text>[0]) => {
    const h = el('h2');
    relabel.push(() => (h.textContent = text(key)));
    return h;
  };

  // Blind spots
  const status = el('p', 'plan-status');
  status.setAttribute('role', 'status');
  const summary = el('p', 'plan-summary');
  const table = el('table', 'plan-table');
  table.id = 'plan-blind-spots';
  const head = el('tr');
  for (const [key, cls] of [['colRank', 'num'], ['colName', ''], ['colKind', ''], ['colReason', ''], ['colScore', 'num'], ['colRegion', '']] as const) {
    const th = el('th', cls);
    th.scope = 'col';
    relabel.push(() => (th.textContent = text(key)));
    head.append(th);
  }
  const body = el('tbody');
  table.append(el('thead', undefined, head), body);
  const tableBox = el('div', 'plan-table-box', table);

  // Uncovered area
  const uncoveredNote = el('p', 'plan-total');
  uncoveredNote.id = 'plan-uncovered';

  // Placement
  const countInput = numberInput('plan-count', 1, 50, 5);
  const lensSelect = select('plan-lens', [...Object.entries(lenses).map(([k, v]) => [k, () => text(v.label)] as [string, () => string]), ['custom', () => text('lensCustom')]], relabel);
  lensSelect.value = 'medium';
  const hfovInput = numberInput('plan-hfov', 1, 360, 90);
  const rangeInput = numberInput('plan-range', 1, 5000, 60);
  const customFields = el('div', 'plan-custom', labelled(() => text('hfov'), hfovInput, relabel), labelled(() => text('range'), rangeInput, relabel));
  customFields.hidden = true;
  const suggestButton = button('plan-suggest', 'plan-primary', 'submit');
  const form = el('form', 'plan-form', labelled(() => text('count'), countInput, relabel), labelled(() => text('lens'), lensSelect, relabel), customFields, suggestButton);
  form.noValidate = true;
  const placementNote = el('p', 'plan-status');
  placementNote.setAttribute('role', 'status');
  const modelNote = el('p', 'plan-summary');
  const list = el('ol', 'plan-suggestions');
  list.id = 'plan-suggestions';
  list.dataset.state = 'idle';

  // Exports
  const exportReport = button('plan-export-report', 'plan-export');
  const exportUncovered = button('plan-export-uncovered', 'plan-export');
  const exportSuggestions = button('plan-export-suggestions', 'plan-export');
  const exportNote = el('p', 'plan-status');
  exportNote.setAttribute('role', 'status');

  pane.append(
    el('div', 'plan-region', labelled(() => text('region'), regionSelect, relabel)),
    el('section', 'plan-section', heading('blindSpots'), el('div', 'plan-filters', labelled(() => text('kind'), kindSelect, relabel)), status, summary, tableBox),
    el('section', 'plan-section', heading('uncovered'), el('div', 'plan-filters', labelled(() => text('truth'), truthSelect, relabel)), uncoveredNote),
    el('section', 'plan-section', heading('placement'), form, placementNote, modelNote, list),
    el('section', 'plan-section', heading('exports'), el('div', 'plan-exports', exportReport, exportUncovered, exportSuggestions), exportNote),
  );
  relabel.push(() => {
    suggestButton.textContent = text('suggest');
    exportReport.textContent = `⤓ ${text('exportReport')}`;
    exportUncovered.textContent = `⤓ ${text('exportUncovered')}`;
    exportSuggestions.textContent = `⤓ ${text('exportSuggestions')}`;
  });

  // --- the map overlays -------------------------------------------------------------------------------------------
  const uncoveredLayer = L.featureGroup();
  const suggestionLayer = L.featureGroup();
  const spotLayer = L.featureGroup();
  const highlightLayer = L.featureGroup();
  const hatchFill = hatch(colours.uncovered, 12, 2.5);
  base.addOverlay({
    key: 'planUncovered', label: () => text('layerUncovered'), layer: uncoveredLayer, visible: true,
    legend: [{ label: () => text('legendUncovered'), swatch: 'area', fill: hatchCss(colours.uncovered), stroke: colours.uncovered }],
  });
  base.addOverlay({
    key: 'planSuggestions', label: () => text('layerSuggestions'), layer: suggestionLayer, visible: true,
    legend: [{ label: () => text('legendSuggestion'), swatch: 'area', fill: colours.suggestion, stroke: colours.suggestionStroke }],
  });
  base.addOverlay({
    key: 'planBlindSpots', label: () => text('layerBlindSpots'), layer: L.layerGroup([spotLayer, highlightLayer]), visible: true,
    legend: [
      { label: () => text('legendSiteSpot'), swatch: 'point', fill: 'transparent', stroke: colours.spotSite },
      { label: () => text('legendGridSpot'), swatch: 'point', fill: 'transparent', stroke: colours.spotGrid },
    ],
  });
  // Keeps the planner's layers in their order on the one canvas after one of them is redrawn.
  const restack = () => {
    suggestionLayer.bringToFront();
    spotLayer.bringToFront();
    highlightLayer.bringToFront();
  };

  // The panel is wider while this tab shows (planner.css): the map must measure itself again.
  new ResizeObserver(() => map.invalidateSize({ pan: false })).observe(map.getContainer());
  map.on('moveend', () => {
    const c = map.getCenter();
    pane.dataset.mapCentre = `${c.lng.toFixed(6)},${c.lat.toFixed(6)}`;
    pane.dataset.mapZoom = String(map.getZoom());
  });

  // --- state ------------------------------------------------------------------------------------------------------
  const region = () => regionSelect.value;
  const kind = () => kindSelect.value as Kind;
  let spots: BlindSpot[] = [];
  let spotsAt: Date | undefined;
  let spotsError: string | undefined;
  let stale = false;
  let selected: string | undefined;
  let hovered: string | undefined;
  const markers = new Map<string, L.CircleMarker>();
  const rows = new Map<string, HTMLTableRowElement>();
  let uncovered: { geojson: string; collection: FeatureCollection<Geometry, { uncovered_m2?: number }>; areaM2: number; gridArea: number; region: string; truth: Truth } | undefined;
  let uncoveredError: string | undefined;
  let placement: { answer: PlacementAnswer; region: string; count: number; stale: boolean } | undefined;
  let placementState: 'idle' | 'running' | 'ready' | 'error' = 'idle';
  let placementError: string | undefined;

  const regionName = (code: string | undefined) => {
    if (!code) {
      return '';
    }
    const township = byCode.get(code.slice(0, 9))?.properties.name;
    const village = code.length >= 12 ? byCode.get(code.slice(0, 12))?.properties.name : undefined;
    return [township, village].filter(Boolean).join(' · ');
  };
  const keyOf = (s: BlindSpot) => `${s.kind === 'BLIND_SPOT_KIND_GRID' ? 'grid' : 'site'}:${s.code}`;

  // --- blind spots ------------------------------------------------------------------------------------------------
  function markerStyle(spot: BlindSpot, key: string): L.CircleMarkerOptions {
    const grid = spot.kind === 'BLIND_SPOT_KIND_GRID';
    const on = key === selected || key === hovered;
    return {
      renderer: base.renderer,
      radius: on ? 17 : grid ? 10 : 13,
      color: on ? colours.selected : grid ? colours.spotGrid : colours.spotSite,
      weight: on ? 7 : 3.5,
      dashArray: grid && !on ? '5 4' : undefined,
      fill: true,
      fillColor: '#ffffff',
      fillOpacity: on ? 0.35 : 0.01,
    };
  }

  function highlight() {
    highlightLayer.clearLayers();
    for (const [key, marker] of markers) {
      const spot = spots.find((s) => keyOf(s) === key)!;
      marker.setStyle(markerStyle(spot, key));
      if (key === selected || key === hovered) {
        marker.bringToFront();
        marker.openTooltip();
      } else {
        marker.closeTooltip();
      }
    }
    for (const [key, row] of rows) {
      row.classList.toggle('selected', key === selected);
      row.classList.toggle('hovered', key === hovered && key !== selected);
      row.setAttribute('aria-selected', String(key === selected));
    }
    const spot = spots.find((s) => keyOf(s) === selected);
    if (spot?.kind === 'BLIND_SPOT_KIND_GRID') {
      const grid = byCode.get(spot.code);
      if (grid) {
        L.geoJSON(grid, { style: () => ({ renderer: base.renderer, color: colours.selected, weight: 5, fill: false, interactive: false }) }).addTo(highlightLayer);
      }
    }
    table.dataset.selected = selected ?? '';
    table.dataset.hovered = hovered ?? '';
  }

  function choose(key: string | undefined, from: 'table' | 'map') {
    selected = key === selected && from === 'table' ? undefined : key;
    highlight();
    const spot = spots.find((s) => keyOf(s) === selected);
    if (!spot) {
      return;
    }
    if (from === 'table' && spot.position) {
      send('focus', { lng: spot.position.lon, lat: spot.position.lat, zoom: spot.kind === 'BLIND_SPOT_KIND_GRID' ? 15 : 17 });
    }
    if (from === 'map') {
      showTab('planning');
      rows.get(selected!)?.scrollIntoView({ block: 'nearest' });
    }
  }

  function hover(key: string | undefined) {
    if (hovered !== key) {
      hovered = key;
      highlight();
    }
  }

  function renderSpots() {
    body.replaceChildren();
    rows.clear();
    spotLayer.clearLayers();
    markers.clear();
    table.dataset.state = spotsError ? 'error' : stale ? 'stale' : spotsAt ? 'ready' : 'loading';
    table.dataset.generation = String(spotLoader.generation());
    table.dataset.count = String(spots.length);
    table.dataset.region = region();
    table.dataset.kind = kind();
    table.classList.toggle('stale', stale);
    status.className = `plan-status${stale ? ' plan-stale' : spotsError ? ' plan-error' : ''}`;
    status.textContent = spotsError ? text('failed', { error: spotsError }) : stale ? `⟳ ${text('stale')}` : spotsAt ? text('updated', { time: spotsAt.toLocaleTimeString(document.documentElement.lang) }) : text('loading');
    const sites = spots.filter((s) => s.kind !== 'BLIND_SPOT_KIND_GRID').length;
    summary.textContent = spotsAt && spots.length === 0 ? text('none') : spotsAt ? text('summary', { n: spots.length, sites, grids: spots.length - sites }) + (spots.length >= tableRows ? ` · ${text('summaryCut', { n: tableRows })}` : '') : '';
    const visible = spots;
    visible.forEach((spot) => {
      const key = keyOf(spot);
      const grid = spot.kind === 'BLIND_SPOT_KIND_GRID';
      const rank = (spot as BlindSpot & { rank: number }).rank;
      const row = el('tr');
      row.dataset.code = spot.code;
      row.dataset.kind = grid ? 'grid' : 'site';
      row.dataset.rank = String(rank);
      row.tabIndex = 0;
      const name = el('td', 'plan-name', el('strong', undefined, spot.name || spot.code));
      if (!grid && spot.category) {
        name.append(el('small', undefined, known(categoryNames, spot.category) ? categories(spot.category as Parameters<typeof categories>[0]) : spot.category));
      }
      const reason = el('span', `plan-reason reason-${spot.reason}`, known(reasons, spot.reason) ? text(spot.reason as Parameters<typeof text>[0]) : spot.reason);
      const score = el('td', 'num', el('strong', undefined, formatNumber(spot.score, 2)));
      score.append(el('small', undefined, grid ? text('shortHa', { ha: formatNumber((spot.uncoveredM2 ?? 0) / 10_000, 1) }) : text('priority', { p: spot.priority ?? 0 })));
      if ((spot.incidents ?? 0) > 0) {
        score.append(el('small', undefined, text('incidents', { n: spot.incidents ?? 0 })));
      }
      row.append(
        el('td', 'num plan-rank', String(rank)),
        name,
        el('td', undefined, el('span', `plan-kind kind-${grid ? 'grid' : 'site'}`, grid ? text('gridKind') : text('siteKind'))),
        el('td', undefined, reason),
        score,
        el('td', 'plan-where', regionName(grid ? spot.code : spot.gridCode)),
      );
      row.addEventListener('click', () => choose(key, 'table'));
      row.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          choose(key, 'table');
        }
      });
      row.addEventListener('mouseenter', () => hover(key));
      row.addEventListener('mouseleave', () => hover(undefined));
      body.append(row);
      rows.set(key, row);
      if (spot.position) {
        const marker = L.circleMarker(latLng(spot.position.lon, spot.position.lat), markerStyle(spot, key));
        marker.bindTooltip(`${rank} · ${spot.name || spot.code}`, { className: 'plan-tooltip', direction: 'top', offset: [0, -16] });
        marker.on('mouseover', () => hover(key));
        marker.on('mouseout', () => hover(undefined));
        marker.on('click', () => choose(key, 'map'));
        marker.addTo(spotLayer);
        markers.set(key, marker);
      }
    });
    if (selected && !rows.has(selected)) {
      selected = undefined;
    }
    if (hovered && !rows.has(hovered)) {
      hovered = undefined;
    }
    highlight();
    restack();
  }

  const spotLoader = latest(
    async () => {
      // Grids come after every key site in the ranking: for grids only, read far enough to reach them.
      const want = kind();
      const answer = await getJson<{ blindSpots?: BlindSpot[] }>('/api/v1/coverage/blindSpots', {
        regionPrefix: region(), includeGrids: want !== 'site', limit: want === 'grid' ? 10_000 : tableRows,
      });
      const ranked = (answer.blindSpots ?? []).map((s, i) => ({ ...s, rank: i + 1 }));
      return (want === 'grid' ? ranked.filter((s) => s.kind === 'BLIND_SPOT_KIND_GRID') : ranked).slice(0, tableRows);
    },
    (value) => {
      spots = value;
      spotsAt = new Date();
      spotsError = undefined;
      stale = false;
    },
    (message) => (spotsError = message),
    () => renderSpots(),
  );
  const loadSpots = spotLoader.load;

  // --- uncovered area ---------------------------------------------------------------------------------------------
  function renderUncovered() {
    uncoveredLayer.clearLayers();
    uncoveredNote.dataset.state = uncoveredError ? 'error' : uncovered ? 'ready' : 'loading';
    uncoveredNote.classList.toggle('plan-error', !!uncoveredError);
    exportUncovered.disabled = !uncovered;
    if (uncoveredError) {
      uncoveredNote.textContent = text('failed', { error: uncoveredError });
      return;
    }
    if (!uncovered) {
      uncoveredNote.textContent = text('loading');
      return;
    }
    const { collection } = uncovered;
    let drawn = 0;
    for (const feature of collection.features) {
      if (!feature.geometry || (feature.properties?.uncovered_m2 ?? 0) <= 0) {
        continue;
      }
      L.geoJSON({ ...feature, geometry: geometryToMap(feature.geometry) } as Feature, {
        style: () => ({ renderer: base.renderer, color: colours.uncovered, weight: 2, opacity: 0.9, fillColor: hatchFill as unknown as string, fillOpacity: 0.6, interactive: false }),
      }).addTo(uncoveredLayer);
      drawn++;
    }
    uncoveredNote.dataset.areaM2 = String(uncovered.areaM2);
    uncoveredNote.dataset.features = String(collection.features.length);
    uncoveredNote.dataset.drawn = String(drawn);
    uncoveredNote.dataset.region = uncovered.region;
    uncoveredNote.dataset.truth = uncovered.truth;
    uncoveredNote.replaceChildren();
    if (uncovered.areaM2 <= 0) {
      uncoveredNote.textContent = text('uncoveredNone');
    } else {
      const share = uncovered.gridArea > 0 ? uncovered.areaM2 / uncovered.gridArea : 0;
      uncoveredNote.append(el('span', 'plan-swatch-hatch'), el('strong', undefined, text('uncoveredTotal', { area: formatArea(uncovered.areaM2), share: formatPercent(share), grids: drawn })));
    }
    restack();
  }

  const loadUncovered = latest(
    async () => {
      const truth = truthSelect.value as Truth;
      const prefix = region();
      const [answer, report] = await Promise.all([
        getJson<{ geojson: string; features: number }>('/api/v1/coverage/map', { uncovered: true, regionPrefix: prefix, truth }),
        getJson<{ summary?: { areaM2?: number } }>('/api/v1/coverage/report', { regionPrefix: prefix }),
      ]);
      const collection = JSON.parse(answer.geojson) as FeatureCollection<Geometry, { uncovered_m2?: number }>;
      const areaM2 = collection.features.reduce((sum, f) => sum + (f.properties?.uncovered_m2 ?? 0), 0);
      return { geojson: answer.geojson, collection, areaM2, gridArea: report.summary?.areaM2 ?? 0, region: prefix, truth };
    },
    (value) => {
      uncovered = value;
      uncoveredError = undefined;
    },
    (message) => (uncoveredError = message),
    () => renderUncovered(),
  ).load;

  // --- placement --------------------------------------------------------------------------------------------------
  function renderPlacement() {
    suggestionLayer.clearLayers();
    list.replaceChildren();
    list.dataset.state = placement?.stale && placementState === 'ready' ? 'stale' : placementState;
    suggestButton.disabled = placementState === 'running';
    exportSuggestions.disabled = !placement || (placement.answer.suggestions ?? []).length === 0;
    placementNote.className = `plan-status${placementState === 'error' ? ' plan-error' : placement?.stale ? ' plan-stale' : ''}`;
    placementNote.textContent = placementState === 'running' ? `⟳ ${text('suggesting')}` : placementState === 'error' ? (placementError ?? '') : placement?.stale ? `⚠ ${text('suggestionsStale')}` : '';
    modelNote.replaceChildren();
    if (!placement) {
      list.dataset.wedges = '0';
      return;
    }
    const { answer } = placement;
    const suggestions = answer.suggestions ?? [];
    const before = answer.uncoveredWeightBefore ?? 0;
    const after = answer.uncoveredWeightAfter ?? 0;
    modelNote.append(
      el('span', undefined, text('model', { hfov: formatNumber(answer.hfovDeg, 1), range: formatNumber(answer.rangeM, 1), candidates: answer.candidates ?? 0 })),
      el('span', undefined, text('weight', { before: formatNumber(before, 1), after: formatNumber(after, 1), share: formatPercent(before > 0 ? (before - after) / before : 0) })),
    );
    if (suggestions.length === 0) {
      list.append(el('li', 'plan-empty', text('noSuggestion')));
    }
    const names = (codes: string[] | undefined) => (codes ?? []).map((c) => siteNames.get(c) ?? c).join('、');
    let wedges = 0;
    for (const s of suggestions) {
      const ring = wedgeRing(s.position.lon, s.position.lat, s.azimuthDeg, answer.hfovDeg, answer.rangeM);
      const wedge = L.polygon(ring.map(([x, y]) => latLng(x, y)), {
        renderer: base.renderer, color: colours.suggestionStroke, weight: 2.5, fillColor: colours.suggestion, fillOpacity: 0.5, interactive: true,
      });
      wedge.on('click', () => focusSuggestion(s.rank));
      wedge.addTo(suggestionLayer);
      wedges++;
      // The number marks the camera at any zoom (a wedge of 30 m is a pixel at county zoom); it stands just behind
      // the camera, opposite where it looks, so that it does not hide a short wedge when zoomed in.
      const behind = toRad(s.azimuthDeg + 180);
      const label = L.marker(latLng(s.position.lon, s.position.lat), {
        icon: L.divIcon({
          className: 'plan-number', html: String(s.rank), iconSize: [30, 30],
          iconAnchor: [15 - 22 * Math.sin(behind), 15 + 22 * Math.cos(behind)],
        }),
        keyboard: false,
      });
      label.on('click', () => focusSuggestion(s.rank));
      label.addTo(suggestionLayer);

      const item = el('li');
      item.dataset.rank = String(s.rank);
      item.dataset.gain = String(s.gain);
      item.dataset.gainAreaM2 = String(s.gainAreaM2);
      item.dataset.lon = String(s.position.lon);
      item.dataset.lat = String(s.position.lat);
      item.tabIndex = 0;
      const lines = el('div', 'plan-gain');
      lines.append(el('div', undefined, el('strong', undefined, text('gainArea', { area: formatArea(s.gainAreaM2) })), el('span', undefined, ` · ${text('gainWeight', { gain: formatNumber(s.gain, 2) })}`)));
      if ((s.sitesCompleted ?? []).length > 0) {
        lines.append(el('small', 'plan-completes', `✔ ${text('completes', { names: names(s.sitesCompleted) })}`));
      }
      if ((s.sitesImproved ?? []).length > 0) {
        lines.append(el('small', undefined, `＋ ${text('improves', { names: names(s.sitesImproved) })}`));
      }
      const where = regionName(s.gridCode);
      if (where) {
        lines.append(el('small', undefined, `${where} · ${formatNumber(s.position.lon, 6)}, ${formatNumber(s.position.lat, 6)} · ${formatNumber(s.azimuthDeg)}°`));
      }
      item.append(el('span', 'plan-number-chip', String(s.rank)), lines);
      item.addEventListener('click', () => focusSuggestion(s.rank));
      item.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          focusSuggestion(s.rank);
        }
      });
      list.append(item);
    }
    list.dataset.wedges = String(wedges);
    list.dataset.region = placement.region;
    restack();
  }

  function focusSuggestion(rank: number) {
    const s = placement?.answer.suggestions?.find((x) => x.rank === rank);
    if (!s) {
      return;
    }
    list.querySelectorAll('li').forEach((li) => li.classList.toggle('selected', li.dataset.rank === String(rank)));
    list.dataset.selected = String(rank);
    send('focus', { lng: s.position.lon, lat: s.position.lat, zoom: 18 });
  }

  function placementQuery(): Record<string, string | number> | string {
    const count = Number(countInput.value);
    if (!Number.isInteger(count) || count < 1 || count > 50) {
      return text('badCount');
    }
    const query: Record<string, string | number> = { regionPrefix: region(), count };
    const lens = lenses[lensSelect.value];
    if (lens) {
      query['lens.focalLengthMm'] = lens.focal;
      query['lens.sensorWidthMm'] = sensorWidthMm;
      query['lens.horizontalPixels'] = horizontalPixels;
    } else {
      const hfov = Number(hfovInput.value);
      const range = Number(rangeInput.value);
      if (!(hfov > 0 && hfov <= 360 && range > 0 && range <= 5000)) {
        return text('badModel');
      }
      query.hfovDeg = hfov;
      query.rangeM = range;
    }
    return query;
  }

  async function suggest() {
    const query = placementQuery();
    if (typeof query === 'string') {
      placementState = 'error';
      placementError = query;
      renderPlacement();
      return;
    }
    placementState = 'running';
    renderPlacement();
    try {
      const answer = await getJson<PlacementAnswer>('/api/v1/coverage/placements', query);
      placement = { answer, region: String(query.regionPrefix), count: Number(query.count), stale: false };
      placementState = 'ready';
      const points = (answer.suggestions ?? []).map((s) => latLng(s.position.lon, s.position.lat));
      if (points.length > 0) {
        map.fitBounds(L.latLngBounds(points).pad(0.3), { maxZoom: 17 });
      }
    } catch (e) {
      placementState = 'error';
      placementError = text('failed', { error: e instanceof ApiError ? e.message : String(e) });
    }
    renderPlacement();
  }

  // --- exports ----------------------------------------------------------------------------------------------------
  const fileRegion = () => region() || 'all';
  async function downloadReport() {
    exportNote.textContent = '';
    exportReport.disabled = true;
    try {
      const file = await getJson<{ contentType: string; fileName: string; content: string }>('/api/v1/coverage/report:export', { regionPrefix: region(), format: 'EXPORT_FORMAT_CSV' });
      const dot = file.fileName.lastIndexOf('.');
      const name = dot > 0 ? `${file.fileName.slice(0, dot)}-${formatDate(new Date())}${file.fileName.slice(dot)}` : `coverage-${fileRegion()}-${formatDate(new Date())}.csv`;
      saveFile(name, file.contentType || 'text/csv; charset=utf-8', file.content);
    } catch (e) {
      exportNote.textContent = text('failed', { error: (e as Error).message });
    } finally {
      exportReport.disabled = false;
    }
  }
  exportReport.addEventListener('click', () => void downloadReport());
  exportUncovered.addEventListener('click', () => {
    if (uncovered) {
      saveFile(`uncovered-${uncovered.region || 'all'}-${uncovered.truth.replace('COVERAGE_TRUTH_', '').toLowerCase()}-${formatDate(new Date())}.geojson`, 'application/geo+json', uncovered.geojson);
    }
  });
  exportSuggestions.addEventListener('click', () => {
    if (placement) {
      const collection = suggestionsGeoJson(placement.answer.suggestions ?? [], placement.answer, placement.region);
      saveFile(`placements-${placement.region || 'all'}-k${placement.count}-${formatDate(new Date())}.geojson`, 'application/geo+json', JSON.stringify(collection, null, 1));
    }
  });

  // --- wiring -----------------------------------------------------------------------------------------------------
  const fitRegion = () => {
    const feature = byCode.get(region());
    if (feature) {
      map.fitBounds(L.geoJSON(feature).getBounds(), { padding: [30, 30] });
    }
  };
  regionSelect.value = counties.length === 1 ? counties[0].properties.code : '';
  regionSelect.addEventListener('change', () => {
    selected = undefined;
    hovered = undefined;
    uncovered = undefined;
    spotsAt = undefined;
    renderSpots();
    renderUncovered();
    if (placement) {
      placement.stale = placement.region !== region() ? true : placement.stale;
      renderPlacement();
    }
    fitRegion();
    void loadSpots();
    void loadUncovered();
  });
  kindSelect.addEventListener('change', () => void loadSpots());
  truthSelect.addEventListener('change', () => {
    uncovered = undefined;
    renderUncovered();
    void loadUncovered();
  });
  lensSelect.addEventListener('change', () => (customFields.hidden = lensSelect.value !== 'custom'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void suggest();
  });

  // Live: mark stale at once (a planner must not read a ranking that no longer holds), reload after a short quiet,
  // at most every minIntervalMs, and never two loads at once.
  const reload = live.reloadAfterChanges(() => Promise.all([loadSpots(), loadUncovered()]).then(() => undefined), debounceMs, minIntervalMs);
  const markStale = () => {
    if (!stale) {
      stale = true;
      renderSpots();
    }
    if (placement && !placement.stale) {
      placement.stale = true;
      renderPlacement();
    }
    reload.schedule();
  };
  live.onEvent((event) => {
    if (!feedKinds.has(event.kind)) {
      return;
    }
    const prefix = region();
    if (!deviceKinds.has(event.kind) && prefix && event.regionCode && !event.regionCode.startsWith(prefix)) {
      return;
    }
    markStale();
  });
  live.onResync(reload.now);

  onLangChange(() => {
    relabel.forEach((f) => f());
    renderSpots();
    renderUncovered();
    renderPlacement();
  });
  relabel.forEach((f) => f());
  renderSpots();
  renderUncovered();
  renderPlacement();
  await reload.now();
}
