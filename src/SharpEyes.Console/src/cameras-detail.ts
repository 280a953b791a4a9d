// One camera's panel in the details tab: what it is (GetDevice), its stream as declared against as measured
// (StreamHealth.GetCameraHealth, differences marked), its online history over 30 days (GetCameraHistory), its latest
// frame (GetSnapshot, shown from a Blob URL that is revoked when the panel goes) and the grids and key sites its wedge
// covers (Coverage.GetCameraCoverage). Each section fills in as its answer comes; one that fails says why in place.
import { ApiError, getJson } from './api';
import type { BaseMap } from './basemap';
import { type CameraStatus, swatch } from './cameras-draw';
import { defineMessages, formatAgo, formatDate, formatNumber, formatPercent, formatTime } from './i18n';
import { jpegUrl, readSnapshot, type Snapshot } from './snapshot';
import type { Session } from './session';
import { el, showDetail } from './sidebar';

const text = defineMessages(
  {
    loading: '正在读取……',
    notAvailable: '暂不可用',
    failed: '读取失败：{error}',
    status_online: '在线 · 正常',
    status_faulty: '在线 · 视频故障',
    status_offline: '离线',
    status_unknown: '从未上线',
    about: '基本信息',
    id: '设备编码',
    name: '名称',
    vendor: '厂商',
    model: '型号',
    kind: '类型',
    DEVICE_KIND_CAMERA: '摄像机',
    DEVICE_KIND_ALARM_DEVICE: '报警设备',
    ptz: '云台（PTZ）',
    yes: '是',
    no: '否',
    position: '位置（WGS-84）',
    view: '朝向 · 视场角 · 距离',
    viewValue: '{azimuth}° · {hfov}° · {range} 米',
    region: '所在区域',
    registered: '注册时间',
    updated: '最近修改',
    lastSeen: '最近在线证据',
    never: '从未',
    stream: '码流：申报与实测',
    field: '项目',
    declared: '申报（主码流）',
    measured: '实测',
    codec: '编码',
    resolution: '分辨率',
    frameRate: '帧率',
    bitrate: '码率',
    kbps: '{value} kbps',
    fps: '{value} 帧/秒',
    differs: '≠ 与申报不符',
    notProbed: '未配置 RTSP 地址：健康状况只来自心跳。',
    neverMeasured: '尚未测量',
    hd: '高清',
    hdValue: '{value}（依据：{source}）',
    hd_measured: '实测',
    hd_declared: '申报',
    faults: '故障',
    faultsNone: '无',
    faultySince: '（自 {since}）',
    'fault_no-signal': '无信号',
    fault_black: '黑屏',
    fault_frozen: '画面冻结',
    'fault_low-detail': '画面模糊',
    lastCheck: '最近一次连通检查',
    checkOk: '正常（{at}）',
    checkFailed: '失败：{failure}（{at}）',
    otherStreams: '其他申报码流',
    history: '30 天在线记录',
    onlineFraction: '在线时间占比 {value}',
    historyFrom: '{date}',
    historyNow: '现在',
    historyLegend: '绿色实心 = 在线，红色斜纹 = 离线，灰色 = 无记录',
    snapshot: '最新画面',
    noFrame: '尚无画面（网关还未从该摄像机抓取过画面）',
    snapshotTaken: '抓取于 {at}',
    snapshotAlt: '{name} 的最新画面',
    notForRole: '规划人员无权查看画面',
    coverage: '覆盖的网格和重点部位',
    grids: '网格（视野面积占比）',
    keySites: '重点部位',
    none: '无',
    working: '计入实际覆盖（在线且无故障）',
    notWorking: '不计入实际覆盖（离线、未上线或故障）',
  },
  {
    loading: 'Loading…',
    notAvailable: 'Not available yet',
    failed: 'Could not load: {error}',
    status_online: 'Online · working',
    status_faulty: 'Online · stream fault',
    status_offline: 'Offline',
    status_unknown: 'Never heard from',
    about: 'About',
    id: 'Device ID',
    name: 'Name',
    vendor: 'Vendor',
    model: 'Model',
    kind: 'Kind',
    DEVICE_KIND_CAMERA: 'Camera',
    DEVICE_KIND_ALARM_DEVICE: 'Alarm device',
    ptz: 'PTZ',
    yes: 'Yes',
    no: 'No',
    position: 'Position (WGS-84)',
    view: 'Heading · field of view · range',
    viewValue: '{azimuth}° · {hfov}° · {range} m',
    region: 'Region',
    registered: 'Registered',
    updated: 'Last changed',
    lastSeen: 'Last evidence of life',
    never: 'Never',
    stream: 'Stream: declared and measured',
    field: 'Field',
    declared: 'Declared (main)',
    measured: 'Measured',
    codec: 'Codec',
    resolution: 'Resolution',
    frameRate: 'Frame rate',
    bitrate: 'Bitrate',
    kbps: '{value} kbps',
    fps: '{value} fps',
    differs: '≠ differs from declared',
    notProbed: 'No RTSP URL: health comes from heartbeats only.',
    neverMeasured: 'Not measured yet',
    hd: 'HD',
    hdValue: '{value} (from the {source} stream)',
    hd_measured: 'measured',
    hd_declared: 'declared',
    faults: 'Faults',
    faultsNone: 'None',
    faultySince: ' (since {since})',
    'fault_no-signal': 'No signal',
    fault_black: 'Black picture',
    fault_frozen: 'Frozen picture',
    'fault_low-detail': 'Blurred / low detail',
    lastCheck: 'Last reachability check',
    checkOk: 'OK ({at})',
    checkFailed: 'Failed: {failure} ({at})',
    otherStreams: 'Other declared streams',
    history: 'Online over 30 days',
    onlineFraction: 'Online {value} of the time',
    historyFrom: '{date}',
    historyNow: 'now',
    historyLegend: 'solid green = online, red hatched = offline, grey = no record',
    snapshot: 'Latest picture',
    noFrame: 'No frame yet (the gateway has not grabbed one from this camera)',
    snapshotTaken: 'Grabbed {at}',
    snapshotAlt: 'Latest picture of {name}',
    notForRole: 'Planners do not see camera pictures',
    coverage: 'Grids and key sites covered',
    grids: 'Grids (share of the wedge)',
    keySites: 'Key sites',
    none: 'None',
    working: 'Counts for real coverage (online, no fault)',
    notWorking: 'Does not count for real coverage (offline, never heard or faulty)',
  },
);

