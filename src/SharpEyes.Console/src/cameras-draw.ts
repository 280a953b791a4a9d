// How cameras are drawn on the map's one canvas (basemap.ts's renderer), never as DOM nodes. Each camera is a small
// Leaflet CircleMarker that draws nothing itself: it is what the renderer hit-tests (a click within 3 px) and what
// bounds the redraw when its status changes (only its few pixels are redrawn). One CameraLayer paints every camera in
// one pass, copying a sprite of its status's shape; the shape says the status as well as the colour does, for
// colour-blind eyes and across a room. Fields of view (wedges) and PTZ cameras' potential circles are likewise one
// object each (SectorLayer) that draws every visible camera's sector, below the markers or above them.
// Leaflet 1.9.4's canvas internals used here (_ctx, _drawing, _bounds, _redrawBounds, _requestRedraw, _point,
// _radius): the version is pinned in package-lock.json; bench/console measures the same renderer.
import * as L from 'leaflet';

export type CameraStatus = 'online' | 'faulty' | 'offline' | 'unknown';
export const statuses: CameraStatus[] = ['online', 'faulty', 'offline', 'unknown'];

/** What the map needs of a camera (ListDevices' map view, or a feed event's device). */
export interface Camera {
  id: string;
  name: string;
  status: CameraStatus;
  lng: number;
  lat: number;
  azimuth: number;
  hfov: number;
  range: number;
  ptz: boolean;
}

/**
 * Okabe–Ito colours (safe for the common colour-vision deficiencies), each with its own shape: working = green
 * circle, faulty = orange triangle, offline = vermillion square with a white cross, never heard = white diamond with
 * a purple rim.
 */
export const style: Record<CameraStatus, { fill: string; stroke: string }> = {
  online: { fill: '#009e73', stroke: '#ffffff' },
  faulty: { fill: '#e69f00', stroke: '#3d2a00' },
  offline: { fill: '#d55e00', stroke: '#ffffff' },
  unknown: { fill: '#ffffff', stroke: '#7b3294' },
};

/** The wedges are drawn from this zoom on (about 4 m a pixel at 37° N: a 50 m wedge is 12 px long). */
export const wedgeZoom = 15;

/** Marker size (its radius in px) by zoom: small enough for 20,000 at county zoom, big enough to read from 2 m. */
export const radiusAt = (zoom: number) => (zoom < 11 ? 3 : zoom < 13 ? 4.5 : zoom < 15 ? 6 : zoom < 17 ? 8 : 10);

/** The dark edge under white rims and wedge outlines (the page's ink colour). */
const halo = 'rgba(16, 36, 62, 0.8)';

/** Problems are drawn a size larger: they are what a duty officer looks for. */
const sizeOf = (status: CameraStatus, size: number) => (status === 'offline' || status === 'faulty' ? size * 1.25 : size);

/** Adds a status shape centred on (x, y) to a path (and an offline camera's cross to `cross`). */
function addShape(path: Path2D, cross: Path2D, status: CameraStatus, x: number, y: number, size: number) {
  const r = sizeOf(status, size);
  switch (status) {
    case 'online':
      path.moveTo(x + r, y);
      path.arc(x, y, r, 0, Math.PI * 2);
      break;
    case 'faulty': {
      const t = r * 1.25;
      path.moveTo(x, y - t);
      path.lineTo(x + t * 0.95, y + t * 0.7);
      path.lineTo(x - t * 0.95, y + t * 0.7);
      path.closePath();
      break;
    }
    case 'offline': {
      const h = r * 0.95;
      path.rect(x - h, y - h, 2 * h, 2 * h);
      if (r >= 4) {
        // a white cross: "off" in any colour vision
        const c = r * 0.5;
        cross.moveTo(x - c, y - c);
        cross.lineTo(x + c, y + c);
        cross.moveTo(x + c, y - c);
        cross.lineTo(x - c, y + c);
      }
      break;
    }
    case 'unknown': {
      const d = r * 1.25;
      path.moveTo(x, y - d);
      path.lineTo(x + d, y);
      path.lineTo(x, y + d);
      path.lineTo(x - d, y);
      path.closePath();
      break;
    }
  }
}

