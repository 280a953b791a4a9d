// A KPI's trend as a small SVG line chart (one per KPI card, so each has its own scale and its own target line):
// the values over the span, the national target as a dashed line, the last value as a dot. Hand-drawn rather than a
// charting package: it is one polyline and one line per chart, and SVG elements with presentation attributes need
// no style="" attribute (the page's CSP refuses inline styles) and no stylesheet of the package's.
const svgNs = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, String(value));
  }
  return node;
}

export interface TrendPoint {
  at: number; // ms since the epoch
  value: number; // 0..1
}

export interface TrendOptions {
  since: number;
  until: number;
  target: number; // 0: none drawn
  colour: string;
  /** The scale's top as text (e.g. "100%"), written at the top left. */
  topLabel: (top: number) => string;
  title: string;
}

const width = 260;
const height = 76;
const left = 4;
const right = 8;
const top = 16;
const bottom = 4;

/** The chart; its data-points attribute says how many points it drew (for the browser tests). */
export function trendChart(points: TrendPoint[], options: TrendOptions): SVGSVGElement {
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'trend', role: 'img', 'aria-label': options.title });
  chart.append(svg('title', {}));
  chart.firstChild!.textContent = options.title;
  // The scale: 0 to 100 % when a value or the target is near it, else to a little above the larger of the two, so a
  // 2 % area coverage against a 3 % grid target is not a flat line at the bottom.
  const highest = Math.max(options.target, ...points.map((p) => p.value), 0.01);
  const scaleTop = highest > 0.5 ? 1 : Math.min(1, highest * 1.25);
  const span = Math.max(1, options.until - options.since);
  const x = (at: number) => left + ((at - options.since) / span) * (width - left - right);
  const y = (value: number) => top + (1 - value / scaleTop) * (height - top - bottom);
  chart.append(
    svg('line', { x1: left, x2: width - right, y1: y(0), y2: y(0), stroke: '#9aa8b6', 'stroke-width': 1 }),
    svg('line', { x1: left, x2: width - right, y1: y(scaleTop), y2: y(scaleTop), stroke: '#d5dde5', 'stroke-width': 1 }),
  );
  const topText = svg('text', { x: left, y: 11, 'font-size': 11, fill: '#4a5d73' });
  topText.textContent = options.topLabel(scaleTop);
  chart.append(topText);
  if (options.target > 0) {
    chart.append(svg('line', {
      x1: left, x2: width - right, y1: y(options.target), y2: y(options.target),
      stroke: '#10243e', 'stroke-width': 1.5, 'stroke-dasharray': '5 4', class: 'trend-target',
    }));
  }
  if (points.length > 0) {
    const path = points.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
    chart.append(svg('polyline', { points: path, fill: 'none', stroke: options.colour, 'stroke-width': 2.5, 'stroke-linejoin': 'round', class: 'trend-line' }));
    const last = points[points.length - 1];
    chart.append(svg('circle', { cx: x(last.at), cy: y(last.value), r: 3.5, fill: options.colour }));
  }
  chart.dataset.points = String(points.length);
  return chart;
}
