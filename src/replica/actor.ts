// The actor id this node's dots carry in siblings mode: `<node>~<epoch>`. A DVV clock entry
// says "every dot of this actor up to here has been seen", so a node that lost its store (or
// came back from a backup) must not go on issuing under its old id: its new dots would claim
// to cover writes it no longer holds, and replicas would drop those writes as superseded.
// Riak gives such a vnode a new id; so does kvorum, whenever it starts on a store without one.

import { randomBytes } from 'node:crypto';
import type { ReplicaStore } from '../storage/replica-store.js';

const META_KEY = 'actor';

export async function actorFor(store: ReplicaStore, node: string): Promise<string> {
  const saved = await store.getMeta(META_KEY);
  if (saved !== undefined && saved.startsWith(`${node}~`)) return saved;
  const actor = `${node}~${randomBytes(5).toString('hex')}`;
  await store.putMeta(META_KEY, actor);
  return actor;
}

/** The node an actor id belongs to. */
export function nodeOfActor(actor: string): string {
  const i = actor.indexOf('~');
  return i === -1 ? actor : actor.slice(0, i);
}