/** Fills and outlines every shape of one status at once (one fill and one stroke, however many cameras). */
function paint(ctx: CanvasRenderingContext2D, status: CameraStatus, path: Path2D, cross: Path2D, size: number) {
  const r = sizeOf(status, size);
  ctx.globalAlpha = 1;
  ctx.setLineDash([]);
  ctx.lineJoin = 'round';
  const rim = status === 'unknown' ? Math.max(2, r / 2.5) : Math.max(1.2, r / 4);
  if (style[status].stroke === '#ffffff') {
    // a thin dark line outside the white rim: the mark stands out on light ground and on the coverage colours alike
    ctx.lineWidth = rim + 2;
    ctx.strokeStyle = halo;
    ctx.stroke(path);
  }
  ctx.fillStyle = style[status].fill;
  ctx.fill(path);
  ctx.lineWidth = rim;
  ctx.strokeStyle = style[status].stroke;
  ctx.stroke(path);
  if (status === 'offline') {
    ctx.lineWidth = Math.max(1.5, r / 3.5);
    ctx.strokeStyle = '#ffffff';
    ctx.stroke(cross);
  }
}

/** Draws one status shape (the legend's swatches: the markers' own code). */
export function drawShape(ctx: CanvasRenderingContext2D, status: CameraStatus, x: number, y: number, size: number) {
  const path = new Path2D();
  const cross = new Path2D();
  addShape(path, cross, status, x, y, size);
  paint(ctx, status, path, cross, size);
}

/** A legend swatch: a small canvas with the marker's own shape. */
export function swatch(status: CameraStatus): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  const ratio = window.devicePixelRatio || 1;
  canvas.width = 28 * ratio;
  canvas.height = 28 * ratio;
  canvas.className = 'camera-swatch';
  const ctx = canvas.getContext('2d')!;
  ctx.scale(ratio, ratio);
  // sizes that look alike: the white rims of the circle and the square vanish on the white panel
  drawShape(ctx, status, 14, 14, { online: 11, faulty: 8, offline: 9.5, unknown: 8.5 }[status]);
  return canvas;
}


interface CanvasInternals {
  _ctx: CanvasRenderingContext2D;
  _drawing: boolean;
  _bounds: L.Bounds;
  _redrawBounds: L.Bounds | null;
  _requestRedraw(layer: { _pxBounds: L.Bounds; options: { weight?: number } }): void;
}

/**
 * One camera on the canvas: what the renderer hit-tests (a click within 3 px) and what bounds the redraw of a status
 * change. It draws nothing itself: CameraLayer paints every camera in one pass.
 */
export class CameraMarker extends L.CircleMarker {
  declare _point: L.Point;
  declare _radius: number;
  declare _renderer: CanvasInternals;
  declare _map: L.Map;
  declare _pxBounds: L.Bounds;
  declare camera: Camera;

  constructor(camera: Camera, at: L.LatLng, renderer: L.Canvas) {
    super(at, { renderer, radius: 5, bubblingMouseEvents: false });
    this.camera = camera;
  }

  /** Projects as a CircleMarker does, with the radius of the current zoom. */
  _project() {
    this._radius = radiusAt(this._map.getZoom());
    this._point = this._map.latLngToLayerPoint(this.getLatLng());
    const r = this._radius * 1.6 + 3; // the larger shapes reach past the radius; 3 = the click tolerance
    this._pxBounds = L.bounds(this._point.subtract([r, r]), this._point.add([r, r]));
  }

  _updatePath() {
    // painted by CameraLayer
  }

  _containsPoint(p: L.Point) {
    return p.distanceTo(this._point) <= this._radius * 1.25 + 3;
  }

  /** Redraws this camera alone (its few pixels, and its wedge's when wedges show). */
  redrawHere(extra?: L.Bounds) {
    if (!this._map || !this._point) {
      return;
    }
    this._project();
    this._renderer._requestRedraw({ _pxBounds: extra ? L.bounds([this._pxBounds.min!, this._pxBounds.max!, extra.min!, extra.max!]) : this._pxBounds, options: { weight: 2 } });
  }
}

