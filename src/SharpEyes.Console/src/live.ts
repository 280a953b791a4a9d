// The gateway's feed, live, over server-sent events (GET /api/events, docs/console-api.md): one EventSource for the
// page, the feed sequence as the event id so a reconnect resumes exactly after the last event seen, and a banner that
// shows at once when the connection is down and how long ago the last event came. A connection that delivers nothing,
// not even a heartbeat, for twice the heartbeat interval counts as dead and is replaced (with ?after= the last id).
// When the gateway answers that the position is gone (410: deleted by retention; 416: ahead of the feed, a restored
// store), events were lost to this page: the modules reload what they show (onResync) and the stream starts afresh.
import { defineMessages, formatAgo, formatTime, onLangChange } from './i18n';

export interface FeedEvent {
  sequence: string;
  kind: string;
  occurredAt?: string;
  regionCode?: string;
  reason?: string;
  incident?: Record<string, unknown>;
  device?: Record<string, unknown>;
  coverageGap?: Record<string, unknown>;
  cameraHealth?: Record<string, unknown>;
}

export const kinds = [
  'INCIDENT_OPENED', 'INCIDENT_UPDATED', 'INCIDENT_CLOSED', 'INCIDENT_ACKNOWLEDGED',
  'DEVICE_REGISTERED', 'DEVICE_ONLINE', 'DEVICE_OFFLINE', 'DEVICE_DEREGISTERED',
  'COVERAGE_GAP_OPENED', 'COVERAGE_GAP_CLOSED', 'CAMERA_FAULTY', 'CAMERA_REPAIRED',
].map((k) => `FEED_EVENT_KIND_${k}`);

const text = defineMessages(
  {
    connecting: '正在连接实时数据……',
    live: '实时连接正常 · 最近事件 {ago}',
    liveNoEvent: '实时连接正常',
    down: '实时连接已断开（{since}起）· 最近事件 {ago} · 正在重连……',
    downNoEvent: '实时连接已断开（{since}起）· 正在重连……',
    resynced: '部分事件已不在网关保留期内，已重新加载当前数据',
  },
  {
    connecting: 'Connecting to live data…',
    live: 'Live · last event {ago}',
    liveNoEvent: 'Live',
    down: 'Live connection DOWN since {since} · last event {ago} · reconnecting…',
    downNoEvent: 'Live connection DOWN since {since} · reconnecting…',
    resynced: 'Some events were past the gateway\'s retention: what the page shows was reloaded',
  },
);

type Handler = (event: FeedEvent) => void;
const handlers: Handler[] = [];
const resyncHandlers: (() => Promise<void> | void)[] = [];

/**
 * A view's reload after live changes: the first change waits `quietMs` so that a burst is read once, reloads come at
 * most every `minIntervalMs` (a county-wide power cut sends thousands of events), and never two at once. `now()`
 * reloads at once (the first read, a resync), counting toward the interval.
 */
export function reloadAfterChanges(load: () => Promise<void>, quietMs: number, minIntervalMs: number) {
  let timer: number | undefined;
  let lastLoad = 0;
  let loading: Promise<void> | undefined;
  const now = async () => {
    timer = undefined;
    if (loading) {
      await loading;
    }
    lastLoad = Date.now();
    loading = load();
    try {
      await loading;
    } finally {
      loading = undefined;
    }
  };
  const schedule = () => {
    if (timer === undefined) {
      timer = window.setTimeout(() => void now(), Math.max(quietMs, lastLoad + minIntervalMs - Date.now()));
    }
  };
  return { now, schedule };
}

/** Every feed event, in sequence order, once. */
export const onEvent = (handler: Handler) => handlers.push(handler);
/** Events were lost to the page (retention, a restored store): reload what you show. */
export const onResync = (handler: () => Promise<void> | void) => resyncHandlers.push(handler);

let source: EventSource | undefined;
let lastId: string | undefined;
let lastEventAt: Date | undefined;
let downSince: Date | undefined = new Date();
let connected = false;
let heartbeatSeconds = 10;
let quiet: number | undefined;
let retry: number | undefined;
let attempts = 0;
let stopped = false;

function banner() {
  const node = document.getElementById('live')!;
  const ago = lastEventAt ? formatAgo(lastEventAt) : '';
  if (connected) {
    node.className = 'live-up';
    node.textContent = lastEventAt ? text('live', { ago }) : text('liveNoEvent');
  } else if (lastId === undefined && !lastEventAt && attempts === 0) {
    node.className = 'live-connecting';
    node.textContent = text('connecting');
  } else {
    node.className = 'live-down';
    const since = formatTime(downSince ?? new Date());
    node.textContent = lastEventAt ? text('down', { since, ago }) : text('downNoEvent', { since });
  }
  document.documentElement.dataset.live = connected ? 'up' : 'down';
  if (lastId !== undefined) {
    document.documentElement.dataset.lastSequence = lastId;
  }
}

