// Regions by real coverage: every level-4 grid coloured by the share of its area working cameras see against its own
// target (GET /api/v1/coverage/grids), key sites coloured covered or not (GET /api/v1/coverage/keySites), both kept
// current from the feed (COVERAGE_GAP_OPENED/CLOSED events recolour at once; camera status events reload, at most
// once every reloadSeconds). Click a grid, or ask for any region over the bus ('show-region'): its KPIs beside the
// national targets (GET /api/v1/coverage/report) with their trend over the last 30 days (GET /api/v1/coverage/history).
// Grids only, not villages or townships, on the map: coverage is measured and targeted per grid, and an average over
// a village would hide its worst grid. A village's, township's or the county's figures are one click away in the panel.
import * as L from 'leaflet';
import type { Feature, Geometry } from 'geojson';
import './regions.css';
import { ApiError, getJson } from './api';
import type { RegionFeature } from './basemap';
import { listen } from './bus';
import { hatch } from './hatch';
import { defineMessages, formatNumber, formatPercent, formatTime, onLangChange } from './i18n';
import * as live from './live';
import { trendChart, type TrendPoint } from './regions-chart';
import { addTab, detailShows, el, showDetail } from './sidebar';
import type { ViewContext } from './view';

const text = defineMessages(
  {
    tab: '覆盖',
    coverageLayer: '网格覆盖率（实际）',
    siteLayer: '重点部位覆盖',
    met: '达到目标',
    below: '低于目标',
    far: '远低于目标（不足一半）',
    none: '无可用摄像机',
    siteCovered: '重点部位：已覆盖',
    siteUncovered: '重点部位：未覆盖（缺口）',
    summaryTitle: '全县覆盖',
    gridsByClass: '网格（按实际覆盖率对比目标）',
    sitesTitle: '重点部位',
    sitesCovered: '{covered} / {total} 已覆盖',
    gapsOpen: '当前覆盖缺口：{grids} 个网格、{sites} 个重点部位',
    countyKpis: '查看全县指标',
    updated: '更新于 {at}',
    loadFailed: '覆盖数据加载失败：{error}',
    level1: '县',
    level2: '乡镇',
    level3: '村（社区）',
    level4: '网格',
    gridLine: '实际覆盖 {real}，目标 {target}',
    counts: '摄像机 {cameras} 台（可用 {working}）· 重点部位 {covered}/{sites} 已覆盖 · 低于目标的网格 {gaps} 个',
    key_site_coverage: '重点部位覆盖率',
    area_coverage: '区域覆盖率',
    online_rate: '在线率（按数量）',
    online_rate_time: '在线率（按时长，24 小时）',
    serviceability: '完好率',
    hd_rate: '高清率',
    target: '国家目标 ≥ {target}',
    noTarget: '无国家目标',
    nothingToCount: '无可统计对象（0 个），不计达标',
    areaNoTarget: '无国家目标（各网格目标见地图）',
    metMark: '✓ 达标',
    notMetMark: '✗ 未达标',
    unitSites: '{n} / {d} 个重点部位',
    unitArea: '{n} / {d} 平方千米',
    unitCameras: '{n} / {d} 台摄像机',
    unitHours: '{n} / {d} 摄像机·小时',
    unitSeconds: '{n} / {d} 摄像机·秒',
    trendTitle: '近 30 天趋势（虚线为目标）',
    trendSpan: '{since} 至 {until}，{points} 个快照',
    noHistory: '暂无历史数据：网关每小时记录一次各区域指标，首个快照之后即可显示趋势。',
    historyFailed: '趋势数据加载失败：{error}',
    detailFailed: '区域指标加载失败：{error}',
    parents: '上级区域',
    chartTitle: '{kpi}近 30 天趋势',
  },
  {
    tab: 'Coverage',
    coverageLayer: 'Grid coverage (real)',
    siteLayer: 'Key-site coverage',
    met: 'Target met',
    below: 'Below target',
    far: 'Far below target (under half)',
    none: 'No working camera',
    siteCovered: 'Key site: covered',
    siteUncovered: 'Key site: NOT covered (gap)',
    summaryTitle: 'County coverage',
    gridsByClass: 'Grids (real coverage against target)',
    sitesTitle: 'Key sites',
    sitesCovered: '{covered} / {total} covered',
    gapsOpen: 'Open coverage gaps: {grids} grids, {sites} key sites',
    countyKpis: 'County KPIs',
    updated: 'Updated {at}',
    loadFailed: 'Could not load coverage: {error}',
    level1: 'County',
    level2: 'Township',
    level3: 'Village',
    level4: 'Grid',
    gridLine: 'Real coverage {real}, target {target}',
    counts: 'Cameras: {cameras} ({working} working) · key sites covered: {covered}/{sites} · grids below target: {gaps}',
    key_site_coverage: 'Key-site coverage',
    area_coverage: 'Area coverage',
    online_rate: 'Online rate (by count)',
    online_rate_time: 'Online rate (by time, 24 h)',
    serviceability: 'Serviceability',
    hd_rate: 'HD rate',
    target: 'National target ≥ {target}',
    noTarget: 'No national target',
    nothingToCount: 'Nothing to count (0): not judged',
    areaNoTarget: 'No national target (grid targets on the map)',
    metMark: '✓ Met',
    notMetMark: '✗ Not met',
    unitSites: '{n} / {d} key sites',
    unitArea: '{n} / {d} km²',
    unitCameras: '{n} / {d} cameras',
    unitHours: '{n} / {d} camera-hours',
    unitSeconds: '{n} / {d} camera-seconds',
    trendTitle: 'Last 30 days (dashed: target)',
    trendSpan: '{since} to {until}, snapshots: {points}',
    noHistory: 'No history yet: the gateway records every region\'s KPIs hourly; the trend shows after the first snapshot.',
    historyFailed: 'Could not load the trend: {error}',
    detailFailed: 'Could not load the region\'s KPIs: {error}',
    parents: 'Parent regions',
    chartTitle: '{kpi}, last 30 days',
  },
);