interface Device {
  deviceId: string;
  kind?: string;
  name?: string;
  vendorId?: string;
  model?: string;
  position?: { lon?: number; lat?: number };
  camera?: { azimuthDeg?: number; hfovDeg?: number; rangeM?: number; ptz?: boolean };
  status?: string;
  region?: { gridCode?: string; villageCode?: string; townshipCode?: string; countyCode?: string };
  regionCode?: string;
  registeredAt?: string;
  updatedAt?: string;
  lastSeenAt?: string;
  faulty?: boolean;
  faults?: string[];
}

interface Profile { role?: string; codec?: string; width?: number; height?: number; frameRate?: number; bitrateKbps?: number }
interface Check { at?: string; ok?: boolean; failure?: string }
interface Health {
  status?: string;
  faulty?: boolean;
  faults?: string[];
  faultySince?: string;
  probed?: boolean;
  declared?: Profile[];
  measured?: { codec?: string; width?: number; height?: number; frameRate?: number; bitrateBps?: string | number; measuredAt?: string };
  mismatches?: { field: string; declared?: string; measured?: string }[];
  lastLiveness?: Check;
  hd?: boolean;
  hdSource?: string;
}
interface History { changes?: { at: string; online?: boolean }[]; onlineFraction?: number; since?: string; until?: string }
interface Coverage { working?: boolean; grids?: { gridCode: string; share?: number }[]; keySiteCodes?: string[] }

const knownFaults = ['no-signal', 'black', 'frozen', 'low-detail'];
const statusKey = (s: CameraStatus) => `status_${s}` as const;

/** The object URL of the picture shown now and the panel showing it: revoked when that panel leaves the page. */
let snapshot: { url: string; panel: HTMLElement } | undefined;
let shown: HTMLElement | undefined;
let watching = false;

function revokeWhenGone() {
  if (snapshot && !snapshot.panel.isConnected) {
    URL.revokeObjectURL(snapshot.url);
    snapshot = undefined;
  }
}

