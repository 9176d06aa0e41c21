// `kvorum serve --tls-cert --tls-key --tls-ca`: reads and checks a node's TLS files, so a wrong
// path, a key that does not match, or a certificate for another node is one line at start
// instead of peers that silently refuse each other.

import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { certificateDnsNames, type TlsMaterial } from '../net/tls-identity.js';
import { UsageError, type FlagSpecs } from './flags.js';

export const TLS_FLAGS = {
  'tls-cert': {
    kind: 'string',
    placeholder: 'file',
    help: "this node's certificate (PEM), signed by --tls-ca, naming its id and address: serves HTTPS and peer TLS",
  },
  'tls-key': { kind: 'string', placeholder: 'file', help: "this node's private key (PEM)" },
  'tls-ca': {
    kind: 'string',
    placeholder: 'file',
    help: 'the CA (PEM) every peer certificate must be signed by',
  },
} as const satisfies FlagSpecs;

export interface TlsFiles {
  readonly 'tls-cert': string | undefined;
  readonly 'tls-key': string | undefined;
  readonly 'tls-ca': string | undefined;
}

function errnoText(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  return err instanceof Error ? err.message : String(err);
}

async function readPem(flag: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new UsageError(`cannot read --${flag} ${file}: ${errnoText(err)}`);
  }
}

/** The TLS material for node `id`, or undefined when no TLS flag is given; all three or none. */
export async function readTlsFiles(files: TlsFiles, id: string): Promise<TlsMaterial | undefined> {
  const names = ['tls-cert', 'tls-key', 'tls-ca'] as const;
  const given = names.filter((n) => files[n] !== undefined);
  if (given.length === 0) return undefined;
  if (given.length < names.length) {
    const missing = names.filter((n) => files[n] === undefined).map((n) => `--${n}`);
    throw new UsageError(
      `TLS needs --tls-cert, --tls-key and --tls-ca together; missing ${missing.join(', ')}`,
    );
  }
  const tls: TlsMaterial = {
    cert: await readPem('tls-cert', files['tls-cert'] as string),
    key: await readPem('tls-key', files['tls-key'] as string),
    ca: await readPem('tls-ca', files['tls-ca'] as string),
  };
  try {
    createSecureContext({ cert: tls.cert, key: tls.key, ca: tls.ca });
  } catch (err) {
    throw new UsageError(
      `--tls-cert ${files['tls-cert']} / --tls-key ${files['tls-key']} / --tls-ca ${files['tls-ca']}: ${errnoText(err)}`,
    );
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(tls.cert);
  } catch (err) {
    throw new UsageError(
      `--tls-cert ${files['tls-cert']} is not a PEM certificate: ${errnoText(err)}`,
    );
  }
  // Peers refuse a certificate that does not name the node (src/net/tls-identity.ts).
  if (!certificateDnsNames(cert.subjectAltName).includes(id)) {
    throw new UsageError(
      `--tls-cert ${files['tls-cert']} does not name node ${id} (its subjectAltName: ${cert.subjectAltName ?? 'none'}); peers would refuse it`,
    );
  }
  return tls;
}