/** How a grid's real coverage stands against its target. */
export type CoverageClass = 'met' | 'below' | 'far' | 'none';

interface GridCoverage {
  code: string;
  name?: string;
  areaM2?: number;
  realFraction?: number;
  target?: number;
  gap?: boolean;
  cameras?: number;
  camerasWorking?: number;
}

interface SiteCoverage {
  code: string;
  name?: string;
  gridCode?: string;
  coveredReal?: boolean;
}

interface Kpi {
  name: string;
  value?: number;
  target?: number;
  met?: boolean;
  numerator?: string | number;
  denominator?: string | number;
}

interface RegionCoverage {
  code?: string;
  name?: string;
  level?: number;
  realFraction?: number;
  keySites?: number;
  keySitesCoveredReal?: number;
  cameras?: number;
  camerasWorking?: number;
  gridGaps?: number;
  kpis?: Kpi[];
}

interface CoverageReport {
  summary?: RegionCoverage;
  computedAt?: string;
}

interface KpiHistory {
  points?: { at: string; kpis?: Kpi[] }[];
}

interface GapEvent {
  kind?: string;
  code?: string;
  gridCode?: string;
  open?: boolean;
  realFraction?: number;
  threshold?: number;
  camerasWorking?: number;
}

/** A grid's class: met unless the gateway calls it a gap; a gap with no working camera is the worst. */
export function classOf(grid: GridCoverage): CoverageClass {
  if (!grid.gap) {
    return 'met';
  }
  if ((grid.camerasWorking ?? 0) === 0) {
    return 'none';
  }
  return (grid.realFraction ?? 0) >= (grid.target ?? 0) / 2 ? 'below' : 'far';
}

