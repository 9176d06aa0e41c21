// The peer handshake's checks and proofs. Three frames: the dialer's Hello (its nonce, no MAC),
// the acceptor's HelloAck (its nonce, MAC over the dialer's nonce), then the dialer's second
// Hello (MAC over the acceptor's nonce). Each side thus proves the secret over a nonce it did
// not choose, and the sender id inside the MAC stops one side's proof being reflected back.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { PROTOCOL_VERSION, type Hello, type HelloAck } from './messages.js';
import { LIMITS } from '../config.js';

export const NONCE_BYTES = 16;
/** Hello frames are tiny; a larger frame before the handshake ends is hostile. */
export const HANDSHAKE_FRAME_BYTES_MAX = LIMITS.handshakeFrameBytesMax;

export interface HandshakeIdentity {
  readonly self: string;
  readonly cluster: string;
  readonly secret: string | undefined;
}

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** HMAC-SHA256(secret, `${cluster}|${senderId}|` + the other side's nonce), or null without a secret. */
export function helloMac(id: HandshakeIdentity, otherNonce: Uint8Array): Buffer | null {
  if (id.secret === undefined) return null;
  return createHmac('sha256', id.secret)
    .update(`${id.cluster}|${id.self}|`)
    .update(otherNonce)
    .digest();
}

function macValid(
  id: HandshakeIdentity,
  senderId: string,
  myNonce: Uint8Array,
  mac: Uint8Array | null,
): boolean {
  if (id.secret === undefined) return true;
  if (mac === null) return false;
  const expected = helloMac({ ...id, self: senderId }, myNonce) as Buffer;
  return mac.length === expected.length && timingSafeEqual(mac, expected);
}

export function firstHello(id: HandshakeIdentity, nonce: Uint8Array): Hello {
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    cluster: id.cluster,
    node: id.self,
    nonce,
    mac: null,
  };
}

/** The dialer's second Hello repeats the first and adds its proof over the acceptor's nonce. */
export function proofHello(
  id: HandshakeIdentity,
  myNonce: Uint8Array,
  ackNonce: Uint8Array,
): Hello {
  return { ...firstHello(id, myNonce), mac: helloMac(id, ackNonce) };
}

export function helloAck(
  id: HandshakeIdentity,
  myNonce: Uint8Array,
  helloNonce: Uint8Array,
): HelloAck {
  return {
    type: 'helloAck',
    protocol: PROTOCOL_VERSION,
    node: id.self,
    nonce: myNonce,
    mac: helloMac(id, helloNonce),
  };
}

/** Acceptor: why the dialer's first Hello is refused, or null when it may continue. */
export function refuseHello(
  id: HandshakeIdentity,
  hello: Hello,
  knownPeers: ReadonlySet<string>,
): string | null {
  if (hello.protocol !== PROTOCOL_VERSION) {
    return `peer speaks protocol ${hello.protocol}, this node speaks ${PROTOCOL_VERSION}`;
  }
  if (hello.cluster !== id.cluster) {
    return `peer belongs to cluster "${hello.cluster}", not "${id.cluster}"`;
  }
  if (hello.node === id.self) return `peer claims this node's own id ${id.self}`;
  if (!knownPeers.has(hello.node)) {
    return `peer id ${hello.node} is not in this node's cluster config`;
  }
  if (hello.nonce.length !== NONCE_BYTES) return `peer sent a ${hello.nonce.length}-byte nonce`;
  return null;
}

/** Acceptor: why the dialer's second Hello is refused, or null when the link is established. */
export function refuseProof(
  id: HandshakeIdentity,
  first: Hello,
  proof: Hello,
  ackNonce: Uint8Array,
): string | null {
  if (
    proof.node !== first.node ||
    proof.cluster !== first.cluster ||
    proof.protocol !== first.protocol
  ) {
    return 'peer changed its identity between its two hellos';
  }
  if (!Buffer.from(proof.nonce).equals(first.nonce)) {
    return 'peer changed its nonce between its two hellos';
  }
  if (!macValid(id, proof.node, ackNonce, proof.mac)) {
    return 'peer could not prove the cluster secret';
  }
  return null;
}

/** Dialer: why the acceptor's HelloAck is refused, or null when the dialer may send its proof. */
export function refuseAck(
  id: HandshakeIdentity,
  expectedPeer: string,
  myNonce: Uint8Array,
  ack: HelloAck,
): string | null {
  if (ack.protocol !== PROTOCOL_VERSION) {
    return `peer speaks protocol ${ack.protocol}, this node speaks ${PROTOCOL_VERSION}`;
  }
  if (ack.node !== expectedPeer) return `dialed ${expectedPeer} but ${ack.node} answered`;
  if (ack.nonce.length !== NONCE_BYTES) return `peer sent a ${ack.nonce.length}-byte nonce`;
  if (!macValid(id, ack.node, myNonce, ack.mac)) return 'peer could not prove the cluster secret';
  return null;
}
