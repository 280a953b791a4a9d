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
import { defineMessages, formatNumber, formatPercent, onLangChange } from './i18n';
import * as live from './live';
import { hatch, hatchCss, saveFile, suggestionsGeoJson, today, wedgeRing, type Suggestion } from './planner-geo';
import { can } from './session';
import { addTab, el, showTab } from './sidebar';
import type { ViewContext } from './view';

const text = defineMessages(
  {
    tab: '规划',
    region: '区域',
    allRegions: '全部区域',
    blindSpots: '盲区排名',
    kind: '类型',
    kindAll: '重点部位和网格',
    kindSite: '仅重点部位',
    kindGrid: '仅网格',
    colRank: '序号',
    colName: '名称',
    colKind: '类型',
    colReason: '原因',
    colScore: '分值',
    colRegion: '所在区域',
    siteKind: '重点部位',
    gridKind: '网格',
    'no-camera': '无摄像机',
    'cameras-not-working': '摄像机未工作',
    'needs-more-cameras': '摄像机不足',
    'partly-covered': '部分覆盖',
    'below-target': '低于目标',
    priority: '优先级 {p}',
    shortHa: '缺 {ha} 公顷',
    incidents: '{n} 起事件',
    summary: '共 {n} 处：重点部位 {sites} 处，网格 {grids} 处',
    summaryCut: '显示排名前 {n} 处（重点部位在前，网格在后）',
    none: '该区域没有盲区：重点部位均已覆盖，网格均达到目标。',
    loading: '正在加载……',
    stale: '覆盖已变化，排名已过时，正在刷新……',
    failed: '加载失败：{error}',
    updated: '更新于 {time}',
    uncovered: '未覆盖区域',
    truth: '按',
    truthReal: '实际（工作中的摄像机）',
    truthDeclared: '登记（所有摄像机）',
    truthPotential: '潜在（云台全向）',
    uncoveredTotal: '未覆盖 {area}，占网格面积 {share}（{grids} 个网格）',
    uncoveredNone: '该区域网格已全部覆盖。',
    placement: '补点建议',
    count: '新增摄像机数量',
    lens: '镜头',
    lensWide: '广角 2.8 毫米',
    lensStandard: '标准 4 毫米',
    lensMedium: '中焦 6 毫米',
    lensLong: '中长焦 8 毫米',
    lensTele: '长焦 12 毫米',
    lensCustom: '自定义视场角和距离',
    hfov: '水平视场角（度）',
    range: '有效距离（米）',
    suggest: '计算补点位置',
    suggesting: '正在计算（一次只算一个区域，可能需要几秒）……',
    model: '按镜头：视场角 {hfov}°，有效距离 {range} 米；考虑 {candidates} 个候选位置',
    weight: '未覆盖权重 {before} → {after}（减少 {share}）',
    gainArea: '新增覆盖 {area}',
    gainWeight: '权重 +{gain}',
    completes: '补全：{names}',
    improves: '改善：{names}',
    noSuggestion: '没有能增加覆盖的位置。',
    suggestionsStale: '覆盖已变化，以上建议可能已过时，请重新计算。',
    badCount: '数量须为 1 到 50 的整数',
    badModel: '视场角须在 0 到 360 度之间，有效距离须在 0 到 5000 米之间',
    exports: '导出',
    exportReport: '区域覆盖报告（CSV）',
    exportUncovered: '未覆盖区域（GeoJSON）',
    exportSuggestions: '补点建议（GeoJSON）',
    layerBlindSpots: '盲区（规划）',
    layerUncovered: '未覆盖区域（规划）',
    layerSuggestions: '补点建议（规划）',
    legendSiteSpot: '重点部位盲区',
    legendGridSpot: '网格盲区',
    legendUncovered: '未覆盖区域',
    legendSuggestion: '建议新增摄像机（编号）',
    m2: '{n} 平方米',
    km2: '{n} 平方公里',
  },
  {
    tab: 'Planning',
    region: 'Region',
    allRegions: 'All regions',
    blindSpots: 'Blind-spot ranking',
    kind: 'Kind',
    kindAll: 'Key sites and grids',
    kindSite: 'Key sites only',
    kindGrid: 'Grids only',
    colRank: '#',
    colName: 'Name',
    colKind: 'Kind',
    colReason: 'Reason',
    colScore: 'Score',
    colRegion: 'Region',
    siteKind: 'Key site',
    gridKind: 'Grid',
    'no-camera': 'No camera',
    'cameras-not-working': 'Cameras not working',
    'needs-more-cameras': 'Needs more cameras',
    'partly-covered': 'Partly covered',
    'below-target': 'Below target',
    priority: 'priority {p}',
    shortHa: '{ha} ha short',
    incidents: '{n} incidents',
    summary: '{n} in all: {sites} key sites, {grids} grids',
    summaryCut: 'The top {n} shown (key sites first, then grids)',
    none: 'No blind spots here: every key site is covered and every grid meets its target.',
    loading: 'Loading…',
    stale: 'Coverage changed: the ranking is out of date, reloading…',
    failed: 'Could not load: {error}',
    updated: 'Updated {time}',
    uncovered: 'Uncovered area',
    truth: 'Counting',
    truthReal: 'Real (working cameras)',
    truthDeclared: 'Declared (every camera)',
    truthPotential: 'Potential (PTZ full circle)',
    uncoveredTotal: '{area} uncovered, {share} of the grid area ({grids} grids)',
    uncoveredNone: 'Every grid here is fully covered.',
    placement: 'Placement suggestions',
    count: 'New cameras',
    lens: 'Lens',
    lensWide: 'Wide 2.8 mm',
    lensStandard: 'Standard 4 mm',
    lensMedium: 'Medium 6 mm',
    lensLong: 'Long 8 mm',
    lensTele: 'Telephoto 12 mm',
    lensCustom: 'Custom field of view and range',
    hfov: 'Horizontal field of view (°)',
    range: 'Range (m)',
    suggest: 'Suggest positions',
    suggesting: 'Computing (one region at a time; this can take a few seconds)…',
    model: 'Lens gives {hfov}° field of view, {range} m range; {candidates} candidate positions',
    weight: 'Uncovered weight {before} → {after} ({share} less)',
    gainArea: '+{area} covered',
    gainWeight: 'weight +{gain}',
    completes: 'Completes: {names}',
    improves: 'Improves: {names}',
    noSuggestion: 'No position adds any coverage.',
    suggestionsStale: 'Coverage has changed since: these suggestions may be out of date; compute again.',
    badCount: 'The number must be a whole number from 1 to 50',
    badModel: 'The field of view must be in (0, 360] degrees and the range in (0, 5000] metres',
    exports: 'Export',
    exportReport: 'Region coverage report (CSV)',
    exportUncovered: 'Uncovered area (GeoJSON)',
    exportSuggestions: 'Placement suggestions (GeoJSON)',
    layerBlindSpots: 'Blind spots (planning)',
    layerUncovered: 'Uncovered area (planning)',
    layerSuggestions: 'Suggested cameras (planning)',
    legendSiteSpot: 'Key-site blind spot',
    legendGridSpot: 'Grid blind spot',
    legendUncovered: 'Uncovered area',
    legendSuggestion: 'Suggested new camera (numbered)',
    m2: '{n} m²',
    km2: '{n} km²',
  },
);

