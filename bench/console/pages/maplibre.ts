import 'maplibre-gl/dist/maplibre-gl.css';
import * as maplibregl from 'maplibre-gl';
import { loadCounty, moves, nextFrame, frameIntervals, statusColour, timeHits, fail } from './common';

async function main() {
  const county = await loadCounty();
  const map = new maplibregl.Map({
    container: 'map',
    style: {
      version: 8,
      sources: {
        regions: { type: 'geojson', data: county.regions as never },
        grids: { type: 'geojson', data: county.grids as never },
        sites: { type: 'geojson', data: county.sites as never },
        cameras: { type: 'geojson', data: county.cameras as never, generateId: true },
      },
      layers: [
        { id: 'background', type: 'background', paint: { 'background-color': '#f4f4f0' } },
        { id: 'grids', type: 'fill', source: 'grids', paint: { 'fill-color': '#e69628', 'fill-opacity': ['+', 0.1, ['*', 0.45, ['get', 'coverage']]] } },
        { id: 'grid-lines', type: 'line', source: 'grids', paint: { 'line-color': 'rgba(120,80,20,0.5)', 'line-width': 0.5 } },
        { id: 'regions', type: 'fill', source: 'regions', paint: { 'fill-color': 'rgba(70,110,160,0.08)' } },
        { id: 'region-lines', type: 'line', source: 'regions', paint: { 'line-color': '#3b5b80', 'line-width': 1.5 } },
        { id: 'sites', type: 'circle', source: 'sites', paint: { 'circle-radius': 3, 'circle-color': ['case', ['get', 'covered'], '#2166ac', '#b2182b'] } },
        {
          id: 'cameras', type: 'circle', source: 'cameras',
          paint: { 'circle-radius': 2.5, 'circle-color': ['match', ['coalesce', ['feature-state', 'status'], ['get', 'status']], 'online', statusColour.online, 'offline', statusColour.offline, 'faulty', statusColour.faulty, statusColour.unknown] },
        },
      ],
    },
    bounds: county.bbox,
    attributionControl: false,
  });
  const idle = () => new Promise<void>((resolve) => map.once('idle', () => resolve()));
  await idle();
  await nextFrame();
  const gl = map.painter.context.gl;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  window.bench = {
    drawnAt: performance.now(),
    renderer: `${gl instanceof WebGL2RenderingContext ? 'WebGL2' : 'WebGL1'} ${info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER)}`,
    async move(i) {
      const m = moves[i];
      const t0 = performance.now();
      const c = map.getCenter();
      map.jumpTo({ center: [c.lng + m.dLon, c.lat + m.dLat], zoom: map.getZoom() + m.dZoom });
      await idle();
      await nextFrame();
      return performance.now() - t0;
    },
    async changeStatus(k) {
      // Feature state: the cheap way to restyle one feature (setData would tile the whole source again).
      const t0 = performance.now();
      const was = map.getFeatureState({ source: 'cameras', id: k }).status ?? county.cameras.features[k].properties.status;
      map.setFeatureState({ source: 'cameras', id: k }, { status: was === 'offline' ? 'online' : 'offline' });
      await idle();
      await nextFrame();
      return performance.now() - t0;
    },
    hit(pixels) {
      return timeHits(pixels, ([x, y]) => map.queryRenderedFeatures([[x - 3, y - 3], [x + 3, y + 3]], { layers: ['cameras'] }).length > 0);
    },
    animatedPan() {
      return frameIntervals(async () => {
        const done = new Promise<void>((resolve) => map.once('moveend', () => resolve()));
        map.panBy([map.getCanvas().clientWidth / 4, 0], { duration: 1000 });
        await done;
        await idle();
      });
    },
  };
}

main().catch(fail);
