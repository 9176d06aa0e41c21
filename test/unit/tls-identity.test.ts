// Node certificates name the node id and its addresses; these checks decide whether a TLS peer
// is the node a link is meant for.

import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { nodeHosts, nodeSubjectAltName } from '../../src/cli/tls-certs.js';
import {
  certificateDnsNames,
  certificateNamesNode,
  peerIdentityError,
} from '../../src/net/tls-identity.js';

/** What Node's getPeerCertificate() gives for a certificate `kvorum cluster --tls` makes for n1. */
const N1 = {
  subject: { CN: 'n1' },
  subjectaltname: 'DNS:n1, DNS:localhost, IP Address:127.0.0.1',
} as unknown as PeerCertificate;

describe('certificateDnsNames', () => {
  it.each([
    [undefined, []],
    ['', []],
    ['DNS:n1, DNS:localhost, IP Address:127.0.0.1', ['n1', 'localhost']],
    ['IP Address:10.0.0.1', []],
    ['DNS:node-a.example, URI:spiffe://x', ['node-a.example']],
  ])('%j → %j', (san, names) => {
    expect(certificateDnsNames(san)).toEqual(names);
  });
});

describe('certificateNamesNode', () => {
  it('is true only for an id among the DNS names, not a prefix or the IP', () => {
    expect(certificateNamesNode(N1, 'n1')).toBe(true);
    expect(certificateNamesNode(N1, 'n2')).toBe(false);
    expect(certificateNamesNode(N1, 'n')).toBe(false);
    expect(certificateNamesNode(N1, '127.0.0.1')).toBe(false);
  });
});

describe('peerIdentityError (the dialer checks address and node id)', () => {
  it.each([
    ['127.0.0.1', 'n1', undefined],
    ['localhost', 'n1', undefined],
    ['127.0.0.1', 'n2', /does not name node n2/],
    ['10.0.0.7', 'n1', /IP: 10\.0\.0\.7 is not in the cert's list/],
  ])('host %s, node %s', (host, id, problem) => {
    const err = peerIdentityError(host, N1, id);
    if (problem === undefined) expect(err).toBeUndefined();
    else expect(err?.message).toMatch(problem);
  });
});

describe('node certificate names (kvorum cluster --tls)', () => {
  it('names the id, each host (IP or DNS), localhost and 127.0.0.1, once each', () => {
    expect(nodeSubjectAltName('n1', ['127.0.0.1'])).toBe('DNS:n1,DNS:localhost,IP:127.0.0.1');
    expect(nodeSubjectAltName('n2', ['10.0.0.2', 'db2.example'])).toBe(
      'DNS:n2,DNS:localhost,IP:127.0.0.1,IP:10.0.0.2,DNS:db2.example',
    );
  });

  it('takes the hosts from the HTTP URL and the peer address, IPv6 unbracketed', () => {
    expect(nodeHosts({ id: 'n1', http: 'https://[::1]:7001', peer: '::1:7101' })).toEqual(['::1']);
    expect(nodeHosts({ id: 'n1', http: 'https://a.example:7001', peer: '10.0.0.1:7101' })).toEqual([
      'a.example',
      '10.0.0.1',
    ]);
  });
});
