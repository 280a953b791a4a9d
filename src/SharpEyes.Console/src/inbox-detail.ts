// One incident in the details tab: its summary and controls, its region, key sites, every alarm still stored
// (GET /api/v1/incidents/{id}), and the cameras that see it (the incident's own camera ids; for an incident without
// any, the cameras whose field of view contains its position, GET /api/v1/geography:locate), each with its snapshot
// one click away (GET /api/v1/streamHealth/cameras/{id}/snapshot: JPEG bytes as base64, shown from a blob: URL) and a
// way to open the camera's own panel (bus 'show-camera').
import { ApiError, getJson } from './api';
import { send } from './bus';
import { formatAgo, formatNumber, formatTime } from './i18n';
import { actions, type Alarm, type Incident, isAcknowledged, isOpen, type KeySiteRef, priorityOf } from './inbox-actions';
import { alarmTypeName, priorityColour, priorityName, text, typeClassName } from './inbox-text';
import { current } from './session';
import { jpegUrl, readSnapshot } from './snapshot';
import { el, showDetail } from './sidebar';

export interface DetailContext {
  /** The region's names, finest first ("grid · village · township"). */
  place: (incident: Incident) => string;
  /** Applies what the gateway answered to an acknowledge or close. */
  applied: (incident: Incident) => void;
  /** Moves the map to the incident and marks it. */
  focus: (incident: Incident) => void;
}

/** Blob URLs of the snapshots shown, released when the details tab shows something else. */
let blobs: string[] = [];

function release() {
  blobs.forEach((u) => URL.revokeObjectURL(u));
  blobs = [];
}

export function badge(priority: number): HTMLElement {
  const b = el('span', `inbox-badge inbox-p${priority}`, priorityName(priority));
  const colour = priorityColour(priority);
  b.style.background = colour.fill;
  b.style.color = colour.ink;
  return b;
}

export function stateText(incident: Incident): string {
  if (!isOpen(incident)) {
    return text('stateClosed', { reason: incident.closeReason || '—' });
  }
  if (isAcknowledged(incident)) {
    return text('stateAcknowledged', { who: incident.acknowledgedBy?.keyId ?? '—' });
  }
  return text('stateNew');
}

const row = (dl: HTMLElement, term: string, value: Node | string) => dl.append(el('dt', undefined, term), el('dd', undefined, value));

function siteLine(site: KeySiteRef): string {
  const distance = site.distanceM ? text('metres', { m: formatNumber(site.distanceM) }) : text('inside');
  return text('keySiteLine', { name: site.name, category: site.category ?? '', distance });
}

/** The alarms, newest first, one block each (a table would not fit the panel's width at a wall screen's type size). */
function alarmList(alarms: Alarm[], total: number): HTMLElement {
  const list = el('ol', 'inbox-alarms');
  for (const alarm of [...alarms].reverse()) {
    const item = el('li', undefined,
      el('div', 'inbox-alarm-head', badge(alarm.priority || 4), el('strong', undefined, alarmTypeName(alarm.method ?? 0, alarm.type ?? 0)), el('span', 'inbox-nowrap', formatTime(alarm.occurredAt))),
      el('div', 'inbox-alarm-description', alarm.description || text('noDescription')),
      el('div', 'inbox-muted', `${text('alarmDevice')} ${alarm.deviceId}`));
    item.dataset.eventId = alarm.eventId;
    list.append(item);
  }
  const box = el('div', undefined, list);
  if (alarms.length < total) {
    box.append(el('p', 'inbox-muted', text('olderAlarms')));
  }
  return box;
}

function snapshotButton(deviceId: string): HTMLElement {
  const holder = el('div', 'inbox-snapshot');
  const open = el('button', 'inbox-snapshot-button', text('snapshot'));
  open.type = 'button';
  let shown = false;
  open.addEventListener('click', async () => {
    if (shown) {
      holder.querySelector('figure, .inbox-muted, .inbox-error')?.remove();
      open.textContent = text('snapshot');
      shown = false;
      return;
    }
    open.disabled = true;
    try {
      const snap = await readSnapshot(deviceId);
      const url = jpegUrl(snap.jpeg ?? '');
      blobs.push(url);
      const img = el('img');
      img.src = url;
      img.alt = deviceId;
      holder.append(el('figure', undefined, img, el('figcaption', undefined, text('snapshotTaken', { time: formatTime(snap.takenAt) }))));
    } catch (e) {
      const message = e instanceof ApiError && e.status === 404 ? text('noFrame') : text('snapshotFailed', { message: (e as Error).message });
      holder.append(el('p', e instanceof ApiError && e.status === 404 ? 'inbox-muted' : 'inbox-error', message));
    } finally {
      open.disabled = false;
      open.textContent = text('hideSnapshot');
      shown = true;
    }
  });
  holder.prepend(open);
  return holder;
}