function markDown() {
  if (connected || !downSince) {
    downSince = new Date();
  }
  connected = false;
  banner();
}

function alive() {
  window.clearTimeout(quiet);
  quiet = window.setTimeout(() => {
    // Nothing for two heartbeats: the connection is dead even if the browser has not noticed.
    markDown();
    reconnect();
  }, 2 * heartbeatSeconds * 1000);
}

function reconnect() {
  source?.close();
  source = undefined;
  window.clearTimeout(retry);
  if (stopped) {
    return;
  }
  // Backoff 1, 2, 4 … 15 s; the first try at once.
  const delay = attempts === 0 ? 0 : Math.min(15_000, 1000 * 2 ** Math.min(attempts - 1, 4));
  attempts++;
  retry = window.setTimeout(connect, delay);
}

async function recover() {
  // The EventSource closed: a refusal (401/403: the session; 410/416: the position; 429: too many streams) or the
  // gateway gone. Ask the session endpoint which: a 401 there signs the page out (api.ts).
  try {
    // The same request, read only for its status: a refusal is answered before any event, a stream is aborted.
    const abort = new AbortController();
    const response = await fetch(lastId === undefined ? '/api/events' : `/api/events?after=${lastId}`, { cache: 'no-store', signal: abort.signal });
    abort.abort();
    if (response.status === 410 || response.status === 416) {
      lastId = undefined;
      for (const handler of resyncHandlers) {
        await handler();
      }
      const node = document.getElementById('live-note');
      if (node) {
        node.textContent = text('resynced');
      }
    } else if (response.status === 401) {
      await fetch('/api/session', { cache: 'no-store' });
      stopped = true;
      return;
    }
  } catch {
    // the gateway is unreachable: try again with backoff
  }
  reconnect();
}

/** Events received before the views had read what they show: dispatched by release(), in order. */
let held: FeedEvent[] | undefined = [];

function dispatch(event: FeedEvent) {
  for (const handler of handlers) {
    try {
      handler(event);
    } catch (error) {
      console.error(error);
    }
  }
}

/**
 * The views have read what they show: hands them the events that came meanwhile (which they apply by id, so an event
 * already in what they read changes nothing), then every event as it comes.
 */
export function release() {
  const queue = held ?? [];
  held = undefined;
  queue.forEach(dispatch);
}

function connect() {
  if (stopped) {
    return;
  }
  const es = new EventSource(lastId === undefined ? '/api/events' : `/api/events?after=${lastId}`);
  source = es;
  es.addEventListener('ready', (e) => {
    const ready = JSON.parse((e as MessageEvent).data) as { heartbeatSeconds?: number; lastSequence?: number };
    heartbeatSeconds = ready.heartbeatSeconds ?? heartbeatSeconds;
    lastId ??= (e as MessageEvent).lastEventId;
    connected = true;
    downSince = undefined;
    attempts = 0;
    banner();
    alive();
  });
  es.addEventListener('heartbeat', () => alive());
  es.addEventListener('end', (e) => {
    const end = JSON.parse((e as MessageEvent).data) as { reconnect?: boolean };
    if (!end.reconnect) {
      es.close();
      void recover();
    }
  });
  for (const kind of kinds) {
    es.addEventListener(kind, (e) => {
      const message = e as MessageEvent;
      lastId = message.lastEventId;
      const event = JSON.parse(message.data) as FeedEvent;
      // When it came (the browser's clock), not when it happened: the banner speaks of the connection.
      lastEventAt = new Date();
      alive();
      if (held) {
        held.push(event);
      } else {
        dispatch(event);
      }
      banner();
    });
  }
  es.onerror = () => {
    markDown();
    if (es.readyState === EventSource.CLOSED) {
      window.clearTimeout(quiet);
      void recover();
    }
  };
}

/**
 * Starts the stream from now, before the views read what they show, holding its events until release(): nothing
 * committed between their reads and the stream's start is missed.
 */
export function start() {
  stopped = false;
  banner();
  onLangChange(banner);
  // The "n minutes ago" in the banner moves on by itself.
  window.setInterval(banner, 15_000);
  connect();
}

export function stop() {
  stopped = true;
  window.clearTimeout(quiet);
  window.clearTimeout(retry);
  source?.close();
  connected = false;
}
