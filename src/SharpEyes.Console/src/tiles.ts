// The intranet base layer: when the gateway's settings name a tile server on the user's own network (PGIS or an XYZ
// server; GET /api/console/config, docs/console-guide.md#an-intranet-base-map), its tiles are drawn under every
// overlay, and when those tiles are drawn in GCJ-02 every overlay is converted to GCJ-02 to sit on them (gcoord,
// WGS-84 -> GCJ-02, the same transform as the gateway's ?datum=DATUM_GCJ02 answers). With no setting, or a gateway
// that does not know the setting, no tile is requested: the county's own polygons are the base map.
// Called by main.ts before the base map reads its first coordinate (the datum must be set before anything is drawn).
import gcoord from 'gcoord';
import * as L from 'leaflet';
import { getJson } from './api';
import { useProjection } from './basemap';

export interface BaseLayerSettings {
  url: string;
  datum: 'wgs84' | 'gcj02';
  attribution?: string;
  minZoom?: number;
  maxZoom?: number;
  subdomains?: string;
}

interface ConsoleConfig {
  baseLayer?: BaseLayerSettings | null;
  serverTime?: string;
}

/** Leaflet inserts an attribution as HTML: the setting is plain text. */
function escapeHtml(value: string) {
  const node = document.createElement('span');
  node.textContent = value;
  return node.innerHTML;
}

/**
 * Reads the console settings; with a GCJ-02 base layer, sets the map's projection. Answers what adds the tile layer to
 * the map once it exists (nothing without a base layer).
 */
export async function prepareBaseLayer(): Promise<(map: L.Map) => void> {
  // The page is served by the gateway it reads: the route is always there.
  const config = await getJson<ConsoleConfig>('/api/console/config');
  const layer = config.baseLayer;
  const root = document.documentElement;
  if (!layer?.url) {
    root.dataset.baseLayer = 'none';
    return () => {};
  }
  if (layer.datum === 'gcj02') {
    useProjection((lng, lat) => gcoord.transform([lng, lat], gcoord.WGS84, gcoord.GCJ02) as [number, number]);
  }
  root.dataset.baseLayer = layer.datum;
  return (map) => {
    const tiles = L.tileLayer(layer.url, {
      subdomains: layer.subdomains || 'abc',
      minZoom: layer.minZoom ?? 0,
      // Past the server's last zoom level its tiles are enlarged rather than missing.
      maxNativeZoom: layer.maxZoom ?? 18,
      maxZoom: map.getMaxZoom(),
      attribution: layer.attribution ? escapeHtml(layer.attribution) : undefined,
    });
    tiles.addTo(map);
    if (layer.attribution) {
      // The map has no attribution control of its own (no tile layer, nothing to credit): one for these tiles.
      L.control.attribution({ prefix: false }).addTo(map);
    }
  };
}
