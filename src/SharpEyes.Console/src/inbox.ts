// The incident inbox (operators, admins, and planners read-only): the gateway's incidents (GET /api/v1/incidents),
// open ones first, then by priority (1 highest) and newest first, each row readable from two metres: a priority badge
// in colour and words, the type, where (region names and key sites), when (with the offset) and how long ago, the
// state (new / acknowledged by whom / closed and why) and how many alarms. Live: the feed's INCIDENT_* events
// (live.ts) insert or update rows by incident id at once; an event that repeats what a read already had changes
// nothing (merge() never moves an incident backwards). A new priority-1 incident flashes its row, flags the tab with
// the count of incidents nobody has acknowledged, and beeps (inbox-sound.ts; mute toggle kept in localStorage).
// Open incidents are drawn on the map (one canvas marker each; the urgent and the selected one pulse).
import * as L from 'leaflet';
import { getAllPages } from './api';
import { send } from './bus';
import { latLng } from './basemap';
import { formatAgo, formatTime, onLangChange } from './i18n';
import { type Incident, isAcknowledged, isOpen, isUrgent, priorityOf, actions } from './inbox-actions';
import { badge, showIncident, stateText } from './inbox-detail';
import { beep, muted, setMuted, unlockOnGesture } from './inbox-sound';
import { priorityColour, text, typeClassName } from './inbox-text';
import * as live from './live';
import { can } from './session';
import { addTab, detailShows, el, flagTab, showTab } from './sidebar';
import type { ViewContext } from './view';
import './inbox.css';

type Filter = 'all' | 'open' | 'acknowledged' | 'closed';

/** Rows drawn at most (the rest are counted under the list): the highest-ranked ones. */
const maxRows = 200;
/** Recently closed incidents kept from the closed read (the newest by id). */
const maxClosed = 100;
const tabId = 'inbox';
/** Incidents' markers have a dark ring: key sites (basemap.ts) are red dots with a white one. */
const markerRing = '#10243e';

const incidents = new Map<string, Incident>();
let filter: Filter = 'all';
let closedLoaded = false;
let selected: string | undefined;

/**
 * Folds what the gateway says of an incident into what the page has, never backwards: an event that repeats or
 * predates what a read already had (live.ts hands over the events that came during the reads) changes nothing. Alarms
 * only grow, an acknowledgement stays, a close is final.
 */
export function merge(known: Incident | undefined, next: Incident): Incident {
  if (!known) {
    return next;
  }
  const merged: Incident = { ...known };
  if ((next.alarmCount ?? 0) >= (known.alarmCount ?? 0)) {
    Object.assign(merged, {
      alarmCount: next.alarmCount, highestPriority: next.highestPriority, updatedAt: next.updatedAt ?? known.updatedAt,
      keySites: next.keySites ?? known.keySites, cameraIds: next.cameraIds ?? known.cameraIds,
      alarms: next.alarms?.length ? next.alarms : known.alarms,
    });
  }
  if (next.acknowledgedAt && !known.acknowledgedAt) {
    Object.assign(merged, { acknowledgedAt: next.acknowledgedAt, acknowledgedBy: next.acknowledgedBy, acknowledgeNote: next.acknowledgeNote });
  }
  if (!isOpen(next) && isOpen(known)) {
    Object.assign(merged, { state: next.state, closedAt: next.closedAt, closeReason: next.closeReason });
  }
  return merged;
}

const newestAt = (i: Incident) => Date.parse((isOpen(i) ? i.updatedAt : i.closedAt) ?? i.openedAt ?? '') || 0;

/** Open first, then priority 1 before 4, then newest first; the incident id (growing with opening time) breaks ties. */
export function rank(a: Incident, b: Incident): number {
  return Number(isOpen(b)) - Number(isOpen(a))
    || priorityOf(a) - priorityOf(b)
    || newestAt(b) - newestAt(a)
    || (a.incidentId < b.incidentId ? 1 : -1);
}

function shown(i: Incident): boolean {
  switch (filter) {
    case 'open': return isOpen(i);
    case 'acknowledged': return isOpen(i) && isAcknowledged(i);
    case 'closed': return !isOpen(i);
    default: return true;
  }
}