/** Statuses in painting order: problems last, on top, so a working neighbour never hides an offline camera. */
const paintOrder: CameraStatus[] = ['online', 'unknown', 'faulty', 'offline'];

/** Each status's shape at one size, drawn once into a small canvas (at the screen's pixel ratio). */
function sprites(size: number): { half: number; images: Record<CameraStatus, HTMLCanvasElement> } {
  const half = Math.ceil(size * 1.25 * 1.25 + 3); // the largest shape (an enlarged triangle) and its outline
  const ratio = window.devicePixelRatio || 1;
  const images = {} as Record<CameraStatus, HTMLCanvasElement>;
  for (const status of paintOrder) {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = Math.ceil(2 * half * ratio);
    const ctx = canvas.getContext('2d')!;
    ctx.scale(ratio, ratio);
    drawShape(ctx, status, half, half, size);
    images[status] = canvas;
  }
  return { half, images };
}

/**
 * One object on the canvas that draws for many cameras at once: it spans the whole canvas (the renderer clips it to
 * what it redraws), is never the target of a click, and paints in `paint` when the renderer draws.
 */
abstract class ManyCameras extends L.Path {
  declare _renderer: CanvasInternals;
  declare _map: L.Map;
  declare _pxBounds: L.Bounds;
  protected readonly source: () => Iterable<CameraMarker>;

  constructor(source: () => Iterable<CameraMarker>, renderer: L.Canvas) {
    super();
    // L.Path has no initialize: its options are set here, as Leaflet's own paths do in theirs.
    L.setOptions(this, { renderer, interactive: false });
    this.source = source;
  }

  protected abstract paint(ctx: CanvasRenderingContext2D, area: L.Bounds, zoom: number): void;

  _project() {
    this._pxBounds = L.bounds([-1e9, -1e9], [1e9, 1e9]);
  }

  _update() {
    this._updatePath();
  }

  _updatePath() {
    const renderer = this._renderer;
    if (renderer._drawing && this._map) {
      this.paint(renderer._ctx, renderer._redrawBounds ?? renderer._bounds, this._map.getZoom());
    }
  }

  _containsPoint() {
    return false;
  }

  _empty() {
    return false;
  }
}

/**
 * Every camera's marker, painted by one object in one pass, problems last (on top). Each status's shape is drawn once
 * into a sprite and copied to each camera's place (drawImage): filling and stroking 20,000 paths took the software
 * rasteriser seconds per redraw of the county, copying the sprites a few tens of milliseconds. A redraw of part of
 * the canvas (a status change) paints only the cameras in it.
 */
export class CameraLayer extends ManyCameras {
  private readonly cache = new Map<number, ReturnType<typeof sprites>>();

  protected paint(ctx: CanvasRenderingContext2D, area: L.Bounds, zoom: number) {
    const size = radiusAt(zoom);
    let sprite = this.cache.get(size);
    if (!sprite) {
      sprite = sprites(size);
      this.cache.set(size, sprite);
    }
    const { half, images } = sprite;
    const [x0, y0, x1, y1] = [area.min!.x - half, area.min!.y - half, area.max!.x + half, area.max!.y + half];
    const at: Record<CameraStatus, L.Point[]> = { online: [], unknown: [], faulty: [], offline: [] };
    for (const marker of this.source()) {
      const p = marker._point;
      if (p && p.x >= x0 && p.x <= x1 && p.y >= y0 && p.y <= y1) {
        at[marker.camera.status].push(p);
      }
    }
    ctx.globalAlpha = 1;
    for (const status of paintOrder) {
      const image = images[status];
      for (const p of at[status]) {
        // whole pixels: the sprite is copied, not resampled
        ctx.drawImage(image, Math.round(p.x) - half, Math.round(p.y) - half, 2 * half, 2 * half);
      }
    }
  }
}

