// One colour per node, the same in the ring, the links and the tables.

const PALETTE = [
  '#2f6fdf',
  '#d9472b',
  '#1f9d6b',
  '#a24fd1',
  '#d68a00',
  '#1b9bb5',
  '#c2417e',
  '#6b7a12',
];

export function nodeColor(ids: readonly string[], id: string): string {
  const i = ids.indexOf(id);
  return PALETTE[(i < 0 ? 0 : i) % PALETTE.length] as string;
}

/** A small round swatch of a node's colour (set through the CSSOM: the page's CSP refuses style attributes). */
export function colorDot(color: string): HTMLSpanElement {
  const dot = document.createElement('span');
  dot.className = 'dot';
  dot.style.backgroundColor = color;
  return dot;
}
