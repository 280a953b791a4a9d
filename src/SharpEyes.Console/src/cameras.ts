// The cameras on the map: every camera of the county coloured and shaped by status (working, faulty, offline, never
// heard), their fields of view from zoom 15, PTZ cameras' potential circles on demand, all on the map's one canvas
// (cameras-draw.ts: one object per camera for hit tests, the painting batched by status). Read once from ListDevices
// in its compact map view (docs/decisions.md#console-cameras-on-the-map), then kept current by the live feed: a status change redraws that camera alone. A click (or the 'show-camera'
// message from another view) opens the camera's panel in the details tab (cameras-detail.ts).
import './cameras.css';
import * as L from 'leaflet';
import { getAllPages } from './api';
import { latLng } from './basemap';
import { listen } from './bus';
import { type Camera, CameraLayer, CameraMarker, type CameraStatus, SectorLayer, statuses, style, swatch, wedgeZoom } from './cameras-draw';
import { showCamera } from './cameras-detail';
import { defineMessages, onLangChange } from './i18n';
import * as live from './live';
import type { FeedEvent } from './live';
import { detailShows } from './sidebar';
import type { ViewContext } from './view';

export const text = defineMessages(
  {
    cameras: '摄像机',
    online: '在线（正常）',
    faulty: '在线但视频故障',
    offline: '离线',
    unknown: '从未上线',
    wedges: '视野范围（放大到 {zoom} 级显示）',
    potential: '云台摄像机可转动范围',
  },
  {
    cameras: 'Cameras',
    online: 'Online (working)',
    faulty: 'Online, stream fault',
    offline: 'Offline',
    unknown: 'Never heard from',
    wedges: 'Field of view (from zoom {zoom})',
    potential: 'PTZ cameras: reach when turned',
  },
);

/** A device as ListDevices (map view) or a feed event answers it: protobuf JSON, defaults left out. */
export interface DeviceJson {
  deviceId: string;
  kind?: string;
  name?: string;
  position?: { lon?: number; lat?: number };
  camera?: { azimuthDeg?: number; hfovDeg?: number; rangeM?: number; ptz?: boolean };
  status?: string;
  faulty?: boolean;
}

/** Offline first (it sees nothing), then a stream fault, then heard or never heard. */
export function statusOf(status: string | undefined, faulty: boolean | undefined): CameraStatus {
  if (status === 'DEVICE_STATUS_OFFLINE') {
    return 'offline';
  }
  if (faulty) {
    return 'faulty';
  }
  return status === 'DEVICE_STATUS_ONLINE' ? 'online' : 'unknown';
}

const toCamera = (d: DeviceJson): Camera => ({
  id: d.deviceId,
  name: d.name ?? d.deviceId,
  status: statusOf(d.status, d.faulty),
  lng: d.position?.lon ?? 0,
  lat: d.position?.lat ?? 0,
  azimuth: d.camera?.azimuthDeg ?? 0,
  hfov: d.camera?.hfovDeg ?? 0,
  range: d.camera?.rangeM ?? 0,
  ptz: d.camera?.ptz ?? false,
});

const readCameras = () => getAllPages<DeviceJson, { devices?: DeviceJson[]; nextPageToken?: string }>(
  '/api/v1/devices', { kind: 'DEVICE_KIND_CAMERA', pageSize: 5000, view: 'DEVICE_VIEW_MAP' }, (page) => page.devices);

let early: Promise<DeviceJson[]> | undefined;

/**
 * Starts reading the cameras while the base map is still being read and drawn (main.ts calls it after sign-in): the
 * first load takes that answer. A 20,000-camera county's 20 pages of 1,000 took 1.6 s one after the other, after the
 * base map; 4 pages of 5,000 (the MAP view's limit) now start beside it.
 */
export function prefetch() {
  early ??= readCameras();
  early.catch(() => {}); // a failure is the first load's to report
}

