// Admission control: a node takes a request only while its budget of requests and bytes in
// flight allows, and refuses the rest at once (503 overloaded) instead of queueing them until
// they time out. Bytes in flight are the bodies of admitted requests, reserved at their declared
// length before a byte is read, plus what is queued to peers but not yet written to their
// sockets (replication of those bodies), which the transport reports.

import { OverloadedError } from './errors.js';

export interface AdmissionLimits {
  readonly bytesMax: number;
  /**
   * Write payload (bodies of admitted writes not yet answered) in flight at once. Each goes to
   * every replica, so this is the backlog a write can find on a peer link: kept small enough to
   * drain well within a request's timeout, so a burst gets fast 503s instead of slow 504s.
   */
  readonly writeBytesMax: number;
  readonly requestsMax: number;
  /** Seconds a refused client is told to wait (Retry-After). */
  readonly retryAfterS: number;
}

/** What an admitted request holds; give it back exactly once with release(). */
export interface Admitted {
  readonly bytes: number;
  released: boolean;
}

export class Admission {
  private bytes = 0;
  private requests = 0;
  /** Body bytes admitted since start (only grows). */
  private bytesAdmitted = 0;
  /** Body bytes refused since start: a refused upload still passes through memory. */
  private bytesRefused = 0;

  constructor(
    private readonly limits: AdmissionLimits,
    /** Bytes queued to peers and not yet handed to the network. */
    private readonly queuedBytes: () => number = () => 0,
  ) {}

  /** Admits a request that will bring `bytes` of body, or throws OverloadedError. */
  admit(bytes: number): Admitted {
    try {
      return this.tryAdmit(bytes);
    } catch (err) {
      this.bytesRefused += bytes;
      throw err;
    }
  }

  private tryAdmit(bytes: number): Admitted {
    const { bytesMax, requestsMax, retryAfterS } = this.limits;
    if (this.requests >= requestsMax) {
      throw new OverloadedError('requests', this.requests, requestsMax, retryAfterS);
    }
    if (bytes > 0) {
      const inFlight = this.bytes + this.queuedBytes();
      // A body alone larger than the budget could never be admitted: let it through when the
      // node is otherwise idle, so the budget bounds concurrency, not the size of a value.
      if (inFlight + bytes > bytesMax && inFlight > 0) {
        throw new OverloadedError('bytes', inFlight, bytesMax, retryAfterS);
      }
      if (this.bytes + bytes > this.limits.writeBytesMax && this.bytes > 0) {
        throw new OverloadedError('bytes', this.bytes, this.limits.writeBytesMax, retryAfterS);
      }
    }
    this.bytes += bytes;
    this.bytesAdmitted += bytes;
    this.requests += 1;
    return { bytes, released: false };
  }

  /** Client requests admitted and not yet answered: clients waiting on this node. */
  get requestsInFlight(): number {
    return this.requests;
  }

  release(a: Admitted): void {
    if (a.released) return;
    a.released = true;
    this.bytes -= a.bytes;
    this.requests -= 1;
  }

  status(): {
    requests: number;
    bytes: number;
    bytesAdmitted: number;
    bytesRefused: number;
    queuedBytes: number;
  } {
    return {
      requests: this.requests,
      bytes: this.bytes,
      bytesAdmitted: this.bytesAdmitted,
      bytesRefused: this.bytesRefused,
      queuedBytes: this.queuedBytes(),
    };
  }
}
