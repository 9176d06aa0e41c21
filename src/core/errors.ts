// The error family of the public contract (DESIGN 1.2). Each class carries its code and HTTP
// status; src/http maps them to responses in one place.

/** One replica's part in a request, for the Server-Timing header (also on 503 and 504). */
export interface TimingEntry {
  readonly node: string;
  readonly durMs: number;
  readonly desc: string;
}

export abstract class KvorumError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  /** Which replicas were asked and how they answered, when the error came from a request to them. */
  timings: readonly TimingEntry[] | undefined;
  /** Extra fields for the JSON body (e.g. needed/reachable). */
  details(): Record<string, unknown> {
    return {};
  }
}

export class InvalidArgumentError extends KvorumError {
  readonly code = 'invalid_argument';
  readonly status = 400;
}

export class UnauthorizedError extends KvorumError {
  readonly code = 'unauthorized';
  readonly status = 401;
}

export class NotFoundError extends KvorumError {
  readonly code = 'not_found';
  readonly status = 404;
}

export class ValueTooLargeError extends KvorumError {
  readonly code = 'value_too_large';
  readonly status = 413;
}

export class KeyTooLongError extends KvorumError {
  readonly code = 'key_too_long';
  readonly status = 414;
}

/** The request contradicts the cluster's state, e.g. a layout change while one is in progress. */
export class ConflictError extends KvorumError {
  readonly code = 'conflict';
  readonly status = 409;
}

/** Siblings mode: the key holds as many siblings as the cap allows; resolve them first. */
export class TooManySiblingsError extends KvorumError {
  readonly code = 'too_many_siblings';
  readonly status = 409;
  constructor(
    readonly siblings: number,
    readonly limit: number,
  ) {
    super(
      `this key already holds ${siblings} concurrent values (the limit is ${limit}); read it and ` +
        'write the resolved value with the X-Kvorum-Context of that read',
    );
  }
  override details(): Record<string, unknown> {
    return { siblings: this.siblings, limit: this.limit };
  }
}

/** Too few replicas reachable: answered at once, and nothing was written. */
export class UnavailableError extends KvorumError {
  readonly code = 'unavailable';
  readonly status = 503;
  constructor(
    readonly needed: number,
    readonly reachable: number,
    what: 'read' | 'write',
  ) {
    super(
      `this ${what} needs ${needed} replica(s) but only ${reachable} are reachable from this node; ` +
        `retry later, ask another node, or lower ${what === 'read' ? 'r' : 'w'}`,
    );
  }
  override details(): Record<string, unknown> {
    return { needed: this.needed, reachable: this.reachable };
  }
}

/**
 * The node is over its budget of bytes or requests in flight: answered at once, before the body
 * is read, and nothing was written. `retryAfterS` goes out as Retry-After.
 */
export class OverloadedError extends KvorumError {
  readonly code = 'overloaded';
  readonly status = 503;
  constructor(
    readonly resource: 'bytes' | 'requests',
    readonly inFlight: number,
    readonly limit: number,
    readonly retryAfterS: number,
  ) {
    super(
      resource === 'bytes'
        ? `this node already has ${inFlight} bytes of requests and replication in flight (its budget is ${limit}); retry after ${retryAfterS} s or ask another node`
        : `this node already has ${inFlight} requests in flight (its budget is ${limit}); retry after ${retryAfterS} s or ask another node`,
    );
  }
  override details(): Record<string, unknown> {
    return { resource: this.resource, inFlight: this.inFlight, limit: this.limit };
  }
}

/** Not enough replicas answered in time. For a write the outcome is unknown. */
export class TimeoutError extends KvorumError {
  readonly code = 'timeout';
  readonly status = 504;
  constructor(
    readonly needed: number,
    readonly acked: number,
    readonly isWrite: boolean,
    timeoutMs: number,
  ) {
    super(
      `only ${acked} of the ${needed} replica(s) needed answered; the others failed or did not ` +
        `answer within ${timeoutMs} ms` +
        (isWrite ? '; the write may or may not have been applied' : ''),
    );
  }
  override details(): Record<string, unknown> {
    return this.isWrite
      ? { needed: this.needed, acked: this.acked, indeterminate: true }
      : { needed: this.needed, acked: this.acked };
  }
}

/**
 * Siblings mode: this node may not issue a write for the key now. Its store is only known to
 * hold every dot it issued for the key while it is in the key's read set (a node that once
 * dropped the key, or has yet to receive it in a layout change, may not): a dot issued over a
 * store missing one of its own earlier dots would claim to supersede it. Internal: the
 * coordinator asks the next replica.
 */
export class NotAnIssuerError extends Error {
  override readonly name = 'NotAnIssuerError';
  constructor(
    readonly node: string,
    readonly key: string,
  ) {
    super(`${node} is not in the read set of ${key}: it may not issue a write for it`);
  }
}

/** A peer did not answer a single request in time, or its link is down. Internal to replication. */
export class PeerError extends Error {
  constructor(
    readonly peer: string,
    /**
     * timeout: no answer in time; unreachable: the request was never sent; lost: sent, then
     * the connection closed before an answer (like timeout, the outcome is unknown); remote:
     * the peer answered with an error.
     */
    readonly reason: 'timeout' | 'unreachable' | 'lost' | 'remote',
    message?: string,
  ) {
    super(message ?? `peer ${peer}: ${reason}`);
  }
}

/**
 * Consensus (a layout change): no majority of the acceptors promised and accepted within
 * `attempts` ballots, because too few answered or because other proposers kept outbidding this
 * one. Like a timed-out write, the outcome is unknown: the value may have been chosen anyway,
 * and proposing again for the slot learns the value that was.
 */
export class NoMajorityError extends KvorumError {
  readonly code = 'no_majority';
  readonly status = 503;
  constructor(
    readonly slot: number,
    readonly needed: number,
    /** The most acceptors that answered one phase of one ballot. */
    readonly answered: number,
    readonly acceptors: number,
    readonly attempts: number,
    /** Whether some acceptor refused a ballot because it had promised a higher one. */
    readonly outbid: boolean,
  ) {
    super(
      `no majority for slot ${slot} in ${attempts} ballot(s): ${needed} of the ${acceptors} ` +
        `acceptors must answer and at most ${answered} did` +
        (outbid ? ', and other proposers held higher ballots' : '') +
        '; a value may or may not have been chosen; retry to learn it',
    );
  }
  override details(): Record<string, unknown> {
    return {
      slot: this.slot,
      needed: this.needed,
      answered: this.answered,
      acceptors: this.acceptors,
      outbid: this.outbid,
      indeterminate: true,
    };
  }
}

/**
 * Two layout histories disagree about the nodes of one version. Versions are decided by
 * consensus, so this is a bug or a node of another cluster. Internal to membership.
 */
export class LayoutDivergedError extends Error {
  override readonly name = 'LayoutDivergedError';
  constructor(
    readonly version: number,
    message: string,
  ) {
    super(message);
  }
}