const row = (label: string, value: Node | string) => el('div', 'camera-row', el('dt', undefined, label), el('dd', undefined, value));

/** Fills `node` with what `load` answers, `notFound` on a missing status (404), the error otherwise. */
async function section<T>(node: HTMLElement, load: () => Promise<T>, render: (value: T) => Node[], notFound: () => string = () => text('notAvailable'), missingStatuses = [404]) {
  node.replaceChildren(el('p', 'muted', text('loading')));
  try {
    const value = await load();
    node.replaceChildren(...render(value));
    node.dataset.state = 'loaded';
  } catch (e) {
    const missing = e instanceof ApiError && missingStatuses.includes(e.status);
    node.replaceChildren(el('p', missing ? 'muted' : 'error', missing ? notFound() : text('failed', { error: (e as Error).message })));
    node.dataset.state = missing ? 'missing' : 'failed';
  }
}

const camelCase = (s: string) => s.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());

function streamTable(health: Health): Node[] {
  const main = health.declared?.find((p) => p.role === 'STREAM_ROLE_MAIN') ?? health.declared?.[0];
  const m = health.measured;
  const differs = new Set((health.mismatches ?? []).map((x) => camelCase(x.field)));
  const size = (w?: number, h?: number) => (w && h ? `${w}×${h}` : '—');
  const rows: [string, string, string, string][] = [
    ['codec', text('codec'), main?.codec ?? '—', m?.codec ?? '—'],
    ['resolution', text('resolution'), size(main?.width, main?.height), size(m?.width, m?.height)],
    ['frameRate', text('frameRate'), main?.frameRate ? text('fps', { value: main.frameRate }) : '—', m?.frameRate ? text('fps', { value: Math.round(m.frameRate * 10) / 10 }) : '—'],
    ['bitrate', text('bitrate'), main?.bitrateKbps ? text('kbps', { value: main.bitrateKbps }) : '—', Number(m?.bitrateBps ?? 0) > 0 ? text('kbps', { value: Math.round(Number(m!.bitrateBps) / 1000) }) : '—'],
  ];
  const out: Node[] = [];
  if (health.probed === false) {
    out.push(el('p', 'muted', text('notProbed')));
  }
  const table = el('table', 'camera-stream');
  table.append(el('thead', undefined, el('tr', undefined, el('th', undefined, text('field')), el('th', undefined, text('declared')), el('th', undefined, text('measured')))));
  const body = el('tbody');
  for (const [key, label, declared, measured] of rows) {
    const cell = el('td', undefined, measured);
    const tr = el('tr', undefined, el('th', undefined, label), el('td', undefined, declared), cell);
    tr.dataset.field = key;
    if (differs.has(key)) {
      tr.className = 'mismatch';
      cell.append(el('span', 'differs', ` ${text('differs')}`));
    }
    body.append(tr);
  }
  table.append(body);
  out.push(table);
  if (health.probed !== false && !m) {
    out.push(el('p', 'muted', text('neverMeasured')));
  }
  const others = (health.declared ?? []).filter((p) => p !== main);
  const faults = health.faults ?? [];
  const faultText = faults.length
    ? faults.map((f) => (knownFaults.includes(f) ? text(`fault_${f}` as Parameters<typeof text>[0]) : f)).join('、') + (health.faultySince ? text('faultySince', { since: formatTime(health.faultySince) }) : '')
    : text('faultsNone');
  const facts = el('dl', 'camera-facts',
    row(text('hd'), health.hdSource ? text('hdValue', { value: text(health.hd ? 'yes' : 'no'), source: text(health.hdSource === 'measured' ? 'hd_measured' : 'hd_declared') }) : text(health.hd ? 'yes' : 'no')),
    row(text('faults'), el('span', faults.length ? 'fault' : undefined, faultText)));
  if (health.lastLiveness?.at) {
    const c = health.lastLiveness;
    facts.append(row(text('lastCheck'), c.ok ? text('checkOk', { at: formatTime(c.at) }) : text('checkFailed', { failure: c.failure ?? '', at: formatTime(c.at) })));
  }
  if (others.length) {
    facts.append(row(text('otherStreams'), others.map((p) => `${(p.role ?? '').replace('STREAM_ROLE_', '')} ${p.codec ?? ''} ${size(p.width, p.height)} ${p.frameRate ?? ''}`).join('; ')));
  }
  out.push(facts);
  return out;
}

