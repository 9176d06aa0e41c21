// One colour per node, the same in the ring, the links and the tables; chart lines draw from
// the same palette.

const PALETTE = [
  '#2f6fdf',
  '#d9472b',
  '#1f9d6b',
  '#a24fd1',
  '#d68a00',
  '#1b9bb5',
  '#c2417e',
  '#6b7a12',
  '#5a4fcf',
  '#8a5a00',
];

/** The i-th colour of the page's one palette (nodes, and the lines of a chart), cycling. */
export function seriesColor(i: number): string {
  return PALETTE[(i < 0 ? 0 : i) % PALETTE.length] as string;
}

export function nodeColor(ids: readonly string[], id: string): string {
  return seriesColor(ids.indexOf(id));
}

/** A small round swatch of a node's colour (set through the CSSOM: the page's CSP refuses style attributes). */
export function colorDot(color: string): HTMLSpanElement {
  const dot = document.createElement('span');
  dot.className = 'dot';
  dot.style.backgroundColor = color;
  return dot;
}