export async function mount({ base, session }: ViewContext): Promise<void> {
  const { map, renderer } = base;
  const markers = new Map<string, CameraMarker>();
  // A LayerGroup, not a FeatureGroup: a FeatureGroup makes itself each marker's event parent, an object keyed by the
  // group's Leaflet id, which V8 stores as an array as long as that id (3 KB a marker here: 82 MiB for 20,000
  // cameras, measured with a heap snapshot). Each marker has the one shared click handler instead.
  const group = L.layerGroup();
  const open = (e: L.LeafletMouseEvent) => void showCamera((e.target as CameraMarker).camera.id, { base, session });
  // One name tag for whichever camera the pointer is over (not a tooltip bound to each of 20,000 markers).
  const tag = L.tooltip({ direction: 'top', offset: [0, -10], className: 'camera-tag' });
  const hover = (e: L.LeafletMouseEvent) => {
    const { camera } = e.target as CameraMarker;
    tag.setLatLng((e.target as CameraMarker).getLatLng()).setContent(`${camera.name} · ${text(camera.status)}`).openOn(map);
  };
  const leave = () => tag.close();
  const painter = new CameraLayer(() => markers.values(), renderer);
  const wedges = new SectorLayer('wedge', () => markers.values(), renderer);
  const potential = new SectorLayer('potential', () => markers.values(), renderer);
  const root = document.documentElement;

  // Kept as cameras come, change and go: a burst of 16,000 status events (a county's heartbeats after an outage)
  // must not count 20,000 markers each time.
  const counts: Record<CameraStatus, number> = { online: 0, faulty: 0, offline: 0, unknown: 0 };
  const publish = () => {
    root.dataset.cameras = String(markers.size);
    root.dataset.camerasOnline = String(counts.online);
    root.dataset.camerasFaulty = String(counts.faulty);
    root.dataset.camerasOffline = String(counts.offline);
    root.dataset.camerasUnknown = String(counts.unknown);
  };

  const add = (camera: Camera) => {
    const marker = new CameraMarker(camera, latLng(camera.lng, camera.lat), renderer);
    marker.on({ click: open, mouseover: hover, mouseout: leave });
    markers.set(camera.id, marker);
    counts[camera.status]++;
    group.addLayer(marker);
  };

  /** Redraws the pixels a camera covers now: its marker, and its wedge and PTZ circle where they show. */
  const redraw = (marker: CameraMarker) => {
    const area = [wedges.extentOf(marker), potential.extentOf(marker)].filter((b): b is L.Bounds => b !== undefined);
    marker.redrawHere(area.length ? L.bounds(area.flatMap((b) => [b.min!, b.max!])) : undefined);
  };

  /** Takes a camera off the map, its wedge with it (the frame after redraws that area without it). */
  const drop = (marker: CameraMarker) => {
    redraw(marker);
    group.removeLayer(marker);
    markers.delete(marker.camera.id);
    counts[marker.camera.status]--;
  };

  /** A camera's new state: one marker (and its wedge) redrawn; a move or a new camera re-adds it. */
  const apply = (camera: Camera) => {
    const marker = markers.get(camera.id);
    if (!marker) {
      add(camera);
    } else if (marker.camera.lng !== camera.lng || marker.camera.lat !== camera.lat) {
      drop(marker);
      add(camera);
    } else {
      counts[marker.camera.status]--;
      counts[camera.status]++;
      marker.camera = camera;
      redraw(marker);
    }
    publish();
  };

  const remove = (id: string) => {
    const marker = markers.get(id);
    if (marker) {
      drop(marker);
      publish();
    }
  };

  const load = async () => {
    const devices = await (early ?? readCameras());
    early = undefined;
    group.clearLayers();
    markers.clear();
    statuses.forEach((status) => (counts[status] = 0));
    devices
      .filter((d) => d.position)
      .map(toCamera)
      .forEach(add);
    // After a resync: the whole canvas, so that no wedge of a camera gone meanwhile stays behind.
    painter.redraw();
    publish();
  };

  // The layers before the first read, as the other views add theirs: the switcher's order does not depend on which
  // view's answers come first.
  const legendRow = (status: CameraStatus) => ({ label: () => text(status), swatch: 'point' as const, fill: style[status].fill, stroke: style[status].stroke });
  base.addOverlay({ key: 'ptzPotential', label: () => text('potential'), layer: potential, visible: false, legend: [{ label: () => text('potential'), swatch: 'dashed', fill: 'transparent', stroke: '#0072b2' }] });
  base.addOverlay({
    key: 'cameras', label: () => text('cameras'), layer: L.layerGroup([wedges, painter, group]), visible: true,
    legend: [...statuses.map(legendRow), { label: () => text('wedges', { zoom: wedgeZoom }), swatch: 'wedge', fill: style.online.fill, stroke: style.online.fill }],
  });
  // The legend's dots become the markers' own shapes, drawn by the same code.
  document.querySelectorAll<HTMLElement>('#legend-list li[data-layer="cameras"] .swatch-point').forEach((node, i) => {
    node.className = 'swatch camera-legend';
    node.dataset.status = statuses[i];
    node.replaceChildren(swatch(statuses[i]));
  });
  await load();

  // Where the map looks, for browser tests that click a camera at its pixel (zoom, then centre lat and lng in the
  // map's datum).
  const view = () => {
    const c = map.getCenter();
    root.dataset.mapView = `${map.getZoom()} ${c.lat.toFixed(7)} ${c.lng.toFixed(7)}`;
  };
  map.on('moveend', view);
  view();

  onLangChange(() => {
    const id = document.getElementById('pane-detail')?.dataset.detailId;
    if (id && detailShows('camera', id)) {
      void showCamera(id, { base, session });
    }
  });

  live.onEvent((event: FeedEvent) => {
    const device = event.device as DeviceJson | undefined;
    const health = event.cameraHealth as { deviceId?: string; status?: string; faulty?: boolean } | undefined;
    let id: string | undefined;
    if (device && device.kind === 'DEVICE_KIND_CAMERA') {
      id = device.deviceId;
      if (event.kind === 'FEED_EVENT_KIND_DEVICE_DEREGISTERED') {
        remove(id);
      } else if (device.position) {
        apply(toCamera(device));
      }
    } else if (health?.deviceId) {
      id = health.deviceId;
      const marker = markers.get(id);
      if (marker) {
        apply({ ...marker.camera, status: statusOf(health.status, health.faulty) });
      }
    }
    if (id && detailShows('camera', id)) {
      void showCamera(id, { base, session });
    }
  });
  live.onResync(load);

  listen('show-camera', ({ deviceId }) => {
    const marker = markers.get(deviceId);
    if (marker) {
      map.flyTo(marker.getLatLng(), Math.max(map.getZoom(), 17), { duration: 0.8 });
    }
    void showCamera(deviceId, { base, session });
  });
}