const categories = defineMessages(
  {
    checkpoint: '治安卡口', government: '党政机关', station: '车站码头', square: '广场', stadium: '体育场馆',
    commercial: '商业中心', religious: '宗教场所', school: '学校', 'complex-security': '治安复杂区域',
    'traffic-artery': '交通要道', hospital: '医院', intersection: '路口', market: '市场', road: '道路', scenic: '景区',
    other: '其他',
  },
  {
    checkpoint: 'checkpoint', government: 'government', station: 'station', square: 'square', stadium: 'stadium',
    commercial: 'commercial', religious: 'religious site', school: 'school', 'complex-security': 'complex security area',
    'traffic-artery': 'traffic artery', hospital: 'hospital', intersection: 'intersection', market: 'market', road: 'road',
    scenic: 'scenic area', other: 'other',
  },
);

const reasons = ['no-camera', 'cameras-not-working', 'needs-more-cameras', 'partly-covered', 'below-target'];
const categoryNames = ['checkpoint', 'government', 'station', 'square', 'stadium', 'commercial', 'religious', 'school', 'complex-security',
  'traffic-artery', 'hospital', 'intersection', 'market', 'road', 'scenic', 'other'];
/** A value the gateway may extend (a new reason or category) is shown as it comes until the tables know it. */
const known = (names: string[], value: string) => names.includes(value);

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

