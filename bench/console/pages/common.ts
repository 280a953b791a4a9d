// What each page shares: the county's data, the colours, and the measuring hooks the runner (run.mjs) calls.
export type Collection = { type: 'FeatureCollection'; features: { type: 'Feature'; properties: Record<string, unknown>; geometry: { type: string; coordinates: unknown } }[] };
export type County = { bbox: [number, number, number, number]; regions: Collection; grids: Collection; sites: Collection; cameras: Collection };

export const statusColour: Record<string, string> = { online: '#1a9850', offline: '#d73027', faulty: '#fc8d59', unknown: '#878787' };

/** The view changes every library makes in turn, in lon/lat and zoom steps from the fitted county. */
export const moves: { dLon: number; dLat: number; dZoom: number }[] = [
  { dLon: 0, dLat: 0, dZoom: 1 }, { dLon: 0.05, dLat: 0, dZoom: 0 }, { dLon: 0, dLat: 0.03, dZoom: 0 }, { dLon: -0.05, dLat: 0, dZoom: 0 },
  { dLon: 0, dLat: -0.03, dZoom: 0 }, { dLon: 0, dLat: 0, dZoom: 1 }, { dLon: 0.02, dLat: 0.01, dZoom: 0 }, { dLon: -0.02, dLat: -0.01, dZoom: 0 },
  { dLon: 0, dLat: 0, dZoom: -1 }, { dLon: 0, dLat: 0, dZoom: -1 },
];

export interface Bench {
  drawnAt?: number;
  error?: string;
  renderer?: string;
  /** Makes move i without animation; resolves with the milliseconds until the map was drawn again. */
  move(i: number): Promise<number>;
  /** Pans a quarter of the screen east over 1 s with the library's animation; resolves with every frame interval. */
  animatedPan(): Promise<number[]>;
  /** Camera k's status changes (online ↔ offline: a live event); resolves with the ms until the map shows it. */
  changeStatus(k: number): Promise<number>;
  /** Finds the features under each of the pixels (a click on the map); ms for each, and how many had a camera. */
  hit(pixels: [number, number][]): { ms: number[]; found: number };
}

declare global {
  interface Window { bench: Bench }
}

export async function loadCounty(): Promise<County> {
  const response = await fetch('county.json');
  return (await response.json()) as County;
}

export const nextFrame = () => new Promise<number>((resolve) => requestAnimationFrame(resolve));

/** Records requestAnimationFrame intervals until stop() resolves. */
export async function frameIntervals(run: () => Promise<void>): Promise<number[]> {
  const intervals: number[] = [];
  let last = await nextFrame();
  let running = true;
  const tick = (t: number) => {
    intervals.push(t - last);
    last = t;
    if (running) {
      requestAnimationFrame(tick);
    }
  };
  requestAnimationFrame(tick);
  await run();
  running = false;
  await nextFrame();
  return intervals;
}

/** Times a hit test at each pixel; the test returns whether it found a camera there. */
export function timeHits(pixels: [number, number][], test: (pixel: [number, number]) => boolean): { ms: number[]; found: number } {
  const ms: number[] = [];
  let found = 0;
  for (const pixel of pixels) {
    const t0 = performance.now();
    found += test(pixel) ? 1 : 0;
    ms.push(performance.now() - t0);
  }
  return { ms, found };
}

export function fail(e: unknown) {
  window.bench = { ...(window.bench ?? {}), error: String((e as Error)?.stack ?? e) } as Bench;
}