/** 30 days as one bar: online solid green, offline hatched vermillion, no record grey. */
function historyStrip(history: History): Node[] {
  const until = new Date(history.until ?? Date.now()).getTime();
  const since = new Date(history.since ?? until - 30 * 86_400_000).getTime();
  const canvas = document.createElement('canvas');
  const ratio = window.devicePixelRatio || 1;
  const width = 520;
  const height = 34;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  canvas.className = 'camera-history';
  const ctx = canvas.getContext('2d')!;
  ctx.scale(ratio, ratio);
  ctx.fillStyle = '#d9dee4';
  ctx.fillRect(0, 0, width, height);
  const x = (t: number) => ((Math.min(Math.max(t, since), until) - since) / (until - since || 1)) * width;
  const changes = [...(history.changes ?? [])].sort((a, b) => a.at.localeCompare(b.at));
  changes.forEach((c, i) => {
    const from = x(new Date(c.at).getTime());
    const to = i + 1 < changes.length ? x(new Date(changes[i + 1].at).getTime()) : width;
    if (c.online) {
      ctx.fillStyle = '#009e73';
      ctx.fillRect(from, 0, Math.max(1, to - from), height);
    } else {
      ctx.fillStyle = '#d55e00';
      ctx.fillRect(from, 0, Math.max(1, to - from), height);
      ctx.save();
      ctx.beginPath();
      ctx.rect(from, 0, to - from, height);
      ctx.clip();
      ctx.strokeStyle = 'rgba(255,255,255,0.7)';
      ctx.lineWidth = 2;
      for (let s = from - height; s < to; s += 8) {
        ctx.moveTo(s, height);
        ctx.lineTo(s + height, 0);
      }
      ctx.stroke();
      ctx.restore();
    }
  });
  const fraction = history.onlineFraction ?? 0;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', text('onlineFraction', { value: formatPercent(fraction) }));
  return [
    el('p', 'camera-fraction', text('onlineFraction', { value: formatPercent(fraction) })),
    canvas,
    el('div', 'camera-history-axis', el('span', undefined, text('historyFrom', { date: formatDate(new Date(since)) })), el('span', undefined, text('historyNow'))),
    el('p', 'muted small', text('historyLegend')),
  ];
}

function picture(frame: Snapshot, name: string, panel: HTMLElement): Node[] {
  if (!frame.jpeg) {
    return [el('p', 'muted', text('noFrame'))];
  }
  if (!panel.isConnected) {
    return []; // another panel took its place while the frame was read: no URL to leak
  }
  if (snapshot) {
    URL.revokeObjectURL(snapshot.url);
  }
  snapshot = { url: jpegUrl(frame.jpeg), panel };
  const img = document.createElement('img');
  img.className = 'camera-snapshot';
  img.alt = text('snapshotAlt', { name });
  img.src = snapshot.url;
  return [img, el('p', 'muted', text('snapshotTaken', { at: formatTime(frame.takenAt) }))];
}

/**
 * Opens a camera's panel in the details tab (again, to refresh it after a live event): the panel reads the camera
 * afresh each time.
 */
