import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { FlowListener } from '../../src/listen/flowListener.js';
import { CollectorAddressError, parseCollector, resolveZone } from '../../src/transport/collectorAddress.js';
import { runCli } from '../helpers/cli.js';
import { expectedRecords, SAMPLES_DIR } from '../helpers/expectedFlows.js';
import { expectOneLineError } from './oneLine.js';

const v6 = (scopeid: number, address = 'fe80::1'): NetworkInterfaceInfo => ({
  address,
  family: 'IPv6',
  scopeid,
  netmask: 'ffff:ffff:ffff:ffff::',
  mac: '02:00:00:00:00:01',
  internal: false,
  cidr: null,
});
const INTERFACES = { lo: [v6(0, '::1')], eth7: [v6(3)] };

describe('IPv6 collectors with a zone (link-local)', () => {
  it('parses [address%zone]:port and a bare scoped address', () => {
    expect(parseCollector('[fe80::1%eth0]:4739', 2055)).toEqual({ host: 'fe80::1%eth0', port: 4739 });
    expect(parseCollector('[fe80::1%2]', 4739)).toEqual({ host: 'fe80::1%2', port: 4739 });
    expect(parseCollector('fe80::1%eth0', 4739)).toEqual({ host: 'fe80::1%eth0', port: 4739 });
  });

  it('turns a zone index into its interface name (node:dgram takes names only), and refuses a zone this host does not have', () => {
    expect(resolveZone('c', 'fe80::1%3', INTERFACES)).toBe('fe80::1%eth7');
    expect(resolveZone('c', 'fe80::1%eth7', INTERFACES)).toBe('fe80::1%eth7');
    expect(() => resolveZone('c', 'fe80::1%9', INTERFACES)).toThrow(/no network interface has index 9 \(this host has: lo, eth7\)/);
    expect(() => resolveZone('c', 'fe80::1%eth9', INTERFACES)).toThrow(CollectorAddressError);
  });

  it('sends to [::1%lo]:port (a scoped address on loopback), every record arrives', async () => {
    const received: unknown[] = [];
    const listener = await FlowListener.open({ host: '::1', port: 0, enterpriseNumber: 32473, onRecord: (r) => !r.options && received.push(r) });
    try {
      const run = await runCli(['replay', SAMPLES_DIR, '-q', '--max-pps', '0', '-c', `[::1%lo]:${listener.address.port}`]);
      expect(run.stderr).not.toMatch(/ERR_SOCKET_BAD_PORT|^\s+at /m);
      expect(run.code).toBe(0);
      for (let i = 0; i < 100 && received.length < expectedRecords('split').length; i++) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await listener.close();
    }
    expect(received).toHaveLength(expectedRecords('split').length);
  });

  it('refuses a zone this host does not have, and a collector it cannot send to, with one line and exit 2 (nothing is sent)', async () => {
    expectOneLineError(
      await runCli(['replay', SAMPLES_DIR, '-q', '-c', '[fe80::1%nonexistent0]:4739']),
      /^nsg2ipfix: collector '\[fe80::1%nonexistent0\]:4739': no network interface 'nonexistent0' \(this host has: .*lo/,
    );
    // connect() of a UDP socket to a broadcast address fails (EACCES) before any datagram.
    expectOneLineError(
      // (--log-level error: the samples' version-1 NSG flow log is warned about before the send fails.)
      await runCli(['replay', SAMPLES_DIR, '-q', '--log-level', 'error', '-c', '255.255.255.255:4739']),
      /^nsg2ipfix: collector '255\.255\.255\.255:4739': cannot send to it \(EACCES\)$/,
    );
  });
});