const toRad = (deg: number) => (deg * Math.PI) / 180;
const formatArea = (m2: number) => (m2 >= 1_000_000 ? text('km2', { n: formatNumber(m2 / 1_000_000, 2) }) : text('m2', { n: formatNumber(m2) }));

function labelled(label: () => string, control: HTMLElement, relabel: (() => void)[]) {
  const node = el('label', 'plan-field');
  const caption = el('span');
  relabel.push(() => (caption.textContent = label()));
  node.append(caption, control);
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
  const countInput = el('input');
  countInput.id = 'plan-count';
  countInput.type = 'number';
  countInput.min = '1';
  countInput.max = '50';
  countInput.step = '1';
  countInput.value = '5';
  countInput.required = true;
  const lensSelect = select('plan-lens', [...Object.entries(lenses).map(([k, v]) => [k, () => text(v.label)] as [string, () => string]), ['custom', () => text('lensCustom')]], relabel);
  lensSelect.value = 'medium';
  const hfovInput = el('input');
  hfovInput.id = 'plan-hfov';
  hfovInput.type = 'number';
  hfovInput.min = '1';
  hfovInput.max = '360';
  hfovInput.value = '90';
  const rangeInput = el('input');
  rangeInput.id = 'plan-range';
  rangeInput.type = 'number';
  rangeInput.min = '1';
  rangeInput.max = '5000';
  rangeInput.value = '60';
  const customFields = el('div', 'plan-custom', labelled(() => text('hfov'), hfovInput, relabel), labelled(() => text('range'), rangeInput, relabel));
  customFields.hidden = true;
  const suggestButton = el('button', 'plan-primary');
  suggestButton.type = 'submit';
  suggestButton.id = 'plan-suggest';
  const form = el('form', 'plan-form', labelled(() => text('count'), countInput, relabel), labelled(() => text('lens'), lensSelect, relabel), customFields, suggestButton);
  form.noValidate = true;
  const placementNote = el('p', 'plan-status');
  placementNote.setAttribute('role', 'status');
  const modelNote = el('p', 'plan-summary');
  const list = el('ol', 'plan-suggestions');
  list.id = 'plan-suggestions';
  list.dataset.state = 'idle';

  // Exports
  const exportReport = el('button', 'plan-export');
  exportReport.type = 'button';
  exportReport.id = 'plan-export-report';
  const exportUncovered = el('button', 'plan-export');
  exportUncovered.type = 'button';
  exportUncovered.id = 'plan-export-uncovered';
  const exportSuggestions = el('button', 'plan-export');
  exportSuggestions.type = 'button';
  exportSuggestions.id = 'plan-export-suggestions';
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
  let spotsGeneration = 0;
  let spotsError: string | undefined;
  let stale = false;
  let selected: string | undefined;
  let hovered: string | undefined;
  const markers = new Map<string, L.CircleMarker>();
  const rows = new Map<string, HTMLTableRowElement>();
  let uncovered: { geojson: string; areaM2: number; grids: number; gridArea: number; region: string; truth: Truth } | undefined;
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
    table.dataset.generation = String(spotsGeneration);
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

  async function loadSpots() {
    const generation = ++spotsGeneration;
    const want = kind();
    try {
      // Grids come after every key site in the ranking: for grids only, read far enough to reach them.
      const answer = await getJson<{ blindSpots?: BlindSpot[] }>('/api/v1/coverage/blindSpots', {
        regionPrefix: region(), includeGrids: want !== 'site', limit: want === 'grid' ? 10_000 : tableRows,
      });
      if (generation !== spotsGeneration) {
        return;
      }
      const ranked = (answer.blindSpots ?? []).map((s, i) => ({ ...s, rank: i + 1 }));
      spots = (want === 'grid' ? ranked.filter((s) => s.kind === 'BLIND_SPOT_KIND_GRID') : ranked).slice(0, tableRows);
      spotsAt = new Date();
      spotsError = undefined;
      stale = false;
    } catch (e) {
      if (generation !== spotsGeneration) {
        return;
      }
      spotsError = (e as Error).message;
    }
    renderSpots();
  }

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
    const collection = JSON.parse(uncovered.geojson) as FeatureCollection<Geometry, { uncovered_m2?: number }>;
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

  let uncoveredGeneration = 0;
  async function loadUncovered() {
    const generation = ++uncoveredGeneration;
    const truth = truthSelect.value as Truth;
    const prefix = region();
    try {
      const [answer, report] = await Promise.all([
        getJson<{ geojson: string; features: number }>('/api/v1/coverage/map', { uncovered: true, regionPrefix: prefix, truth }),
        getJson<{ summary?: { areaM2?: number } }>('/api/v1/coverage/report', { regionPrefix: prefix }),
      ]);
      if (generation !== uncoveredGeneration) {
        return;
      }
      const collection = JSON.parse(answer.geojson) as FeatureCollection<Geometry, { uncovered_m2?: number }>;
      const areaM2 = collection.features.reduce((sum, f) => sum + (f.properties?.uncovered_m2 ?? 0), 0);
      const grids = collection.features.filter((f) => (f.properties?.uncovered_m2 ?? 0) > 0).length;
      uncovered = { geojson: answer.geojson, areaM2, grids, gridArea: report.summary?.areaM2 ?? 0, region: prefix, truth };
      uncoveredError = undefined;
    } catch (e) {
      if (generation !== uncoveredGeneration) {
        return;
      }
      uncoveredError = (e as Error).message;
    }
    renderUncovered();
  }

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
      lines.append(el('strong', undefined, text('gainArea', { area: formatArea(s.gainAreaM2) })), el('span', undefined, ` · ${text('gainWeight', { gain: formatNumber(s.gain, 2) })}`));
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
      const name = dot > 0 ? `${file.fileName.slice(0, dot)}-${today()}${file.fileName.slice(dot)}` : `coverage-${fileRegion()}-${today()}.csv`;
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
      saveFile(`uncovered-${uncovered.region || 'all'}-${uncovered.truth.replace('COVERAGE_TRUTH_', '').toLowerCase()}-${today()}.geojson`, 'application/geo+json', uncovered.geojson);
    }
  });
  exportSuggestions.addEventListener('click', () => {
    if (placement) {
      const collection = suggestionsGeoJson(placement.answer.suggestions ?? [], placement.answer, placement.region);
      saveFile(`placements-${placement.region || 'all'}-k${placement.count}-${today()}.geojson`, 'application/geo+json', JSON.stringify(collection, null, 1));
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
  let timer: number | undefined;
  let lastLoad = 0;
  let loading: Promise<void> | undefined;
  const reload = async () => {
    timer = undefined;
    if (loading) {
      await loading;
    }
    lastLoad = Date.now();
    loading = Promise.all([loadSpots(), loadUncovered()]).then(() => undefined);
    await loading;
    loading = undefined;
  };
  const markStale = () => {
    if (!stale) {
      stale = true;
      renderSpots();
    }
    if (placement && !placement.stale) {
      placement.stale = true;
      renderPlacement();
    }
    if (timer === undefined) {
      timer = window.setTimeout(() => void reload(), Math.max(debounceMs, lastLoad + minIntervalMs - Date.now()));
    }
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
  live.onResync(() => reload());

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
  lastLoad = Date.now();
  await Promise.all([loadSpots(), loadUncovered()]);
}
