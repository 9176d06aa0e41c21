// The opaque causal context of DESIGN 1.2 (X-Kvorum-Context). In lww mode it names the version
// a read saw; writes accept it and, in lww, ignore it, so clients can use one code path for
// both conflict modes. Format: base64url("1|wallMs|logical|node"); absent key -> node "".

import { InvalidArgumentError } from './errors.js';
import { HLC_ZERO, type Hlc } from './hlc.js';
import { LIMITS } from '../config.js';

const CONTEXT_CHARS_MAX = LIMITS.contextCharsMax;

export function encodeContext(ts: Hlc | undefined): string {
  const t = ts ?? HLC_ZERO;
  return Buffer.from(`1|${t.wallMs}|${t.logical}|${t.node}`, 'utf8').toString('base64url');
}

export function parseContext(s: string): Hlc {
  const malformed = (): never => {
    throw new InvalidArgumentError(
      'X-Kvorum-Context is malformed; send back exactly the value a GET of this key returned',
    );
  };
  if (s.length === 0 || s.length > CONTEXT_CHARS_MAX || !/^[A-Za-z0-9_-]+$/.test(s)) malformed();
  const parts = Buffer.from(s, 'base64url').toString('utf8').split('|');
  if (parts.length !== 4 || parts[0] !== '1') malformed();
  const wallMs = Number(parts[1]);
  const logical = Number(parts[2]);
  if (!Number.isSafeInteger(wallMs) || wallMs < 0 || !Number.isSafeInteger(logical) || logical < 0)
    malformed();
  return { wallMs, logical, node: parts[3] as string };
}