export async function showCamera(deviceId: string, { base, session }: { base: BaseMap; session: Session }) {
  const id = encodeURIComponent(deviceId);
  const names = new Map(base.regions.map((f) => [f.properties.code, f.properties.name]));
  const siteNames = new Map(base.sites.map((f) => [f.properties.code, f.properties.name]));

  const head = el('div', 'camera-status', el('span', 'camera-status-text', text('loading')));
  const about = el('dl', 'camera-facts');
  const stream = el('div', 'camera-section');
  const history = el('div', 'camera-section');
  const snap = el('div', 'camera-section');
  const cover = el('div', 'camera-section');
  stream.dataset.section = 'stream';
  history.dataset.section = 'history';
  snap.dataset.section = 'snapshot';
  cover.dataset.section = 'coverage';
  about.dataset.section = 'about';
  const content = el('div', 'camera-panel',
    head,
    el('h3', undefined, text('about')), about,
    el('h3', undefined, text('stream')), stream,
    el('h3', undefined, text('history')), history,
    el('h3', undefined, text('snapshot')), snap,
    el('h3', undefined, text('coverage')), cover);
  content.dataset.deviceId = deviceId;

  shown = content;
  showDetail(deviceId, content, 'camera', deviceId);
  if (!watching) {
    watching = true;
    new MutationObserver(revokeWhenGone).observe(document.getElementById('pane-detail')!, { childList: true });
  }
  revokeWhenGone();

  const device = getJson<Device>(`/api/v1/devices/${id}`);
  let name = deviceId;
  const work: Promise<void>[] = [
    section(about, () => device, (d) => {
      name = d.name ?? deviceId;
      const title = document.querySelector('#pane-detail .detail-head h2');
      if (title && shown === content) {
        title.textContent = name;
      }
      const status: CameraStatus = d.status === 'DEVICE_STATUS_OFFLINE' ? 'offline' : d.faulty ? 'faulty' : d.status === 'DEVICE_STATUS_ONLINE' ? 'online' : 'unknown';
      head.replaceChildren(swatch(status), el('span', 'camera-status-text', text(statusKey(status))));
      head.dataset.status = status;
      content.dataset.status = status;
      const region = [d.region?.countyCode, d.region?.townshipCode, d.region?.villageCode, d.region?.gridCode]
        .filter((c, i, all): c is string => !!c && all.indexOf(c) === i)
        .map((c) => names.get(c) ?? c)
        .join(' › ');
      const c = d.camera ?? {};
      return [
        row(text('id'), el('code', undefined, d.deviceId)),
        row(text('name'), d.name ?? ''),
        row(text('vendor'), d.vendorId ?? '—'),
        row(text('model'), d.model || '—'),
        row(text('kind'), d.kind ? text(d.kind as 'DEVICE_KIND_CAMERA') : '—'),
        row(text('ptz'), text(c.ptz ? 'yes' : 'no')),
        row(text('position'), `${formatNumber(d.position?.lon ?? 0, 6)}, ${formatNumber(d.position?.lat ?? 0, 6)}`),
        row(text('view'), text('viewValue', { azimuth: Math.round(c.azimuthDeg ?? 0), hfov: Math.round(c.hfovDeg ?? 0), range: Math.round(c.rangeM ?? 0) })),
        row(text('region'), region || (d.regionCode ? names.get(d.regionCode) ?? d.regionCode : '—')),
        row(text('registered'), formatTime(d.registeredAt)),
        row(text('updated'), formatTime(d.updatedAt)),
        row(text('lastSeen'), d.lastSeenAt ? `${formatTime(d.lastSeenAt)} · ${formatAgo(d.lastSeenAt)}` : text('never')),
      ];
    }),
    section(stream, () => getJson<Health>(`/api/v1/streamHealth/cameras/${id}`), streamTable),
    section(history, () => getJson<History>(`/api/v1/streamHealth/cameras/${id}/history`), historyStrip),
    section(cover, () => getJson<Coverage>(`/api/v1/coverage/cameras/${id}`), (c) => {
      const grids = el('ul', 'camera-grids');
      for (const g of c.grids ?? []) {
        const item = el('li', undefined, `${names.get(g.gridCode) ?? g.gridCode} `, el('span', 'muted', `${g.gridCode} · ${formatPercent(g.share ?? 0)}`));
        item.dataset.grid = g.gridCode;
        grids.append(item);
      }
      const sites = el('ul', 'camera-sites');
      for (const code of c.keySiteCodes ?? []) {
        const item = el('li', undefined, `${siteNames.get(code) ?? code} `, el('span', 'muted', code));
        item.dataset.site = code;
        sites.append(item);
      }
      return [
        el('p', c.working ? 'working' : 'not-working', text(c.working ? 'working' : 'notWorking')),
        el('h4', undefined, text('grids')), (c.grids ?? []).length ? grids : el('p', 'muted', text('none')),
        el('h4', undefined, text('keySites')), (c.keySiteCodes ?? []).length ? sites : el('p', 'muted', text('none')),
      ];
    }),
  ];
  if (session.role === 'ROLE_PLANNER') {
    snap.replaceChildren(el('p', 'muted', text('notForRole')));
  } else {
    work.push(section(snap, () => readSnapshot(deviceId), (s) => picture(s, name, content), () => text('noFrame')));
  }
  await Promise.all(work);
  content.dataset.loaded = 'true';
}
