// An HttpBackend in memory for route tests of the console: reads find nothing, writes to keys
// under `down/` are refused 503 as a minority's would be, and the console facts are fixed.

import { LIMITS } from '../../src/config.js';
import { Admission } from '../../src/core/admission.js';
import type { ConsoleClusterFacts, ConsoleNodeEntry } from '../../src/core/console-view.js';
import { UnavailableError } from '../../src/core/errors.js';
import { resolveRequestOptions } from '../../src/core/quorum.js';
import type { HttpBackend } from '../../src/http/backend.js';

export const TOKEN = 'console-test-token';
export const auth = { authorization: `Bearer ${TOKEN}` };
const DEFAULTS = {
  n: 3,
  r: 'quorum',
  w: 'quorum',
  linearizable: false,
  timeoutMs: 2000,
  timeoutMsMax: LIMITS.requestTimeoutMsMax,
};
export const NO_FAULTS = { block: [], delay: {}, drop: {} };

export const CLUSTER_FACTS: ConsoleClusterFacts = {
  cluster: 'c',
  profile: 'quorum',
  n: 3,
  r: 'quorum',
  w: 'quorum',
  conflicts: 'lww',
  profiles: {},
  layout: { version: 1, settled: true, nodes: [] },
  ring: { size: 2 ** 32, arcs: [], shares: {} },
};

/** A backend whose replicas are not there: reads find nothing, writes to `down/…` get 503. */
export function fakeBackend(peerViews: () => Promise<ConsoleNodeEntry[]>): {
  backend: HttpBackend;
  calls: { peerViews: number };
} {
  const calls = { peerViews: 0 };
  const notUsed = (): never => {
    throw new Error('not used by these tests');
  };
  const backend: HttpBackend = {
    id: 'n1',
    valueBytesMax: 1024,
    conflicts: 'lww',
    adminToken: TOKEN,
    admission: new Admission({
      bytesMax: LIMITS.inFlightBytesMax,
      writeBytesMax: LIMITS.writeBytesInFlightMax,
      requestsMax: LIMITS.inFlightRequestsMax,
      retryAfterS: LIMITS.overloadRetryAfterS,
    }),
    defaults: DEFAULTS,
    get: async (_key, params) => {
      resolveRequestOptions(params, DEFAULTS);
      return { set: undefined, timings: [] };
    },
    put: async (key, _value, _type, params) => {
      resolveRequestOptions(params, DEFAULTS);
      if (key.startsWith('down/')) throw new UnavailableError(2, 1, 'write');
      return { set: { clock: [], siblings: [] }, timings: [] } as never;
    },
    del: notUsed,
    status: notUsed,
    getFaults: notUsed,
    setFaults: notUsed,
    partition: notUsed,
    heal: notUsed,
    localKey: notUsed,
    repair: notUsed,
    metrics: notUsed,
    layout: notUsed,
    join: notUsed,
    leave: notUsed,
    pbs: notUsed,
    pbsCurve: notUsed,
    console: {
      nodeFacts: () => ({
        id: 'n1',
        pid: 1,
        at: 0,
        keys: 0,
        rssBytes: 0,
        heapUsedBytes: 0,
        cpuPercent: 0,
        hintsPending: 0,
        layoutVersion: 1,
        faults: NO_FAULTS,
        peers: {},
        staleness: { windowMs: LIMITS.stalenessWindowMs, levels: [] },
      }),
      clusterFacts: () => CLUSTER_FACTS,
      peerViews: () => {
        calls.peerViews++;
        return peerViews();
      },
    },
  };
  return { backend, calls };
}
