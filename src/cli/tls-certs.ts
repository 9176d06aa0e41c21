// `kvorum cluster --tls`: a throwaway CA and one certificate per node under <data>/tls/, made
// by the openssl binary. Each node certificate names the node id and the node's addresses as
// subjectAltNames (src/net/tls-identity.ts checks both) and serves HTTPS and peer TLS alike.
// The CA key stays beside them (0600) so a later run can certify a new node or a new address
// without replacing the CA that clients already trust; delete it to make the CA final.

import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { LIMITS, httpHostPort, peerHostPort, type NodeAddress } from '../config.js';
import { certificateDnsNames } from '../net/tls-identity.js';
import { CommandError } from './command.js';

/** Where the files of one cluster's TLS live. */
export function clusterTlsPaths(dataDir: string) {
  const dir = path.join(dataDir, 'tls');
  return {
    dir,
    /** Give this to clients: `curl --cacert`, `kvorum get --cacert`. */
    ca: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca-key.pem'),
    cert: (id: string) => path.join(dir, `${id}.pem`),
    key: (id: string) => path.join(dir, `${id}-key.pem`),
  };
}

/** The `serve` flags that run node `id` with the certificates made here. */
export function serveTlsArgs(dataDir: string, id: string): string[] {
  const p = clusterTlsPaths(dataDir);
  return ['--tls-cert', p.cert(id), '--tls-key', p.key(id), '--tls-ca', p.ca];
}

/** The addresses a node is reached at: its HTTP host and its peer host (brackets removed). */
export function nodeHosts(node: NodeAddress): string[] {
  const unbracket = (h: string) => (h.startsWith('[') ? h.slice(1, -1) : h);
  return [...new Set([unbracket(httpHostPort(node).host), unbracket(peerHostPort(node).host)])];
}

/** The subjectAltName of a node certificate: its id, its hosts, and the loopback names. */
export function nodeSubjectAltName(id: string, hosts: readonly string[]): string {
  const names = new Set([`DNS:${id}`, 'DNS:localhost', 'IP:127.0.0.1']);
  for (const h of hosts) names.add(isIP(h) === 0 ? `DNS:${h}` : `IP:${h}`);
  return [...names].join(',');
}

const openssl = (args: readonly string[], cwd: string): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: LIMITS.opensslTimeoutMs }, (err, _out, stderr) => {
      if (err === null) return resolve();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(
          new CommandError(
            '--tls makes certificates with the openssl binary, and none is on PATH; install openssl ' +
              '(e.g. apt-get install openssl), or run kvorum serve with your own --tls-cert, --tls-key and --tls-ca',
          ),
        );
      }
      const why = stderr.trim().split('\n').slice(-1)[0] ?? err.message;
      reject(new CommandError(`openssl ${args[0]} failed making certificates in ${cwd}: ${why}`));
    });
  });

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** Safe in a certificate subject: the cluster name is free text. */
function subjectName(s: string): string {
  return s.replace(/[^\w .-]/g, '-').slice(0, 48);
}

/** A node certificate this CA signed that still names the node and every one of its hosts. */
async function isCurrent(
  certFile: string,
  keyFile: string,
  ca: X509Certificate,
  id: string,
  hosts: readonly string[],
): Promise<boolean> {
  if (!(await exists(keyFile)) || !(await exists(certFile))) return false;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await readFile(certFile));
  } catch {
    return false;
  }
  if (!cert.verify(ca.publicKey) || Date.parse(cert.validTo) <= Date.now()) return false;
  if (!certificateDnsNames(cert.subjectAltName).includes(id)) return false;
  return hosts.every((h) => (isIP(h) === 0 ? cert.checkHost(h) : cert.checkIP(h)) !== undefined);
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * Makes what is missing under <data>/tls/: the CA (when absent) and a certificate for each node
 * that has none current. Returns the ids certified now. Keys are written 0600 in a 0700 directory.
 */
export async function ensureClusterCertificates(
  dataDir: string,
  clusterName: string,
  nodes: readonly NodeAddress[],
): Promise<{ readonly caCreated: boolean; readonly certified: readonly string[] }> {
  const p = clusterTlsPaths(dataDir);
  await mkdir(p.dir, { recursive: true, mode: 0o700 });
  await chmod(p.dir, 0o700);
  const days = String(LIMITS.tlsCertValidDays);
  const caCreated = !(await exists(p.ca)) || !(await exists(p.caKey));
  if (caCreated) {
    await openssl(
      [
        'req',
        '-x509',
        ...EC_KEY,
        '-keyout',
        p.caKey,
        '-out',
        p.ca,
        '-days',
        days,
        '-subj',
        `/CN=kvorum ${subjectName(clusterName)} throwaway CA`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      p.dir,
    );
    await chmod(p.caKey, 0o600);
  }
  const ca = new X509Certificate(await readFile(p.ca));
  const certified: string[] = [];
  for (const node of nodes) {
    const hosts = nodeHosts(node);
    if (!caCreated && (await isCurrent(p.cert(node.id), p.key(node.id), ca, node.id, hosts)))
      continue;
    const csr = path.join(p.dir, `${node.id}.csr`);
    const ext = path.join(p.dir, `${node.id}.ext`);
    await writeFile(
      ext,
      [
        `subjectAltName=${nodeSubjectAltName(node.id, hosts)}`,
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        // One certificate for both ends of a peer link and for HTTPS.
        'extendedKeyUsage=serverAuth,clientAuth',
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid',
        '',
      ].join('\n'),
    );
    try {
      await openssl(
        [
          'req',
          '-new',
          ...EC_KEY,
          '-keyout',
          p.key(node.id),
          '-out',
          csr,
          '-subj',
          `/CN=${node.id}`,
        ],
        p.dir,
      );
      await chmod(p.key(node.id), 0o600);
      await openssl(
        [
          'x509',
          '-req',
          '-in',
          csr,
          '-CA',
          p.ca,
          '-CAkey',
          p.caKey,
          '-set_serial',
          `0x${randomBytes(16).toString('hex')}`,
          '-days',
          days,
          '-extfile',
          ext,
          '-out',
          p.cert(node.id),
        ],
        p.dir,
      );
    } finally {
      await rm(csr, { force: true });
      await rm(ext, { force: true });
    }
    certified.push(node.id);
  }
  return { caCreated, certified };
}