// Blue / amber / orange-red, distinct in luminance for red-green colour blindness too; the worst class is also hatched
// and outlined heavier. Read from 2 m: strong fills, a legend row with words for each.
const classColours: Record<CoverageClass, { fill: string; opacity: number; stroke: string; weight: number }> = {
  met: { fill: '#2c7fb8', opacity: 0.35, stroke: '#1d5f8c', weight: 1 },
  below: { fill: '#fec44f', opacity: 0.6, stroke: '#b07d12', weight: 1 },
  far: { fill: '#e6550d', opacity: 0.6, stroke: '#9c3a08', weight: 1.5 },
  // Most of a county starts here: a light fill with thin hatching keeps names and incidents readable on top of it.
  none: { fill: '#e34a33', opacity: 0.3, stroke: '#7f0000', weight: 2 },
};
// Key sites: blue when covered, black with a white ring when not (it stands out on every grid colour, red included).
const siteColours = { covered: '#2c7fb8', uncovered: '#111111' };
const classes: CoverageClass[] = ['met', 'below', 'far', 'none'];
/** The hatching of the worst class as the legend swatch draws it (CSS) and as the canvas fills it (a pattern). */
const hatchCss = `repeating-linear-gradient(45deg, ${classColours.none.fill} 0 9px, #7f0000 9px 11px)`;

/** The KPIs shown, in order (the report also has the declared variants). */
const shownKpis = ['key_site_coverage', 'area_coverage', 'online_rate', 'online_rate_time', 'serviceability', 'hd_rate'] as const;
type ShownKpi = (typeof shownKpis)[number];

/** At most one reload of the whole coverage per this many seconds for camera status events (gap events apply at once). */
const reloadSeconds = 10;

const num = (value: string | number | undefined) => Number(value ?? 0);

function kpiAmounts(kpi: Kpi): string {
  const n = num(kpi.numerator);
  const d = num(kpi.denominator);
  switch (kpi.name as ShownKpi) {
    case 'key_site_coverage':
      return text('unitSites', { n: formatNumber(n), d: formatNumber(d) });
    case 'area_coverage':
      return text('unitArea', { n: formatNumber(n / 1e6, 2), d: formatNumber(d / 1e6, 2) });
    case 'online_rate_time':
      // Camera-seconds: in hours once there is an hour to count, else in seconds (a camera registered a minute ago).
      return d >= 3600 ? text('unitHours', { n: formatNumber(n / 3600, 1), d: formatNumber(d / 3600, 1) }) : text('unitSeconds', { n: formatNumber(n), d: formatNumber(d) });
    default:
      return text('unitCameras', { n: formatNumber(n), d: formatNumber(d) });
  }
}

const readCoverage = () => Promise.all([
  getJson<{ grids?: GridCoverage[] }>('/api/v1/coverage/grids'),
  getJson<{ sites?: SiteCoverage[] }>('/api/v1/coverage/keySites'),
]);

let early: ReturnType<typeof readCoverage> | undefined;

/** Starts reading the coverage while the base map is read and drawn (main.ts, after sign-in); the first load takes it. */
export function prefetch() {
  early ??= readCoverage();
  early.catch(() => {}); // a failure is the first load's to report
}

