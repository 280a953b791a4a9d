// The console page: signs in (session.ts), draws the county's regions and key sites from the gateway (basemap.ts),
// then starts each view the key's role may use and the live event stream they share (live.ts). Each view lives in
// its own module and adds its own tab (sidebar.ts) and map overlays (basemap.ts).
import 'leaflet/dist/leaflet.css';
import './style.css';
import { loadBaseMap } from './basemap';
import * as cameras from './cameras';
import * as inbox from './inbox';
import * as planner from './planner';
import { lang, onLangChange, setLang } from './i18n';
import * as live from './live';
import { text } from './messages';
import { current, signIn } from './session';
import { addTab } from './sidebar';
import { prepareBaseLayer } from './tiles';
import * as regions from './regions';
import type { ViewContext } from './view';

let status: { key: Parameters<typeof text>[0]; values?: Record<string, string | number> } = { key: 'loading' };

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function render() {
  document.documentElement.lang = lang() === 'zh' ? 'zh-CN' : 'en';
  document.title = text('title');
  element('title').textContent = text('title');
  const toggle = element<HTMLButtonElement>('language');
  toggle.textContent = text('language');
  toggle.setAttribute('aria-label', text('languageLabel'));
  element('status').textContent = text(status.key, status.values);
  element('source').textContent = text('source');
}

function setStatus(key: typeof status.key, values?: Record<string, string | number>) {
  status = { key, values };
  render();
}

const nextFrame = () => new Promise<number>((resolve) => requestAnimationFrame(resolve));

/**
 * The views, each started after the base map (in this order: later ones draw above) with what they need; each adds
 * its tab (sidebar.ts) and overlays (basemap.ts) and answers a promise that settles when it has drawn what it read.
 */
const views: ((context: ViewContext) => Promise<void> | void)[] = [
  // the views, one line each
  regions.mount,
  cameras.mount,
  planner.mount,
  inbox.mount,
];

async function main() {
  element('language').addEventListener('click', () => setLang(lang() === 'zh' ? 'en' : 'zh'));
  onLangChange(render);
  render();
  try {
    await signIn();
    // The stream first (holding its events), then the reads: no change between them is missed (live.ts).
    live.start();
    // The two largest reads start now, beside the base map's, rather than after it is drawn.
    cameras.prefetch();
    regions.prefetch();
    const layersPane = addTab('layers', () => text('layersTab'));
    // The intranet base layer's datum decides every overlay's coordinates: read it before the base map draws.
    const addBaseLayer = await prepareBaseLayer();
    const base = await loadBaseMap(element('map'), layersPane);
    addBaseLayer(base.map);
    if (base.regions.length === 0) {
      setStatus('noGeography');
    } else {
      setStatus('loaded', { regions: base.regions.length, sites: base.sites.length });
    }
    const session = current()!;
    await Promise.all(views.map((view) => view({ base, session })));
    live.release();
    // The canvas renderer draws in the next animation frame; the frame after it is on screen. What the browser tests
    // wait for: the county drawn, with how many features the layers hold.
    await nextFrame();
    await nextFrame();
    const root = document.documentElement;
    root.dataset.regions = String(base.regions.length);
    root.dataset.keySites = String(base.sites.length);
    root.dataset.map = 'drawn';
  } catch (e) {
    setStatus('failed', { error: String((e as Error).message ?? e) });
    document.documentElement.dataset.map = 'failed';
  }
}

void main();
