// The panel beside the map: one tab per view (layers, incidents, planning, details), each built by its module. A
// module adds its tab; the details tab is shared: whatever was clicked last (a camera, a region, an incident) shows
// there, with a way back to the tab it came from.
import { defineMessages, onLangChange } from './i18n';

const text = defineMessages({ back: '返回', close: '关闭' }, { back: 'Back', close: 'Close' });

interface Tab {
  id: string;
  label: () => string;
  button: HTMLButtonElement;
  pane: HTMLElement;
}

const tabs: Tab[] = [];
let active: string | undefined;
let previous: string | undefined;

const bar = () => document.getElementById('tabs')!;
const panes = () => document.getElementById('panes')!;

function renderLabels() {
  for (const tab of tabs) {
    tab.button.textContent = tab.label();
  }
}
onLangChange(renderLabels);

/** Adds a tab and answers its pane (an empty section the module fills). The first tab added is shown. */
export function addTab(id: string, label: () => string): HTMLElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.id = `tab-${id}`;
  button.setAttribute('role', 'tab');
  button.addEventListener('click', () => showTab(id));
  const pane = document.createElement('section');
  pane.id = `pane-${id}`;
  pane.className = 'pane';
  pane.setAttribute('role', 'tabpanel');
  pane.hidden = true;
  bar().append(button);
  panes().append(pane);
  tabs.push({ id, label, button, pane });
  renderLabels();
  if (!active) {
    showTab(id);
  }
  return pane;
}

export function showTab(id: string) {
  if (active && active !== id && active !== 'detail') {
    previous = active;
  }
  active = id;
  for (const tab of tabs) {
    const on = tab.id === id;
    tab.pane.hidden = !on;
    tab.button.setAttribute('aria-selected', String(on));
    tab.button.classList.toggle('active', on);
  }
}

/** Marks a tab as wanting attention (a new priority-1 incident) until it is shown. */
export function flagTab(id: string, on: boolean) {
  tabs.find((t) => t.id === id)?.button.classList.toggle('flagged', on);
}

let detailPane: HTMLElement | undefined;

/**
 * Shows `content` in the details tab under `title`; `kind` and `id` name what it is (data-detail-kind/-id, for tests
 * and for modules that refresh it when a live event changes that subject).
 */
export function showDetail(title: string, content: Node, kind: string, id: string) {
  detailPane ??= addTab('detail', () => (document.documentElement.lang === 'en' ? 'Details' : '详情'));
  detailPane.replaceChildren();
  detailPane.dataset.detailKind = kind;
  detailPane.dataset.detailId = id;
  const head = document.createElement('div');
  head.className = 'detail-head';
  const back = document.createElement('button');
  back.type = 'button';
  back.className = 'back';
  back.textContent = `← ${text('back')}`;
  back.addEventListener('click', () => showTab(previous ?? tabs[0].id));
  const h = document.createElement('h2');
  h.textContent = title;
  head.append(back, h);
  detailPane.append(head, content);
  showTab('detail');
}

/** What the details tab shows now, for a module deciding whether a live event should refresh it. */
export const detailShows = (kind: string, id: string) =>
  active === 'detail' && detailPane?.dataset.detailKind === kind && detailPane?.dataset.detailId === id;

/** A small helper for modules building panels: an element with a class and text or children. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  node.append(...children);
  return node;
}
