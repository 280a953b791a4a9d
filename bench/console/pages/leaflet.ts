import 'leaflet/dist/leaflet.css';
import L from 'leaflet';
import { loadCounty, moves, nextFrame, frameIntervals, statusColour, timeHits, fail, type Collection } from './common';

async function main() {
  const county = await loadCounty();
  // tolerance 3: a click within 3 px of a camera finds it, as the other pages ask of their libraries.
  const renderer = L.canvas({ padding: 0.5, tolerance: 3 });
  const map = L.map('map', { preferCanvas: true, renderer, zoomSnap: 0 });
  const geo = (c: Collection, options: L.GeoJSONOptions) => L.geoJSON(c as never, { renderer, ...options } as L.GeoJSONOptions).addTo(map);
  const [w, s, e, n] = county.bbox;
  map.fitBounds([[s, w], [n, e]], { animate: false });
  geo(county.grids, { style: (f) => ({ color: 'rgba(120,80,20,0.5)', weight: 0.5, fillColor: '#e69628', fillOpacity: 0.1 + 0.45 * (f?.properties.coverage as number) }) });
  geo(county.regions, { style: () => ({ color: '#3b5b80', weight: 1.5, fillColor: 'rgb(70,110,160)', fillOpacity: 0.08 }) });
  geo(county.sites, { pointToLayer: (f, ll) => L.circleMarker(ll, { renderer, radius: 3, stroke: false, fillOpacity: 1, fillColor: f.properties.covered ? '#2166ac' : '#b2182b' }) });
  let clicked = false;
  const cameras = geo(county.cameras, { pointToLayer: (f, ll) => L.circleMarker(ll, { renderer, radius: 2.5, stroke: false, fillOpacity: 1, fillColor: statusColour[f.properties.status as string] }) });
  cameras.on('click', () => (clicked = true));
  // The canvas renderer redraws in the next animation frame; the frame after it is on screen.
  await nextFrame();
  await nextFrame();
  window.bench = {
    drawnAt: performance.now(),
    renderer: 'canvas 2d',
    async move(i) {
      const m = moves[i];
      const t0 = performance.now();
      const c = map.getCenter();
      map.setView([c.lat + m.dLat, c.lng + m.dLon], map.getZoom() + m.dZoom, { animate: false });
      await nextFrame();
      await nextFrame();
      return performance.now() - t0;
    },
    async changeStatus(k) {
      const t0 = performance.now();
      const camera = cameras.getLayers()[k] as L.CircleMarker;
      camera.setStyle({ fillColor: camera.options.fillColor === statusColour.offline ? statusColour.online : statusColour.offline });
      await nextFrame();
      await nextFrame();
      return performance.now() - t0;
    },
    hit(pixels) {
      // Leaflet has no hit-test call: its canvas renderer finds the layer under a click itself. A synthetic click on
      // the canvas runs that search and the camera layer's click handler, synchronously.
      const canvas = (renderer as unknown as { _container: HTMLCanvasElement })._container;
      const box = map.getContainer().getBoundingClientRect(); // pixels are the map's; the canvas extends past it
      return timeHits(pixels, ([x, y]) => {
        clicked = false;
        canvas.dispatchEvent(new MouseEvent('click', { clientX: box.left + x, clientY: box.top + y, bubbles: true, cancelable: true }));
        return clicked;
      });
    },
    animatedPan() {
      return frameIntervals(async () => {
        const done = new Promise<void>((resolve) => map.once('moveend', () => resolve()));
        map.panBy([map.getSize().x / 4, 0], { animate: true, duration: 1 });
        await done;
        await nextFrame();
        await nextFrame();
      });
    },
  };
}

main().catch(fail);
