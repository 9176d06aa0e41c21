import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, LIMITS, parseClusterConfig } from '../../src/config.js';

const nodes = [
  { id: 'n1', http: 'http://127.0.0.1:7001', peer: '127.0.0.1:7101' },
  { id: 'n2', http: 'http://127.0.0.1:7002', peer: '127.0.0.1:7102' },
];

describe('cluster config', () => {
  it('fills defaults', () => {
    expect(parseClusterConfig({ nodes })).toMatchObject({
      cluster: 'kvorum',
      profile: 'quorum',
      conflicts: 'lww',
      n: 2,
      timeoutMs: LIMITS.requestTimeoutMsDefault,
      valueBytesMax: LIMITS.valueBytesMaxDefault,
      fsync: false,
      siblingsMax: LIMITS.siblingsMaxDefault,
      tombstoneGraceMs: LIMITS.tombstoneGraceMsDefault,
      antiEntropyIntervalMs: LIMITS.antiEntropyIntervalMsDefault,
      hintedHandoff: true,
    });
  });

  it('the docker compose config is the same format kvorum cluster writes', () => {
    const raw = JSON.parse(
      readFileSync(resolve(import.meta.dirname, '../../docker/cluster.json'), 'utf8'),
    );
    const cfg = parseClusterConfig(raw);
    expect(cfg.nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
    expect(cfg.n).toBe(3);
  });

  it.each<[string, unknown, RegExp]>([
    ['no nodes', {}, /non-empty "nodes"/],
    ['duplicate ids', { nodes: [nodes[0], nodes[0]] }, /unique/],
    ['n above node count', { nodes, n: 3 }, /n must be/],
    ['unknown profile', { nodes, profile: 'fast' }, /profile must be/],
    ['bad peer address', { nodes: [{ ...nodes[0], peer: 'nohost' }] }, /host:port/],
    ['bad http url', { nodes: [{ ...nodes[0], http: 'not a url' }] }, /URL/],
    [
      'value limit above ceiling',
      { nodes, valueBytesMax: LIMITS.valueBytesCeiling + 1 },
      /valueBytesMax/,
    ],
    ['bad node id', { nodes: [{ ...nodes[0], id: 'n 1' }] }, /id must match/],
    ['siblings with cp', { nodes, conflicts: 'siblings', profile: 'cp' }, /needs conflicts "lww"/],
    ['unknown conflicts', { nodes, conflicts: 'crdt' }, /conflicts must be/],
    ['zero sibling cap', { nodes, siblingsMax: 0 }, /siblingsMax/],
    ['negative grace', { nodes, tombstoneGraceMs: -1 }, /tombstoneGraceMs/],
    [
      'anti-entropy period above a day',
      { nodes, antiEntropyIntervalMs: LIMITS.antiEntropyIntervalMsMax + 1 },
      /antiEntropyIntervalMs/,
    ],
    ['hinted handoff not a boolean', { nodes, hintedHandoff: 'off' }, /hintedHandoff/],
  ])('rejects %s with one clear line', (_name, raw, message) => {
    expect(() => parseClusterConfig(raw)).toThrow(ConfigError);
    expect(() => parseClusterConfig(raw)).toThrow(message);
  });
});
