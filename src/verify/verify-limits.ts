// Every number `kvorum verify` runs by: timeouts, workload mix, fault timings and bounds. They
// belong to the harness, not to a replica, so they live here rather than in src/config.ts.

export const VERIFY_LIMITS = Object.freeze({
  /**
   * `?timeout=` on every client request (and a local cluster's default): how long a coordinator
   * may wait for replicas. Short, so a client stuck behind a lossy link loses little time and
   * the history stays dense where the faults are.
   */
  opTimeoutMs: 500,
  /** The client gives up (outcome unknown) this long after the server's own timeout. */
  clientMarginMs: 1_000,
  /** Admin calls (faults, copies, repair) give up after this. */
  adminTimeoutMs: 3_000,
  /** Default operations per second over all clients; clients think between operations. */
  rateDefault: 300,
  rateMax: 5_000,
  clientsMax: 64,
  keysMax: 1_000,
  /** Longest run; the checker's work grows with the history. */
  durationMsMax: 3_600_000,
  /** Shares of a client's iterations: adds to the set, writes to a register, the rest reads. */
  addShare: 0.1,
  writeShare: 0.25,
  /** Siblings mode: writes without a context, which make siblings instead of resolving them. */
  blindWriteShare: 0.2,
  /** Link faults (partitions, delays, drops) last this long, then the links heal. */
  linkFaultMs: { min: 1_500, max: 5_000 },
  killFaultMs: { min: 1_000, max: 3_000 },
  pauseFaultMs: { min: 1_000, max: 3_000 },
  skewFaultMs: { min: 3_000, max: 8_000 },
  /**
   * A membership change (a join, a leave, a dead node's removal) is planned to settle within
   * this; when the layout takes longer, the runner waits (up to membershipSettleDeadlineMs)
   * and the process lane's next fault starts late.
   */
  membershipFaultMs: { min: 4_000, max: 8_000 },
  /** A layout change must be agreed, and the layout settled on every member, within this. */
  membershipSettleDeadlineMs: 30_000,
  /** POST /admin/leave answers once consensus agrees; a proposer gives up within about 18 s. */
  membershipCallTimeoutMs: 25_000,
  /** Before a killed node is removed, a member must see it down within this (else it waits). */
  peerDownDeadlineMs: 10_000,
  /** A live node that left exits by itself (after layoutLeaveLingerMs) within this. */
  leftExitDeadlineMs: 15_000,
  /**
   * Joins a membership nemesis plans beyond the starting size: with 1, a cluster of N nodes
   * alternates between N and N+1, so every change after the first join can be a removal.
   */
  membersAboveStartMax: 1,
  /** Quiet time between two faults of the same lane, and before the first. */
  faultGapMs: { min: 500, max: 2_500 },
  /** Clock skew given to a restarted node, either way. */
  skewOffsetMs: { min: 1_500, max: 10_000 },
  /** Delay faults: latency and jitter on each affected link, and the drop probability. */
  linkDelayMs: { min: 20, max: 250 },
  linkDropRate: { min: 0.2, max: 0.7 },
  /** A started or restarted node must answer /health within this. */
  nodeStartDeadlineMs: 20_000,
  /** Starts of a local cluster tried on fresh ports when a port was taken meanwhile. */
  clusterStartAttemptsMax: 3,
  /** After the heal, every node must see every other up within this. */
  recoveryDeadlineMs: 30_000,
  /** After the heal, replicas must agree within this (anti-entropy is triggered meanwhile). */
  convergenceDeadlineMs: 30_000,
  convergencePollMs: 250,
  /** Admin reads of local copies in flight at once. */
  copyReadsInFlightMax: 32,
  /** The linearizability search gives up (verdict unknown) after this. */
  checkBudgetMs: 60_000,
  /** Local clusters: anti-entropy runs this often during the run, as well as on demand. */
  antiEntropyIntervalMs: 5_000,
  /** Lines of each local node's output kept for a failure report. */
  nodeLogLinesMax: 200,
  /**
   * --compare-pbs: edges of the read-age buckets (ms since the latest acknowledged write of the
   * key), the last one open-ended. Fine at the start, where on loopback the model's curve falls
   * from its highest to nearly 0, coarse after, where an injected delay's window ends.
   */
  pbsCompareEdgesMs: Object.freeze([0, 1, 2, 5, 10, 20, 50, 100]),
  /**
   * --compare-pbs: the t at which every node is asked GET /admin/pbs; a read's prediction is
   * read between the two nearest (linearly), and past the last one is the last one's.
   */
  pbsCompareGridMs: Object.freeze([
    0, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 12.5, 15, 17.5, 20, 25,
    30, 35, 40, 45, 50, 60, 70, 85, 100, 150, 200, 300, 500, 1_000,
  ]),
  /** Anomalies listed by name in a report; the counts are always complete. */
  anomaliesShownMax: 5,
});