export async function mount({ base, session }: ViewContext): Promise<void> {
  const names = new Map(base.regions.map((f) => [f.properties.code, f.properties.name]));
  const place = (i: Incident) => {
    const r = i.region ?? {};
    const parts = [r.townshipCode, r.villageCode, r.gridCode].filter((c): c is string => !!c).map((c) => names.get(c) ?? c);
    // Village and grid often share a name: once is enough.
    const unique = parts.filter((p, n) => parts.indexOf(p) === n);
    return unique.length ? unique.join(' · ') : (r.countyCode ? names.get(r.countyCode) ?? text('nowhere') : text('nowhere'));
  };

  const pane = addTab(tabId, () => {
    const waiting = [...incidents.values()].filter((i) => isOpen(i) && !isAcknowledged(i)).length;
    return waiting ? text('tabCount', { count: waiting }) : text('tab');
  });
  // The tab's label is rebuilt by sidebar.ts on a language change; after a count change the page asks it to.
  const tabButton = document.getElementById(`tab-${tabId}`)!;
  const relabelTab = () => {
    const waiting = [...incidents.values()].filter((i) => isOpen(i) && !isAcknowledged(i)).length;
    tabButton.textContent = waiting ? text('tabCount', { count: waiting }) : text('tab');
    tabButton.dataset.count = String(waiting);
  };

  // The filter and the sound toggle.
  const filters: Filter[] = ['all', 'open', 'acknowledged', 'closed'];
  const filterLabel = { all: 'filterAll', open: 'filterOpen', acknowledged: 'filterAcknowledged', closed: 'filterClosed' } as const;
  const filterBar = el('div', 'inbox-filters');
  filterBar.setAttribute('role', 'group');
  const filterButtons = filters.map((f) => {
    const b = el('button', 'inbox-filter');
    b.type = 'button';
    b.dataset.filter = f;
    b.addEventListener('click', () => void choose(f));
    filterBar.append(b);
    return b;
  });
  const sound = el('button', 'inbox-sound');
  sound.type = 'button';
  sound.addEventListener('click', () => {
    setMuted(!muted());
    renderChrome();
  });
  const note = el('p', 'inbox-muted inbox-note');
  const list = el('ol', 'inbox-list');
  list.id = 'inbox-list';
  const more = el('p', 'inbox-muted inbox-more');
  const readOnly = can.handleIncidents() ? '' : el('p', 'inbox-read-only', text('readOnly'));
  pane.append(el('div', 'inbox-bar', filterBar, sound), readOnly, note, list, more);
  unlockOnGesture();

  function renderChrome() {
    filterButtons.forEach((b) => {
      const f = b.dataset.filter as Filter;
      b.textContent = text(filterLabel[f]);
      b.setAttribute('aria-pressed', String(f === filter));
    });
    sound.textContent = muted() ? text('unmute') : text('mute');
    sound.setAttribute('aria-label', text('muteLabel'));
    sound.setAttribute('aria-pressed', String(!muted()));
    if (readOnly) {
      readOnly.textContent = text('readOnly');
    }
  }

  // The map: one canvas marker per open incident (the shared renderer), and a pulsing ring (a DOM marker, one per
  // urgent or selected incident: a handful, never one per camera) that cannot be missed.
  const markers = L.layerGroup();
  const pulses = L.layerGroup();
  base.addOverlay({
    key: 'incidents', label: () => text('layer'), layer: L.layerGroup([markers, pulses]), visible: true,
    legend: [
      { label: () => text('legendP1'), swatch: 'point', fill: priorityColour(1).fill, stroke: markerRing },
      { label: () => text('legendOther'), swatch: 'point', fill: priorityColour(2).fill, stroke: markerRing },
    ],
  });
  const pulse = (i: Incident, className: string) => L.marker(latLng(i.position!.lon, i.position!.lat), {
    icon: L.divIcon({ className: `inbox-pulse ${className}`, html: '', iconSize: [44, 44] }), interactive: false, keyboard: false,
  });
  function renderMap() {
    markers.clearLayers();
    pulses.clearLayers();
    const open = [...incidents.values()].filter((i) => isOpen(i) && i.position).sort(rank).reverse();
    for (const i of open) {
      const p = priorityOf(i);
      const m = L.circleMarker(latLng(i.position!.lon, i.position!.lat), {
        renderer: base.renderer, radius: p === 1 ? 13 : 10, color: markerRing, weight: 4, fillColor: priorityColour(p).fill, fillOpacity: 1,
      });
      m.on('click', () => void open_(i.incidentId));
      markers.addLayer(m);
    }
    open.filter(isUrgent).slice(-50).forEach((i) => pulses.addLayer(pulse(i, 'inbox-pulse-urgent')));
    const chosen = selected ? incidents.get(selected) : undefined;
    if (chosen?.position) {
      pulses.addLayer(pulse(chosen, 'inbox-pulse-selected'));
    }
  }

  // The rows: kept per incident and rebuilt only when what they show changed, so an open form keeps what was typed.
  const rows = new Map<string, { row: HTMLElement; summary: string; actions: string }>();
  const summaryKey = (i: Incident) => JSON.stringify([i.highestPriority, i.alarmCount, i.state, i.acknowledgedAt, i.closeReason, i.updatedAt, i.alarms?.at(-1)?.eventId, formatAgo(i.openedAt ?? new Date()), document.documentElement.lang, place(i), selected === i.incidentId]);
  const actionsKey = (i: Incident) => JSON.stringify([i.state, !!i.acknowledgedAt, document.documentElement.lang]);

  function summaryOf(i: Incident): HTMLElement {
    const p = priorityOf(i);
    const sites = i.keySites ?? [];
    const where = place(i) + (sites.length ? ` · ${sites[0].name}${sites.length > 1 ? ` +${sites.length - 1}` : ''}` : '');
    const state = !isOpen(i) ? 'closed' : isAcknowledged(i) ? 'acknowledged' : 'new';
    return el('div', 'inbox-summary',
      el('div', 'inbox-line1', badge(p), el('span', 'inbox-type', typeClassName(i.typeClass ?? '')), el('span', 'inbox-count', text(i.alarmCount === 1 ? 'alarm' : 'alarms', { count: i.alarmCount ?? 0 }))),
      el('div', 'inbox-place', where),
      i.alarms?.at(-1)?.description ? el('div', 'inbox-description', i.alarms.at(-1)!.description!) : '',
      el('div', 'inbox-when', el('span', undefined, text('opened', { time: formatTime(i.openedAt, false) })), el('strong', 'inbox-ago', formatAgo(i.openedAt ?? new Date()))),
      el('div', `inbox-state inbox-state-${state}`, stateText(i)));
  }

  function rowOf(i: Incident): HTMLElement {
    const s = summaryKey(i);
    const a = actionsKey(i);
    let entry = rows.get(i.incidentId);
    if (!entry) {
      const row = el('li', 'inbox-row');
      row.tabIndex = 0;
      row.dataset.incidentId = i.incidentId;
      row.addEventListener('click', () => void open_(i.incidentId));
      row.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && e.target === row) {
          void open_(i.incidentId);
        }
      });
      row.append(el('div'), el('div'));
      entry = { row, summary: '', actions: '' };
      rows.set(i.incidentId, entry);
    }
    const { row } = entry;
    if (entry.summary !== s) {
      row.firstElementChild!.replaceWith(summaryOf(i));
      entry.summary = s;
    }
    if (entry.actions !== a) {
      row.lastElementChild!.replaceWith(actions(i, applied));
      entry.actions = a;
    }
    const state = !isOpen(i) ? 'closed' : isAcknowledged(i) ? 'acknowledged' : 'new';
    row.dataset.state = state;
    row.dataset.priority = String(priorityOf(i));
    row.dataset.alarms = String(i.alarmCount ?? 0);
    row.dataset.lastEventId = i.alarms?.at(-1)?.eventId ?? row.dataset.lastEventId ?? '';
    row.classList.toggle('inbox-urgent', isUrgent(i));
    row.classList.toggle('inbox-closed', state === 'closed');
    row.classList.toggle('inbox-selected', selected === i.incidentId);
    row.style.setProperty('--priority', priorityColour(priorityOf(i)).fill);
    return row;
  }

  let scheduled = false;
  function render() {
    scheduled = false;
    renderChrome();
    const all = [...incidents.values()].filter(shown).sort(rank);
    const wanted = all.slice(0, maxRows).map(rowOf);
    const same = wanted.length === list.children.length && wanted.every((r, n) => list.children[n] === r);
    if (!same) {
      list.replaceChildren(...wanted);
    }
    for (const id of rows.keys()) {
      if (!incidents.has(id)) {
        rows.delete(id);
      }
    }
    note.textContent = all.length === 0 ? text(incidents.size === 0 ? 'empty' : 'emptyFilter') : filter === 'closed' && !closedLoaded ? text('loadingClosed') : '';
    more.textContent = all.length > maxRows ? text('more', { count: all.length - maxRows }) : '';
    relabelTab();
    flagTab(tabId, [...incidents.values()].some(isUrgent));
    renderMap();
    const root = document.documentElement;
    root.dataset.inboxRows = String(wanted.length);
    root.dataset.inboxUrgent = String([...incidents.values()].filter(isUrgent).length);
  }
  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(render);
    }
  };

  /** An incident as the gateway now tells it (a read, an event, an answer): true when it became urgent. */
  function apply(next: Incident): boolean {
    const before = incidents.get(next.incidentId);
    const after = merge(before, next);
    incidents.set(next.incidentId, after);
    if (detailShows('incident', next.incidentId) && JSON.stringify(before) !== JSON.stringify(after)) {
      void open_(next.incidentId, false);
    }
    schedule();
    return isUrgent(after) && !(before && isUrgent(before));
  }
  function applied(next: Incident) {
    apply(next);
  }

  async function open_(id: string, switchTab = true) {
    const incident = incidents.get(id);
    if (!incident) {
      return;
    }
    selected = id;
    schedule();
    if (!switchTab && !detailShows('incident', id)) {
      return;
    }
    await showIncident(incident, { place, applied, focus });
  }

  function focus(i: Incident) {
    if (!i.position) {
      return;
    }
    selected = i.incidentId;
    schedule();
    // basemap.ts flies the map there.
    send('focus', { lng: i.position.lon, lat: i.position.lat, zoom: Math.max(base.map.getZoom(), 16) });
  }

  async function readOpen() {
    const open = await getAllPages<Incident, { incidents?: Incident[]; nextPageToken?: string }>(
      '/api/v1/incidents', { state: 'INCIDENT_STATE_OPEN', pageSize: 1000 }, (p) => p.incidents);
    open.forEach(apply);
  }

  async function readClosed() {
    const closed = await getAllPages<Incident, { incidents?: Incident[]; nextPageToken?: string }>(
      '/api/v1/incidents', { state: 'INCIDENT_STATE_CLOSED', pageSize: 1000 }, (p) => p.incidents);
    // Ids grow with opening time: the last ones are the newest.
    closed.slice(-maxClosed).forEach(apply);
    closedLoaded = true;
    schedule();
  }

  async function choose(f: Filter) {
    filter = f;
    schedule();
    if (f === 'closed' && !closedLoaded) {
      await readClosed();
    }
  }

  live.onEvent((event) => {
    if (!event.kind.startsWith('FEED_EVENT_KIND_INCIDENT_') || !event.incident) {
      return;
    }
    const urgent = apply(event.incident as unknown as Incident);
    if (urgent) {
      beep();
    }
  });
  live.onResync(async () => {
    incidents.clear();
    await readOpen();
    if (closedLoaded) {
      await readClosed();
    }
  });
  onLangChange(schedule);
  // "3 minutes ago" moves on by itself.
  window.setInterval(schedule, 15_000);

  await readOpen();
  render();
  // The duty officer's screen opens on the inbox; admins and planners keep the first tab.
  if (session.role === 'ROLE_OPERATOR') {
    showTab(tabId);
  }
  document.documentElement.dataset.inbox = 'loaded';
}