async function cameraList(incident: Incident): Promise<HTMLElement> {
  let ids = incident.cameraIds ?? [];
  let located = false;
  if (ids.length === 0 && incident.position) {
    try {
      const found = await getJson<{ cameraIds?: string[] }>('/api/v1/geography:locate', { lon: incident.position.lon, lat: incident.position.lat });
      ids = found.cameraIds ?? [];
      located = true;
    } catch {
      // No answer: the incident's own (empty) list stands.
    }
  }
  const section = el('section', 'inbox-cameras', el('h3', undefined, text(located ? 'camerasLocated' : 'cameras')));
  if (ids.length === 0) {
    section.append(el('p', 'inbox-muted', text('noCameras')));
    return section;
  }
  // GetSnapshot is not for planners (the gateway's access table): they get the camera, not its picture.
  const snapshots = current()?.role !== 'ROLE_PLANNER';
  const names = await Promise.all(ids.slice(0, 20).map((id) => getJson<{ name?: string }>(`/api/v1/devices/${encodeURIComponent(id)}`).then((d) => d.name ?? '', () => '')));
  const list = el('ul', 'inbox-camera-list');
  ids.forEach((id, i) => {
    const show = el('button', 'inbox-show-camera', text('showCamera'));
    show.type = 'button';
    show.addEventListener('click', () => send('show-camera', { deviceId: id }));
    const item = el('li', undefined, el('div', 'inbox-camera-name', el('strong', undefined, names[i] || id), names[i] ? el('span', 'inbox-muted', id) : ''),
      el('div', 'inbox-camera-buttons', ...(snapshots ? [snapshotButton(id)] : []), show));
    item.dataset.deviceId = id;
    list.append(item);
  });
  section.append(list);
  return section;
}

/** Shows the incident in the details tab, reading its alarms first. */
export async function showIncident(summary: Incident, context: DetailContext) {
  release();
  const title = () => text('detailTitle', { type: typeClassName(summary.typeClass ?? ''), place: context.place(summary) });
  const body = el('div', 'inbox-detail');
  body.dataset.incidentId = summary.incidentId;
  body.append(el('p', 'inbox-muted', text('loadingDetail')));
  showDetail(title(), body, 'incident', summary.incidentId);
  let incident = summary;
  try {
    incident = { ...summary, ...(await getJson<Incident>(`/api/v1/incidents/${encodeURIComponent(summary.incidentId)}`)) };
  } catch (e) {
    body.replaceChildren(el('p', 'inbox-error', text('detailFailed', { message: (e as Error).message })));
    return;
  }
  const facts = el('dl', 'inbox-facts');
  const priority = priorityOf(incident);
  row(facts, text('priority'), badge(priority));
  row(facts, text('state'), el('span', `inbox-state inbox-state-${!isOpen(incident) ? 'closed' : isAcknowledged(incident) ? 'acknowledged' : 'new'}`, stateText(incident)));
  row(facts, text('type'), typeClassName(incident.typeClass ?? ''));
  row(facts, text('region'), context.place(incident));
  row(facts, text('openedAt'), `${formatTime(incident.openedAt)} (${formatAgo(incident.openedAt ?? new Date())})`);
  row(facts, text('updatedAt'), formatTime(incident.updatedAt));
  if (incident.acknowledgedAt) {
    row(facts, text('acknowledgedAt'), `${formatTime(incident.acknowledgedAt)} · ${incident.acknowledgedBy?.keyId ?? ''}`);
    if (incident.acknowledgeNote) {
      row(facts, text('ackNote'), incident.acknowledgeNote);
    }
  }
  if (incident.closedAt) {
    row(facts, text('closedAt'), formatTime(incident.closedAt));
  }
  const onMap = el('button', 'inbox-on-map', text('showOnMap'));
  onMap.type = 'button';
  onMap.addEventListener('click', () => context.focus(incident));
  const sites = el('section', 'inbox-sites', el('h3', undefined, text('keySites')));
  const siteList = incident.keySites ?? [];
  sites.append(siteList.length === 0 ? el('p', 'inbox-muted', text('noKeySites')) : el('ul', undefined, ...siteList.map((s) => el('li', undefined, siteLine(s)))));
  const alarms = el('section', undefined, el('h3', undefined, text('alarmList')), alarmList(incident.alarms ?? [], incident.alarmCount ?? 0));
  body.replaceChildren(
    el('section', undefined, facts, incident.position ? onMap : ''),
    actions(incident, context.applied),
    sites,
    alarms,
    el('p', 'inbox-muted', text('loadingDetail')),
  );
  body.lastChild!.replaceWith(await cameraList(incident));
  if (incident.position) {
    context.focus(incident);
  }
}