/** Pixels per metre at a latitude and zoom (Web Mercator). */
const pixelsPerMetre = (lat: number, zoom: number) => (256 * 2 ** zoom) / (40075016.686 * Math.cos((lat * Math.PI) / 180));

/**
 * Every visible camera's field of view (mode 'wedge', from wedgeZoom on) or every PTZ camera's potential circle (mode
 * 'potential', at any zoom where it is at least 3 px), drawn by one object: the sector of range_m around the azimuth,
 * as the gateway models it (a flat wedge; at these ranges the Web Mercator drawing differs from the gateway's
 * transverse Mercator by far less than a pixel).
 */
export class SectorLayer extends ManyCameras {
  private readonly mode: 'wedge' | 'potential';

  constructor(mode: 'wedge' | 'potential', source: () => Iterable<CameraMarker>, renderer: L.Canvas) {
    super(source, renderer);
    this.mode = mode;
  }

  /** The extent of a camera's sector on screen now (for redrawing one camera), or undefined when none is drawn. */
  extentOf(marker: CameraMarker): L.Bounds | undefined {
    if (!this._map || !marker._point || (this.mode === 'wedge' && this._map.getZoom() < wedgeZoom)) {
      return undefined;
    }
    const r = marker.camera.range * pixelsPerMetre(marker.camera.lat, this._map.getZoom()) + 2;
    return L.bounds(marker._point.subtract([r, r]), marker._point.add([r, r]));
  }

  protected paint(ctx: CanvasRenderingContext2D, view: L.Bounds, zoom: number) {
    if (this.mode === 'wedge' && zoom < wedgeZoom) {
      return;
    }
    const metres = pixelsPerMetre(0, zoom);
    // One path per status: one fill and one stroke each, whatever the number of cameras.
    const paths: Partial<Record<CameraStatus, Path2D>> = {};
    for (const marker of this.source()) {
      const c = marker.camera;
      const p = marker._point;
      if (!p || (this.mode === 'potential' && !c.ptz)) {
        continue;
      }
      const r = (c.range * metres) / Math.cos((c.lat * Math.PI) / 180);
      if (r < 3 || p.x + r < view.min!.x || p.x - r > view.max!.x || p.y + r < view.min!.y || p.y - r > view.max!.y) {
        continue;
      }
      const path = (paths[c.status] ??= new Path2D());
      if (this.mode === 'potential' || c.hfov >= 360) {
        path.moveTo(p.x + r, p.y);
        path.arc(p.x, p.y, r, 0, Math.PI * 2);
      } else {
        // azimuth clockwise from north; the canvas measures clockwise from east (y grows downwards)
        const from = ((c.azimuth - c.hfov / 2 - 90) * Math.PI) / 180;
        const to = ((c.azimuth + c.hfov / 2 - 90) * Math.PI) / 180;
        path.moveTo(p.x, p.y);
        path.arc(p.x, p.y, r, from, to);
        path.closePath();
      }
    }
    for (const status of statuses) {
      const path = paths[status];
      if (!path) {
        continue;
      }
      const colour = status === 'unknown' ? style.unknown.stroke : style[status].fill;
      if (this.mode === 'wedge') {
        ctx.globalAlpha = status === 'online' ? 0.22 : 0.14;
        ctx.fillStyle = colour;
        ctx.fill(path);
      }
      // working wedges solid, the rest dashed: the outline says it without colour too
      ctx.setLineDash(this.mode === 'potential' ? [8, 6] : status === 'online' ? [] : [5, 4]);
      // over a dark edge, so that an orange outline still shows on a grid coloured orange by the coverage view
      ctx.globalAlpha = 0.5;
      ctx.strokeStyle = halo;
      ctx.lineWidth = this.mode === 'potential' ? 4 : 3.5;
      ctx.stroke(path);
      ctx.globalAlpha = 0.95;
      ctx.strokeStyle = this.mode === 'potential' ? '#0072b2' : colour;
      ctx.lineWidth = this.mode === 'potential' ? 2 : 1.5;
      ctx.stroke(path);
    }
    ctx.globalAlpha = 1;
    ctx.setLineDash([]);
  }
}
