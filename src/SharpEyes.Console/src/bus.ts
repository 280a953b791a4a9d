// How one view asks another to show something without importing it: the inbox opens a camera's panel, the planner's
// table moves the map to a key site. The module that can show a subject listens for its message.
export interface Messages {
  /** Open a camera's panel (cameras.ts). */
  'show-camera': { deviceId: string };
  /** Open a region's panel (regions.ts). */
  'show-region': { code: string };
  /** Move the map to a point (WGS-84) at a zoom. */
  'focus': { lng: number; lat: number; zoom?: number };
}

const target = new EventTarget();

export function send<K extends keyof Messages>(name: K, detail: Messages[K]) {
  target.dispatchEvent(new CustomEvent(name, { detail }));
}

export function listen<K extends keyof Messages>(name: K, handler: (detail: Messages[K]) => void) {
  target.addEventListener(name, (e) => handler((e as CustomEvent<Messages[K]>).detail));
}
