// Who a peer's TLS certificate says it is. A node's certificate names its node id as a DNS
// subjectAltName beside its address, so the dialer checks it reached the node it meant (address
// and id) and the acceptor checks the id a Hello claims against the certificate that carried it.

import { checkServerIdentity, type PeerCertificate } from 'node:tls';

/** PEM bytes a node serves HTTPS and mutual peer TLS with (`serve --tls-cert --tls-key --tls-ca`). */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** The CA every peer certificate must be signed by; clients trust it with `--cacert`. */
  readonly ca: Buffer;
}

/** The DNS names of a certificate's subjectAltName, as Node prints it ("DNS:n1, IP Address:…"). */
export function certificateDnsNames(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined || subjectAltName === '') return [];
  return subjectAltName
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice('DNS:'.length));
}

/** True when the certificate names `nodeId` among its DNS subjectAltNames. */
export function certificateNamesNode(
  cert: Pick<PeerCertificate, 'subjectaltname'>,
  nodeId: string,
): boolean {
  return certificateDnsNames(cert.subjectaltname).includes(nodeId);
}

/**
 * The dialer's check (tls.connect's checkServerIdentity): the certificate must be valid for the
 * address dialed, as any TLS client checks, and name the node this link is meant for, so one
 * node's certificate cannot answer for another at a moved or spoofed address.
 */
export function peerIdentityError(
  host: string,
  cert: PeerCertificate,
  nodeId: string,
): Error | undefined {
  const addressError = checkServerIdentity(host, cert);
  if (addressError !== undefined) return addressError;
  if (certificateNamesNode(cert, nodeId)) return undefined;
  return new Error(
    `the certificate at ${host} does not name node ${nodeId} (its names: ${cert.subjectaltname ?? 'none'})`,
  );
}
