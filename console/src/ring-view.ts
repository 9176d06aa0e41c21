// The picture: the hash ring as a coloured band (each stretch in the colour of the node that is
// first in the preference list of its keys), the nodes inside it, and a line for every link,
// coloured by its state and labelled with the round trips measured each way.

import { nodeColor } from './colors.js';
import { s } from './dom.js';
import type { Link } from './links.js';
import type { ClusterView } from './wire.js';

const SIZE = 440;
const CENTER = SIZE / 2;
const BAND_RADIUS = 196;
const BAND_WIDTH = 16;
const NODE_ORBIT = 128;
const NODE_RADIUS = 34;

/** Where a point of the hash space sits on a circle: 0 at the top, clockwise. */
function at(fraction: number, radius: number): [number, number] {
  const angle = fraction * 2 * Math.PI - Math.PI / 2;
  return [CENTER + radius * Math.cos(angle), CENTER + radius * Math.sin(angle)];
}

function bandArc(from: number, to: number, color: string): SVGPathElement {
  const [x0, y0] = at(from, BAND_RADIUS);
  const [x1, y1] = at(to, BAND_RADIUS);
  const large = to - from > 0.5 ? 1 : 0;
  return s('path', {
    d: `M ${x0.toFixed(2)} ${y0.toFixed(2)} A ${BAND_RADIUS} ${BAND_RADIUS} 0 ${large} 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`,
    stroke: color,
    'stroke-width': BAND_WIDTH,
    fill: 'none',
  });
}

/** A round trip in few characters: the picture has little room between nodes. */
function short(v: number | null): string {
  if (v === null) return '–';
  return v < 10 ? v.toFixed(1) : String(Math.round(v));
}

/** Both ways' round trips; faults show as the line's colour, and in words in the links table. */
function linkLabel(link: Link): string {
  if (link.blocked) return 'blocked';
  if (link.state === 'unknown') return '?';
  return `${short(link.ab.rttMs)} / ${short(link.ba.rttMs)} ms`;
}

export function ringView(view: ClusterView, links: readonly Link[]): SVGSVGElement {
  const ids = view.layout.nodes.map((n) => n.id);
  const svg = s('svg', {
    viewBox: `0 0 ${SIZE} ${SIZE}`,
    class: 'ring',
    role: 'img',
    'aria-label': `hash ring of ${ids.length} nodes and their links`,
  });
  svg.appendChild(s('circle', { cx: CENTER, cy: CENTER, r: BAND_RADIUS, class: 'band-bg' }));
  for (const arc of view.ring.arcs ?? []) {
    svg.appendChild(
      bandArc(arc.from / view.ring.size, arc.to / view.ring.size, nodeColor(ids, arc.primary)),
    );
  }

  const place = new Map(ids.map((id, i) => [id, at(i / ids.length, NODE_ORBIT)]));
  const entries = new Map(view.nodes.map((e) => [e.id, e]));

  for (const link of links) {
    const [ax, ay] = place.get(link.a) as [number, number];
    const [bx, by] = place.get(link.b) as [number, number];
    svg.appendChild(
      s('line', {
        x1: ax,
        y1: ay,
        x2: bx,
        y2: by,
        class: `link ${link.state}`,
        'data-link': `${link.a}-${link.b}`,
      }),
    );
  }
  // Labels after every line, so no line crosses a label.
  for (const link of links) {
    const [ax, ay] = place.get(link.a) as [number, number];
    const [bx, by] = place.get(link.b) as [number, number];
    const text = linkLabel(link);
    const width = Math.max(44, text.length * 6.6 + 8);
    const g = s('g', { class: `link-label ${link.state}` });
    g.appendChild(
      s('rect', { x: (ax + bx) / 2 - width / 2, y: (ay + by) / 2 - 10, width, height: 20, rx: 4 }),
    );
    g.appendChild(s('text', { x: (ax + bx) / 2, y: (ay + by) / 2 + 4 }, text));
    svg.appendChild(g);
  }

  for (const node of view.layout.nodes) {
    const [x, y] = place.get(node.id) as [number, number];
    const entry = entries.get(node.id);
    const up = entry?.view !== undefined;
    const g = s('g', { class: `node ${up ? 'up' : 'down'}`, 'data-node': node.id });
    g.appendChild(
      s('circle', { cx: x, cy: y, r: NODE_RADIUS, fill: up ? nodeColor(ids, node.id) : '#9aa3ad' }),
    );
    g.appendChild(s('text', { x, y: y - 2, class: 'node-id' }, node.id));
    g.appendChild(
      s(
        'text',
        { x, y: y + 14, class: 'node-state' },
        up ? (node.state === 'member' ? 'up' : node.state) : 'down',
      ),
    );
    svg.appendChild(g);
  }
  return svg;
}