export async function mount({ base }: ViewContext): Promise<void> {
  const { map, renderer } = base;
  const root = document.documentElement;
  const grids = new Map<string, GridCoverage>();
  const sites = new Map<string, SiteCoverage>();
  const regionsByCode = new Map(base.regions.map((f) => [f.properties.code, f]));
  let computedAt: string | undefined;
  let loadError: string | undefined;
  // The worst class: thin dark stripes on its own light fill.
  const hatched = hatch('#7f0000', 12, 1.5, classColours.none.fill);

  // The grids' layer, made before any read so it keeps its place under the overlays of the views started after this.
  const gridShapes = new Map<string, L.Path>();
  const gridLayer = L.geoJSON(base.regions.filter((f) => f.properties.level === 4), {
    style: () => ({ renderer, fill: false, stroke: false, interactive: true }),
    onEachFeature: (f: RegionFeature, layer) => {
      gridShapes.set(f.properties.code, layer as L.Path);
      layer.on('click', () => void showRegion(f.properties.code, false));
    },
  });
  const styleGrid = (code: string) => {
    const shape = gridShapes.get(code);
    const grid = grids.get(code);
    if (!shape || !grid) {
      return;
    }
    const cls = classOf(grid);
    const c = classColours[cls];
    // A CanvasPattern is a valid fill for Leaflet's canvas renderer (it assigns fillStyle); the type says string.
    shape.setStyle({ fill: true, stroke: true, fillColor: (cls === 'none' ? hatched : c.fill) as string, fillOpacity: c.opacity, color: c.stroke, weight: c.weight, opacity: 0.9 });
  };

  // Key sites, drawn over the base map's plain markers at the same places: an area site's polygon and its ring, a
  // point site's dot, coloured covered or not; an uncovered one is larger.
  const siteShapes = new Map<string, L.Path[]>();
  const siteLayer = L.layerGroup();
  const siteSample: Record<string, [number, number]> = {};
  for (const f of base.sites) {
    const shapes: L.Path[] = [];
    const shape = L.geoJSON(f as Feature<Geometry>, { style: () => ({ renderer, interactive: false }), pointToLayer: (_, at) => L.circleMarker(at, { renderer, interactive: false }) });
    const centre = shape.getBounds().getCenter();
    if (f.geometry.type === 'Point') {
      shape.eachLayer((l) => shapes.push(l as L.Path));
    } else {
      shape.eachLayer((l) => shapes.push(l as L.Path));
      shapes.push(L.circleMarker(centre, { renderer, interactive: false }));
    }
    shapes.forEach((s) => siteLayer.addLayer(s));
    siteShapes.set(f.properties.code, shapes);
    if (Object.keys(siteSample).length < 50) {
      siteSample[f.properties.code] = [centre.lng, centre.lat];
    }
  }
  // What the page drew where, in the map's datum: the browser test compares it with the gateway's own conversion.
  root.dataset.siteSample = JSON.stringify(siteSample);
  const styleSite = (code: string) => {
    const site = sites.get(code);
    const shapes = siteShapes.get(code);
    if (!site || !shapes) {
      return;
    }
    const covered = !!site.coveredReal;
    for (const shape of shapes) {
      if (shape instanceof L.CircleMarker) {
        shape.setStyle({ color: '#ffffff', weight: covered ? 2.5 : 3, fillColor: covered ? siteColours.covered : siteColours.uncovered, fillOpacity: 1 });
        shape.setRadius(covered ? 8 : 10);
      } else {
        shape.setStyle({ color: covered ? siteColours.covered : '#ffffff', weight: covered ? 2 : 3, fillColor: covered ? siteColours.covered : siteColours.uncovered, fillOpacity: 0.75 });
      }
    }
  };

  // The region shown in the panel, outlined on the map.
  const selection = L.layerGroup();

  base.addOverlay({
    key: 'coverage', label: () => text('coverageLayer'), layer: L.layerGroup([gridLayer, selection]), visible: true,
    legend: [
      ...classes.map((cls) => ({
        label: () => text(cls), swatch: 'area' as const, fill: cls === 'none' ? hatchCss : classColours[cls].fill, stroke: classColours[cls].stroke,
      })),
    ],
  });
  base.addOverlay({
    key: 'siteCoverage', label: () => text('siteLayer'), layer: siteLayer, visible: true,
    legend: [
      { label: () => text('siteCovered'), swatch: 'point', fill: siteColours.covered, stroke: '#ffffff' },
      { label: () => text('siteUncovered'), swatch: 'point', fill: siteColours.uncovered, stroke: '#ffffff' },
    ],
  });
  // Borders over the fills: the county's and townships' lines stay readable through the coverage colours.
  for (const layer of [base.regionLayers.townships, base.regionLayers.county]) {
    if (map.hasLayer(layer)) {
      layer.bringToFront();
    }
  }

  // The tab: the county at a glance.
  const pane = addTab('coverage', () => text('tab'));
  const renderSummary = () => {
    const counts: Record<CoverageClass, number> = { met: 0, below: 0, far: 0, none: 0 };
    for (const grid of grids.values()) {
      counts[classOf(grid)]++;
    }
    const covered = [...sites.values()].filter((s) => s.coveredReal).length;
    const list = el('ul', 'coverage-classes');
    for (const cls of classes) {
      const swatch = el('span', `swatch swatch-area coverage-swatch-${cls}`);
      const count = el('strong', 'coverage-count', formatNumber(counts[cls]));
      const row = el('li', undefined, swatch, count, el('span', undefined, text(cls)));
      row.dataset.class = cls;
      list.append(row);
    }
    const county = base.regions.find((f) => f.properties.level === 1);
    const button = el('button', 'coverage-county', text('countyKpis'));
    button.type = 'button';
    button.hidden = !county;
    button.addEventListener('click', () => county && void showRegion(county.properties.code, true));
    pane.replaceChildren(
      el('h2', undefined, text('summaryTitle')),
      ...(loadError ? [el('p', 'coverage-error', text('loadFailed', { error: loadError }))] : []),
      el('h3', undefined, text('gridsByClass')),
      list,
      el('h3', undefined, text('sitesTitle')),
      el('p', 'coverage-sites', text('sitesCovered', { covered: formatNumber(covered), total: formatNumber(sites.size) })),
      el('p', undefined, text('gapsOpen', { grids: formatNumber(grids.size - counts.met), sites: formatNumber(sites.size - covered) })),
      button,
      el('p', 'coverage-updated', text('updated', { at: formatTime(computedAt) })),
    );
  };

  // What the browser tests read: each grid's class and the key sites not covered, as drawn.
  let loads = 0;
  const publish = () => {
    root.dataset.gridClasses = [...grids.values()].map((g) => `${g.code}:${classOf(g)}`).join(',');
    root.dataset.sitesUncovered = [...sites.values()].filter((s) => !s.coveredReal).map((s) => s.code).join(',');
    root.dataset.coverageLoads = String(loads);
    renderSummary();
  };

  async function load() {
    try {
      const [gridAnswer, siteAnswer] = await (early ?? readCoverage());
      early = undefined;
      grids.clear();
      for (const grid of gridAnswer.grids ?? []) {
        grids.set(grid.code, grid);
      }
      sites.clear();
      for (const site of siteAnswer.sites ?? []) {
        sites.set(site.code, site);
      }
      computedAt = new Date().toISOString();
      loadError = undefined;
      loads++;
      grids.forEach((_, code) => styleGrid(code));
      sites.forEach((_, code) => styleSite(code));
    } catch (e) {
      loadError = (e as Error).message;
    }
    publish();
    if (shown && detailShows('region', shown)) {
      void showRegion(shown, false, true);
    }
  }

  // Camera status changes move coverage: reload, but at most once every reloadSeconds (a county-wide power cut
  // sends thousands of events), and half a second after the first so a burst is read once.
  const reload = live.reloadAfterChanges(load, 500, reloadSeconds * 1000);

  const applyGap = (gap: GapEvent) => {
    if (!gap.code) {
      return;
    }
    if (gap.kind === 'COVERAGE_GAP_KIND_GRID') {
      const grid = grids.get(gap.code) ?? { code: gap.code };
      grids.set(gap.code, { ...grid, gap: !!gap.open, realFraction: gap.realFraction ?? 0, camerasWorking: gap.camerasWorking ?? 0, target: gap.threshold ?? grid.target });
      styleGrid(gap.code);
    } else if (gap.kind === 'COVERAGE_GAP_KIND_KEY_SITE') {
      const site = sites.get(gap.code) ?? { code: gap.code };
      sites.set(gap.code, { ...site, coveredReal: !gap.open });
      styleSite(gap.code);
    }
    computedAt = new Date().toISOString();
    publish();
    // The panel's figures are a report's: read it again (throttled) when the change is inside the region shown.
    if (shown && (gap.gridCode ?? gap.code).startsWith(shown) && detailShows('region', shown)) {
      reload.schedule();
    }
  };

  live.onEvent((event) => {
    switch (event.kind) {
      case 'FEED_EVENT_KIND_COVERAGE_GAP_OPENED':
      case 'FEED_EVENT_KIND_COVERAGE_GAP_CLOSED':
        applyGap((event.coverageGap ?? {}) as GapEvent);
        break;
      case 'FEED_EVENT_KIND_DEVICE_ONLINE':
      case 'FEED_EVENT_KIND_DEVICE_OFFLINE':
      case 'FEED_EVENT_KIND_DEVICE_REGISTERED':
      case 'FEED_EVENT_KIND_DEVICE_DEREGISTERED':
      case 'FEED_EVENT_KIND_CAMERA_FAULTY':
      case 'FEED_EVENT_KIND_CAMERA_REPAIRED':
        reload.schedule();
        break;
      default:
        break;
    }
  });
  live.onResync(reload.now);

  // The details of one region.
  let shown: string | undefined;
  let rendered: { code: string; report: CoverageReport; history: KpiHistory | null | Error } | undefined;

  const levelName = (level: number | undefined) => (level && level >= 1 && level <= 4 ? text(`level${level}` as 'level1') : '');

  function renderDetail() {
    if (!rendered) {
      return;
    }
    const { code, report, history } = rendered;
    const summary = report.summary ?? {};
    const body = el('div', 'region-detail');
    body.dataset.code = code;
    body.append(el('p', 'region-kind', `${levelName(summary.level)} · ${code}`));
    const grid = grids.get(code);
    if (grid) {
      const cls = classOf(grid);
      const line = el('p', `region-class region-class-${cls}`, el('span', `swatch swatch-area coverage-swatch-${cls}`), el('span', undefined, `${text(cls)} · ${text('gridLine', { real: formatPercent(grid.realFraction ?? 0), target: formatPercent(grid.target ?? 0) })}`));
      line.dataset.class = cls;
      body.append(line);
    }
    body.append(el('p', 'region-counts', text('counts', {
      cameras: formatNumber(summary.cameras ?? 0), working: formatNumber(summary.camerasWorking ?? 0),
      covered: formatNumber(summary.keySitesCoveredReal ?? 0), sites: formatNumber(summary.keySites ?? 0), gaps: formatNumber(summary.gridGaps ?? 0),
    })));

    // The trend: each KPI's values over the span, oldest first.
    const points = history && !(history instanceof Error) ? history.points ?? [] : [];
    // The 30 days up to the last snapshot (the gateway's clock, not the browser's).
    const spanEnd = points.length > 0 ? new Date(points[points.length - 1].at).getTime() : Date.now();
    const since = Math.min(spanEnd - 30 * 86_400_000, points.length > 0 ? new Date(points[0].at).getTime() : spanEnd);
    const series = (name: string): TrendPoint[] =>
      points.flatMap((p) => {
        const kpi = p.kpis?.find((k) => k.name === name);
        return kpi ? [{ at: new Date(p.at).getTime(), value: kpi.value ?? 0 }] : [];
      });

    const cards = el('div', 'kpi-cards');
    for (const name of shownKpis) {
      const kpi = summary.kpis?.find((k) => k.name === name);
      if (!kpi) {
        continue;
      }
      const target = kpi.target ?? 0;
      // A count over nothing is 1 in the API (0 of 0 key sites); a duty officer must not read it as 100 % met.
      const empty = num(kpi.denominator) === 0;
      const state = empty ? 'no-data' : target > 0 ? (kpi.met ? 'met' : 'not-met') : 'no-target';
      const card = el('div', `kpi-card kpi-${state}`);
      card.dataset.kpi = name;
      card.dataset.value = String(kpi.value ?? 0);
      card.dataset.met = String(!!kpi.met);
      card.dataset.numerator = String(num(kpi.numerator));
      card.dataset.denominator = String(num(kpi.denominator));
      card.append(
        el('h3', undefined, text(name)),
        el('p', 'kpi-value', empty ? '—' : formatPercent(kpi.value ?? 0), ...(target > 0 && !empty ? [el('span', 'kpi-mark', kpi.met ? text('metMark') : text('notMetMark'))] : [])),
        el('p', 'kpi-target', empty ? text('nothingToCount') : target > 0 ? text('target', { target: formatPercent(target) }) : text(name === 'area_coverage' ? 'areaNoTarget' : 'noTarget')),
        el('p', 'kpi-amounts', kpiAmounts(kpi)),
      );
      if (points.length > 0) {
        card.append(trendChart(series(name), {
          since, until: spanEnd, target, colour: state === 'not-met' ? '#c1121f' : '#1d5f8c',
          topLabel: (top) => formatPercent(top, top < 0.1 ? 1 : 0), title: text('chartTitle', { kpi: text(name) }),
        }));
      }
      cards.append(card);
    }
    body.append(cards);

    const trend = el('div', 'region-trend');
    if (history instanceof Error) {
      trend.append(el('p', 'trend-empty', text('historyFailed', { error: history.message })));
    } else if (points.length === 0) {
      trend.append(el('p', 'trend-empty', text('noHistory')));
    } else {
      trend.append(el('p', 'trend-note', `${text('trendTitle')} · ${text('trendSpan', { since: formatTime(points[0].at, false), until: formatTime(points[points.length - 1].at, false), points: formatNumber(points.length) })}`));
    }
    trend.dataset.points = String(points.length);
    body.insertBefore(trend, cards);

    // The regions above this one: codes are prefixes (county 6, township 9, village 12 digits).
    const parents = [6, 9, 12].filter((n) => n < code.length).map((n) => regionsByCode.get(code.slice(0, n))).filter((f): f is RegionFeature => !!f);
    if (parents.length > 0) {
      const links = el('p', 'region-parents', `${text('parents')}: `);
      for (const parent of parents) {
        const button = el('button', 'region-parent', `${levelName(parent.properties.level)} ${parent.properties.name}`);
        button.type = 'button';
        button.addEventListener('click', () => void showRegion(parent.properties.code, true));
        links.append(button);
      }
      body.append(links);
    }
    body.append(el('p', 'coverage-updated', text('updated', { at: formatTime(report.computedAt) })));
    const name = summary.name ?? regionsByCode.get(code)?.properties.name ?? code;
    showDetail(name, body, 'region', code);
  }

  async function loadHistory(code: string): Promise<KpiHistory | null | Error> {
    try {
      return await getJson<KpiHistory>('/api/v1/coverage/history', { regionCode: code });
    } catch (e) {
      // 404: no history for this region yet; 403 or 404 from a gateway without KPI history (an unknown route).
      return e instanceof ApiError && (e.status === 403 || e.status === 404) ? null : (e as Error);
    }
  }

  async function showRegion(code: string, focus: boolean, refresh = false) {
    shown = code;
    const feature = regionsByCode.get(code);
    if (!refresh) {
      selection.clearLayers();
      if (feature) {
        const outline = L.geoJSON(feature as Feature<Geometry>, { style: () => ({ renderer, interactive: false, fill: false, color: '#000000', weight: 4, dashArray: '10 6' }) });
        selection.addLayer(outline);
        if (focus) {
          map.fitBounds(outline.getBounds(), { padding: [60, 60], maxZoom: 16 });
        }
      }
    }
    try {
      const [report, history] = await Promise.all([getJson<CoverageReport>('/api/v1/coverage/report', { regionPrefix: code }), loadHistory(code)]);
      if (shown !== code) {
        return;
      }
      rendered = { code, report, history };
      renderDetail();
    } catch (e) {
      if (!refresh) {
        showDetail(feature?.properties.name ?? code, el('p', 'coverage-error', text('detailFailed', { error: (e as Error).message })), 'region', code);
      }
    }
  }

  listen('show-region', ({ code }) => void showRegion(code, true));
  onLangChange(() => {
    renderSummary();
    if (rendered && detailShows('region', rendered.code)) {
      renderDetail();
    }
  });

  await reload.now();
}
