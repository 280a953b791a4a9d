import 'ol/ol.css';
import Map from 'ol/Map';
import View from 'ol/View';
import VectorLayer from 'ol/layer/Vector';
import VectorImageLayer from 'ol/layer/VectorImage';
import VectorSource from 'ol/source/Vector';
import GeoJSON from 'ol/format/GeoJSON';
import { Style, Fill, Stroke, Circle } from 'ol/style';
import { transformExtent, fromLonLat, toLonLat } from 'ol/proj';
import type { FeatureLike } from 'ol/Feature';
import { loadCounty, moves, nextFrame, frameIntervals, statusColour, timeHits, type Collection } from './common';

const format = new GeoJSON({ featureProjection: 'EPSG:3857' });
const source = (c: Collection) => new VectorSource({ features: format.readFeatures(c) });
const cameraSource = (c: Collection) => {
  const features = format.readFeatures(c);
  features.forEach((f, k) => f.setId(`c${k}`));
  return new VectorSource({ features });
};
const regionStyle = new Style({ fill: new Fill({ color: 'rgba(70,110,160,0.08)' }), stroke: new Stroke({ color: '#3b5b80', width: 1.5 }) });
const gridStyles = [0, 1, 2, 3].map((k) => new Style({ fill: new Fill({ color: `rgba(230,150,40,${0.1 + 0.15 * k})` }), stroke: new Stroke({ color: 'rgba(120,80,20,0.5)', width: 0.5 }) }));
const siteStyles = { true: new Style({ image: new Circle({ radius: 3, fill: new Fill({ color: '#2166ac' }) }) }), false: new Style({ image: new Circle({ radius: 3, fill: new Fill({ color: '#b2182b' }) }) }) };
const cameraStyles = Object.fromEntries(Object.entries(statusColour).map(([k, c]) => [k, new Style({ image: new Circle({ radius: 2.5, fill: new Fill({ color: c }) }) })]));

/**
 * Draws the county with OpenLayers' canvas vector layers; with imageLayers, every layer is a
 * VectorImage layer (drawn once to an image that animations and interactions move, redrawn when they end).
 */
export async function drawCounty(imageLayers: boolean) {
  const Layer = imageLayers ? VectorImageLayer : VectorLayer;
  const county = await loadCounty();
  let cameras: VectorLayer | VectorImageLayer | undefined;
  const view = new View({ center: fromLonLat([114.6, 37.62]), zoom: 10 });
  const map = new Map({
    target: 'map',
    view,
    layers: [
      new Layer({ source: source(county.grids), style: (f: FeatureLike) => gridStyles[Math.min(3, Math.floor((f.get('coverage') as number) * 4))] }),
      new Layer({ source: source(county.regions), style: regionStyle }),
      new Layer({ source: source(county.sites), style: (f: FeatureLike) => siteStyles[String(f.get('covered')) as 'true' | 'false'] }),
      cameras = new Layer({ source: cameraSource(county.cameras), style: (f: FeatureLike) => cameraStyles[f.get('status') as string] }),
    ],
  });
  view.fit(transformExtent(county.bbox, 'EPSG:4326', 'EPSG:3857'));
  const drawn = () => new Promise<void>((resolve) => map.once('rendercomplete', () => resolve()));
  await drawn();
  await nextFrame();
  window.bench = {
    drawnAt: performance.now(),
    renderer: imageLayers ? 'canvas 2d, VectorImage layers' : 'canvas 2d, Vector layers',
    async move(i) {
      const m = moves[i];
      const t0 = performance.now();
      const [lon, lat] = toLonLat(view.getCenter()!);
      view.setCenter(fromLonLat([lon + m.dLon, lat + m.dLat]));
      view.setZoom(view.getZoom()! + m.dZoom);
      await drawn();
      await nextFrame();
      return performance.now() - t0;
    },
    async changeStatus(k) {
      const t0 = performance.now();
      const camera = cameras!.getSource()!.getFeatureById(`c${k}`)!;
      camera.set('status', camera.get('status') === 'offline' ? 'online' : 'offline');
      await drawn();
      await nextFrame();
      return performance.now() - t0;
    },
    hit(pixels) {
      // What a click handler does: the camera features within 3 px of the pointer.
      return timeHits(pixels, (pixel) => map.getFeaturesAtPixel(pixel, { hitTolerance: 3, layerFilter: (l) => l === cameras }).length > 0);
    },
    animatedPan() {
      const size = map.getSize()!;
      const target = map.getCoordinateFromPixel([size[0] * 0.75, size[1] * 0.5]);
      return frameIntervals(() => new Promise<void>((resolve) => view.animate({ center: target, duration: 1000 }, () => map.once('rendercomplete', () => resolve()))));
    },
  };
}
