// The opaque causal context of DESIGN 1.2 (X-Kvorum-Context).
//   lww:      base64url("1|wallMs|logical|node"), the version a read saw (absent key: node "").
//             A write that sends it back is stamped above that version; nothing else changes.
//   siblings: base64url("2|node.counter,node.counter,..."), the clock of the version set a read
//             saw. A write that sends it back supersedes exactly the siblings that clock covers.
// A cluster accepts both forms and ignores the one that does not apply to its mode, so clients
// keep one code path. Contexts are bounded: the clock has one entry per node that issued a dot
// for the key, and only the key's replicas issue dots, so at most N; a context is refused past
// clockEntriesMax entries here, and by the replica when it names a node outside the cluster.

import { InvalidArgumentError } from './errors.js';
import { HLC_ZERO, LOGICAL_MAX, type Hlc } from './hlc.js';
import { COUNTER_MAX, EMPTY_CLOCK, type VClock } from './version-set.js';
import { LIMITS } from '../config.js';

const CONTEXT_CHARS_MAX = LIMITS.contextCharsMax;
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** A dot's issuer: a node id, and the epoch of the store it issued from (src/replica/actor.ts). */
const ACTOR_ID = /^[A-Za-z0-9_-]{1,64}(~[0-9a-f]{1,16})?$/;
const WALL_MS_MAX = 2 ** 48 - 1;

export type ParsedContext =
  { readonly kind: 'lww'; readonly ts: Hlc } | { readonly kind: 'clock'; readonly clock: VClock };

export function encodeLwwContext(ts: Hlc | undefined): string {
  const t = ts ?? HLC_ZERO;
  return Buffer.from(`1|${t.wallMs}|${t.logical}|${t.node}`, 'utf8').toString('base64url');
}

export function encodeClockContext(clock: VClock): string {
  const body = clock.map(([node, counter]) => `${node}.${counter}`).join(',');
  return Buffer.from(`2|${body}`, 'utf8').toString('base64url');
}

function malformed(): never {
  throw new InvalidArgumentError(
    'X-Kvorum-Context is malformed; send back exactly the value a GET of this key returned',
  );
}

export function parseContext(s: string): ParsedContext {
  if (s.length === 0 || s.length > CONTEXT_CHARS_MAX || !/^[A-Za-z0-9_-]+$/.test(s)) malformed();
  const text = Buffer.from(s, 'base64url').toString('utf8');
  if (text.startsWith('2|')) return { kind: 'clock', clock: parseClock(text.slice(2)) };
  const parts = text.split('|');
  if (parts.length !== 4 || parts[0] !== '1') malformed();
  const [, wall, logical, node] = parts as [string, string, string, string];
  const digits = /^(0|[1-9][0-9]{0,15})$/;
  if (!digits.test(wall) || !digits.test(logical)) malformed();
  // The bounds every stored timestamp has (u48 wall, u32 logical): anything larger could not
  // have come from a read, and a write stamped above it could not be stored or sent.
  if (Number(wall) > WALL_MS_MAX || Number(logical) > LOGICAL_MAX) malformed();
  // "" is what a read of an absent key hands out.
  if (node !== '' && !NODE_ID.test(node)) malformed();
  return { kind: 'lww', ts: { wallMs: Number(wall), logical: Number(logical), node } };
}

function parseClock(body: string): VClock {
  if (body.length === 0) return EMPTY_CLOCK;
  const out: [string, number][] = [];
  for (const entry of body.split(',')) {
    const dot = entry.lastIndexOf('.');
    const node = entry.slice(0, dot);
    const digits = entry.slice(dot + 1);
    if (dot <= 0 || !ACTOR_ID.test(node) || !/^[1-9][0-9]{0,14}$/.test(digits)) malformed();
    const counter = Number(digits);
    if (counter > COUNTER_MAX) malformed();
    // Entries are sorted and unique, as encodeClockContext writes them.
    const prev = out[out.length - 1];
    if (prev !== undefined && prev[0] >= node) malformed();
    out.push([node, counter]);
    if (out.length > LIMITS.clockEntriesMax) malformed();
  }
  return out;
}
