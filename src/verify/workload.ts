// The clients of `kvorum verify`: each runs reads, unique-value writes and set adds against
// random members until told to stop, recording every operation's invocation, completion and
// outcome. Every choice (operation, key, node, think time) comes from the client's own seeded
// stream and is drawn whatever the previous answer was, so a seed replays the same choices (the
// node a draw lands on depends on the members at that moment, which a membership nemesis moves).

import { setMaxListeners } from 'node:events';
import type { KvAnswer, NodeApi } from './node-api.js';
import type { HistoryRecorder, Invocation } from './records.js';
import type { SeededRng } from './rng.js';
import { sleep } from './sleep.js';
import { VERIFY_LIMITS } from './verify-limits.js';

export interface WorkloadOptions {
  readonly clients: number;
  /** The register keys reads and writes go to. */
  readonly keys: readonly string[];
  /** Set elements are written to `<setKeyPrefix><value>`, one key each. */
  readonly setKeyPrefix: string;
  /**
   * The nodes clients may talk to now: the members, as a membership nemesis changes them. Asked
   * before every operation; the same array until the members change.
   */
  readonly nodes: () => readonly NodeApi[];
  /** siblings: writes carry the context of a read just before (read-modify-write). */
  readonly mode: 'lww' | 'siblings';
  /** Operations per second over all clients. */
  readonly rate: number;
  /** Shares of set adds and register writes among a client's iterations; the rest are reads. */
  readonly mix?: WorkloadMix;
  /** Which nodes reads and which nodes writes (and adds) go to; any node when absent. */
  readonly routes?: WorkloadRoutes;
  readonly rng: SeededRng;
  readonly recorder: HistoryRecorder;
  /** Milliseconds since the run started. */
  readonly now: () => number;
}

export interface WorkloadMix {
  readonly add: number;
  readonly write: number;
}

/**
 * Node ids each kind of operation may go to. A targeted test pins them: writes through one side
 * of a partition and reads through the other, say, so a bug shows on the first chance it gets.
 * When none of a route's nodes is a member any more, its operations go to every member.
 */
export interface WorkloadRoutes {
  readonly reads?: readonly string[];
  readonly writes?: readonly string[];
}

export const DEFAULT_MIX: WorkloadMix = Object.freeze({
  add: VERIFY_LIMITS.addShare,
  write: VERIFY_LIMITS.writeShare,
});

/** Resolves once every client has finished its last operation after `signal` aborted. */
export async function runClients(opts: WorkloadOptions, signal: AbortSignal): Promise<void> {
  // Every client waits on the signal between operations.
  setMaxListeners(opts.clients + 10, signal);
  await Promise.all(Array.from({ length: opts.clients }, (_, i) => runClient(i, opts, signal)));
}

async function runClient(client: number, o: WorkloadOptions, signal: AbortSignal): Promise<void> {
  const rng = o.rng.fork(`client-${client}`);
  // Mean time between a client's operations, for the asked rate over all clients.
  const thinkMeanMs = (1000 * o.clients) / o.rate;
  const mix = o.mix ?? DEFAULT_MIX;
  let members: readonly NodeApi[] = [];
  let readers: NodeApi[] = [];
  let writers: NodeApi[] = [];
  let seq = 0;
  while (!signal.aborted) {
    if (o.nodes() !== members) {
      members = o.nodes();
      readers = routed(members, o.routes?.reads);
      writers = routed(members, o.routes?.writes);
    }
    // Drawn up front, every time, so no answer shifts the numbers that follow.
    const roll = rng.next();
    const key = o.keys[hotKeyIndex(rng.next(), o.keys.length)]!;
    // Any node (of the operation's route), each time: writes go through different coordinators,
    // and clients stuck behind a sick node are spread over all clients rather than starving a
    // few. One draw serves reads and writes, so without routes the stream is what it always was.
    const u = rng.next();
    const node = at(readers, u);
    const writer = at(writers, u);
    const writeNode = at(writers, rng.next());
    const blind = rng.chance(VERIFY_LIMITS.blindWriteShare);
    const thinkMs = rng.next() * 2 * thinkMeanMs;
    // Unique across the run: client i writes i+1, i+1+clients, i+1+2*clients, …
    const value = String(seq * o.clients + client + 1);
    seq += 1;

    if (roll < mix.add) {
      await write(
        o,
        { client, node: writer.id, key: `${o.setKeyPrefix}${value}`, f: 'add', value },
        writer,
      );
    } else if (roll < mix.add + mix.write) {
      if (o.mode === 'lww' || blind) {
        await write(o, { client, node: writer.id, key, f: 'write', value }, writer);
      } else {
        // Read-modify-write through two coordinators: the write supersedes what the read saw.
        const seen = await read(o, client, key, node);
        if (seen.outcome === 'ok' && seen.context !== undefined) {
          await write(
            o,
            {
              client,
              node: writeNode.id,
              key,
              f: 'write',
              value,
              contextValues: seen.values ?? [],
            },
            writeNode,
            seen.context,
          );
        }
      }
    } else {
      await read(o, client, key, node);
    }
    await sleep(thinkMs, signal);
  }
}

function routed(nodes: readonly NodeApi[], ids: readonly string[] | undefined): NodeApi[] {
  if (nodes.length === 0) throw new RangeError('no node to send operations to');
  const out = ids === undefined ? [] : nodes.filter((node) => ids.includes(node.id));
  // Every routed node has left: re-routed to the members, not to nodes that are gone.
  return out.length === 0 ? [...nodes] : out;
}

/** The item a uniform draw `u` in [0, 1) picks, as SeededRng.pick would. */
function at<T>(items: readonly T[], u: number): T {
  return items[Math.floor(u * items.length)]!;
}

/**
 * Key i is chosen with weight 1/(i+1) (Zipf): the first keys are hot, so their histories are
 * dense enough for short-lived faults to leave anomalies there, and the rest still get traffic.
 */
export function hotKeyIndex(u: number, count: number): number {
  let total = 0;
  for (let i = 0; i < count; i++) total += 1 / (i + 1);
  let acc = 0;
  for (let i = 0; i < count; i++) {
    acc += 1 / (i + 1) / total;
    if (u < acc) return i;
  }
  return count - 1;
}

async function read(
  o: WorkloadOptions,
  client: number,
  key: string,
  node: NodeApi,
): Promise<KvAnswer> {
  const id = o.recorder.invoke({ client, node: node.id, key, f: 'read', invokeAt: o.now() });
  const answer = await node.read(key);
  const { outcome, status, values } = answer;
  o.recorder.complete(id, { outcome, status, values, completeAt: o.now() });
  return answer;
}

async function write(
  o: WorkloadOptions,
  op: Omit<Invocation, 'invokeAt'>,
  node: NodeApi,
  context?: string,
): Promise<void> {
  const id = o.recorder.invoke({ ...op, invokeAt: o.now() });
  const answer = await node.write(op.key, op.value ?? '', context);
  o.recorder.complete(id, { outcome: answer.outcome, status: answer.status, completeAt: o.now() });
}

/** One read of `key` through `node`, recorded as a final read (after the heal). */
export async function finalRead(
  o: Pick<WorkloadOptions, 'recorder' | 'now'>,
  client: number,
  key: string,
  node: NodeApi,
): Promise<KvAnswer> {
  const id = o.recorder.invoke({
    client,
    node: node.id,
    key,
    f: 'read',
    invokeAt: o.now(),
    final: true,
  });
  const answer = await node.read(key);
  const { outcome, status, values } = answer;
  o.recorder.complete(id, { outcome, status, values, completeAt: o.now() });
  return answer;
}
