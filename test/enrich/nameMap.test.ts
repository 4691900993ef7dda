import { describe, expect, it } from 'vitest';
import { NameMap } from '../../src/enrich/nameMap.js';
import { addressWords, dottedQuadWord, normalizeIp, type InterfaceNames } from '../../src/flow/interfaceNames.js';
import { normalizeMac } from '../../src/flow/mac.js';

const web: InterfaceNames = {
  mac: '000D3AF87856',
  ips: ['10.1.0.4', '2001:db8:1::4', '20.50.1.7'],
  vm: 'vm-web-01',
  nic: 'vm-web-01-nic0',
  resourceGroup: 'rg-prod',
  subscription: '11111111-1111-1111-1111-111111111111',
  vnet: 'vnet-prod',
  subnet: 'web',
  tags: { env: 'prod' },
};
const db: InterfaceNames = { mac: '000D3AF80001', ips: ['10.1.1.5'], vm: 'vm-db-01', subscription: web.subscription, vnet: 'vnet-prod' };

const v4 = (ip: string): number => addressWords(ip)[0]!;

describe('NameMap', () => {
  it('names a NIC by its MAC in every spelling Azure and people write', () => {
    const map = NameMap.build([web, db]);
    for (const spelling of ['000D3AF87856', '00-0D-3A-F8-78-56', '000d3af87856', '00:0d:3a:f8:78:56', '000d.3af8.7856', '00-0d-3A-f8-78-56']) {
      expect(map.forMac(spelling)?.names.vm).toBe('vm-web-01');
    }
    expect(map.forMac('00-0D-3A-F8-00-01')?.names.vm).toBe('vm-db-01');
  });

  it('answers a repeated MAC string from its cache, misses included', () => {
    const map = NameMap.build([web]);
    const mac = '00-0D-3A-F8-78-56';
    const first = map.forMac(mac);
    expect(map.forMac(mac)).toBe(first);
    expect(map.forMac('00-00-00-00-00-01')).toBeUndefined();
    expect(map.forMac('00-00-00-00-00-01')).toBeUndefined();
    expect(map.forMac('not a mac')).toBeUndefined();
  });

  it('gives entities dense ids from 1 in entry order', () => {
    const map = NameMap.build([web, db]);
    expect(map.entities.map((entity) => entity.id)).toEqual([1, 2]);
    expect(map.byId(2)?.names).toBe(db);
    expect(map.byId(0)).toBeUndefined();
    expect(map.forMac(web.mac!)?.id).toBe(1);
  });

  it('names IPv4 addresses by the word FlowColumns stores, high bit included', () => {
    const high: InterfaceNames = { ips: ['200.1.2.3'], vm: 'vm-public' };
    const map = NameMap.build([web, high]);
    expect(map.forIpv4(v4('10.1.0.4'), 0)?.names.vm).toBe('vm-web-01');
    expect(map.forIpv4(v4('20.50.1.7'), 0)?.names.vm).toBe('vm-web-01');
    expect(v4('200.1.2.3')).toBeLessThan(0);
    expect(map.forIpv4(v4('200.1.2.3'), 0)?.names.vm).toBe('vm-public');
  });

  it('names IPv6 addresses read in place from an array of words', () => {
    const map = NameMap.build([web]);
    const columns = new Int32Array(8);
    columns.set(addressWords('2001:db8:99::1'), 0);
    columns.set(addressWords('2001:db8:1::4'), 4);
    expect(map.forIpv6(columns, 4, 0)?.names.vm).toBe('vm-web-01');
    expect(map.forIpv6(columns, 0, 0)).toBeUndefined();
    expect(map.forAddress('2001:0db8:0001:0000:0000:0000:0000:0004', 0)?.names.vm).toBe('vm-web-01');
  });

  it('leaves unknown addresses and an empty map unnamed', () => {
    const map = NameMap.build([web]);
    expect(map.forIpv4(v4('10.1.0.5'), 0)).toBeUndefined();
    expect(map.forAddress('192.0.2.1', 0)).toBeUndefined();
    expect(NameMap.EMPTY.forIpv4(v4('10.1.0.4'), 0)).toBeUndefined();
    expect(NameMap.EMPTY.forMac('000D3AF87856')).toBeUndefined();
  });

  it('names each of many addresses (no probe chain loses one)', () => {
    const entries: InterfaceNames[] = [];
    for (let i = 0; i < 5000; i++)
      entries.push({
        mac: (0x0d3a000000 + i).toString(16).padStart(12, '0').toUpperCase(),
        ips: [`10.${(i >> 8) & 255}.${i & 255}.4`, `2001:db8::${i.toString(16)}`],
        vm: `vm-${i}`,
      });
    const map = NameMap.build(entries);
    for (let i = 0; i < 5000; i += 7) {
      expect(map.forIpv4(v4(`10.${(i >> 8) & 255}.${i & 255}.4`), 0)?.names.vm).toBe(`vm-${i}`);
      expect(map.forAddress(`2001:db8::${i.toString(16)}`, 0)?.names.vm).toBe(`vm-${i}`);
      expect(map.forMac(entries[i]!.mac!)?.id).toBe(i + 1);
    }
    expect(map.addressCount).toBe(10_000);
  });

  it('names an address by its owner at the time when its owner changed', () => {
    const a: InterfaceNames = { mac: '000D3A000001', ips: [], vm: 'vm-a', resourceId: '/s/nic-a' };
    const b: InterfaceNames = { mac: '000D3A000002', ips: ['10.1.0.9'], vm: 'vm-b', resourceId: '/s/nic-b' };
    const movedAtMs = 1_700_000_000_000;
    const map = NameMap.build(
      [a, b],
      [
        {
          ip: '10.1.0.9',
          owners: [
            { names: { ...a, ips: ['10.1.0.9'] }, sinceMs: 0, untilMs: movedAtMs },
            { names: b, sinceMs: movedAtMs },
          ],
        },
      ],
    );
    expect(map.forIpv4(v4('10.1.0.9'), movedAtMs - 60_000)?.names.vm).toBe('vm-a');
    expect(map.forIpv4(v4('10.1.0.9'), movedAtMs)?.names.vm).toBe('vm-b');
    expect(map.forIpv4(v4('10.1.0.9'), movedAtMs + 86_400_000)?.names.vm).toBe('vm-b');
    // The past owner is the current entity (same resource id): names stay current, one id per NIC.
    expect(map.entities).toHaveLength(2);
  });

  it('keeps a past owner that is gone as an entity of its own, and names it before and in its time, not after', () => {
    const gone: InterfaceNames = { ips: ['10.2.0.4'], vm: 'vm-deleted', resourceId: '/s/nic-gone' };
    const map = NameMap.build([web], [{ ip: '10.2.0.4', owners: [{ names: gone, sinceMs: 1000, untilMs: 2000 }] }]);
    expect(map.entities).toHaveLength(2);
    expect(map.entities[1]!.id).toBe(2);
    expect(map.forAddress('10.2.0.4', 500)?.names.vm).toBe('vm-deleted');
    expect(map.forAddress('10.2.0.4', 1500)?.names.vm).toBe('vm-deleted');
    // Released: Azure may have handed the address to someone else since.
    expect(map.forAddress('10.2.0.4', 2000)).toBeUndefined();
    expect(map.forAddress('10.2.0.4', 5000)).toBeUndefined();
  });

  it('names nobody in a gap between owners or after the last one left, and the first before any record', () => {
    const one: InterfaceNames = { ips: [], vm: 'one', resourceId: '/s/1' };
    const two: InterfaceNames = { ips: [], vm: 'two', resourceId: '/s/2' };
    const map = NameMap.build(
      [],
      [
        {
          ip: '10.3.0.4',
          owners: [
            { names: one, sinceMs: 1000, untilMs: 2000 },
            { names: two, sinceMs: 3000, untilMs: 4000 },
          ],
        },
      ],
    );
    expect(map.forAddress('10.3.0.4', 1500)?.names.vm).toBe('one');
    expect(map.forAddress('10.3.0.4', 2500)).toBeUndefined();
    expect(map.forAddress('10.3.0.4', 3500)?.names.vm).toBe('two');
    expect(map.forAddress('10.3.0.4', 9000)).toBeUndefined();
    expect(map.forAddress('10.3.0.4', 10)?.names.vm).toBe('one');
  });

  it('names an address owned in two VNets at once only where the flow says which', () => {
    const sub1 = '11111111-1111-1111-1111-111111111111';
    const sub2 = '22222222-2222-2222-2222-222222222222';
    const left: InterfaceNames = { mac: '000D3A00000A', ips: ['10.0.0.4'], vm: 'left', subscription: sub1, vnet: 'vnet-a' };
    const right: InterfaceNames = { mac: '000D3A00000B', ips: ['10.0.0.4'], vm: 'right', subscription: sub2, vnet: 'vnet-b' };
    const nearLeft: InterfaceNames = { mac: '000D3A00000C', ips: ['10.0.0.5'], vm: 'peer', subscription: sub1, vnet: 'vnet-a' };
    const elsewhere: InterfaceNames = { mac: '000D3A00000D', ips: ['10.9.0.5'], vm: 'other', subscription: '33333333-3333-3333-3333-333333333333', vnet: 'x' };
    const map = NameMap.build([left, right, nearLeft, elsewhere]);
    const word = v4('10.0.0.4');
    expect(map.forIpv4(word, 0)).toBeUndefined();
    expect(map.forIpv4(word, 0, map.forMac(nearLeft.mac!))?.names.vm).toBe('left');
    expect(map.forIpv4(word, 0, map.forMac(elsewhere.mac!))).toBeUndefined();
    const otherVnetSameSubscription: InterfaceNames = { ...nearLeft, vnet: 'vnet-z' };
    const map2 = NameMap.build([left, right, otherVnetSameSubscription]);
    expect(map2.forIpv4(word, 0, map2.entities[2])?.names.vm).toBe('left');
  });

  it('gives a duplicated MAC to the later entry', () => {
    const map = NameMap.build([web, { ...web, vm: 'replacement', ips: [] }]);
    expect(map.forMac('000D3AF87856')?.names.vm).toBe('replacement');
  });
});

describe('address and MAC text', () => {
  it('normalizes addresses to one text per address', () => {
    expect(normalizeIp('10.1.0.4')).toBe('10.1.0.4');
    expect(normalizeIp(' 2001:DB8:0:0::4 ')).toBe('2001:db8::4');
    expect(normalizeIp('::ffff:10.1.0.4')).toBe('10.1.0.4');
    expect(normalizeIp('10.1')).toBeUndefined();
    expect(normalizeIp('010.1.0.4')).toBeUndefined();
    expect(normalizeIp('fe80::1%eth0')).toBeUndefined();
    expect(normalizeIp('vm-web-01')).toBeUndefined();
  });

  it('reads only strict dotted quads as IPv4 words', () => {
    // The strict pattern the reader implements digit by digit: four decimal parts 0..255, no leading zeros.
    const strict = (text: string): number | undefined => {
      const parts = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text)?.slice(1);
      if (parts === undefined || parts.some((part) => Number(part) > 255 || (part.length > 1 && part.startsWith('0')))) return undefined;
      return parts.reduce((word, part) => (word << 8) | Number(part), 0);
    };
    const samples = ['1.2.3.4', '0.0.0.0', '255.255.255.255', '10.1.0.4', '256.1.1.1', '1.2.3', '1.2.3.4.5', '1..2.3', '01.2.3.4', '1.2.3.04'];
    samples.push('1.2.3.4 ', ' 1.2.3.4', '1234.1.1.1', '1.2.3.4x', 'a.b.c.d', '1.2.3.', '.1.2.3', '192.168.100.200', '1.2.3.-4', '');
    // And near-quads drawn deterministically: mostly 4 parts of 1 to 3 digits, now and then a stray character.
    let seed = 7;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let n = 0; n < 20_000; n++) {
      const parts: string[] = [];
      for (let count = next(4) === 0 ? 3 + 2 * next(2) : 4, p = 0; p < count; p++) {
        let part = '';
        for (let length = [1, 1, 1, 1, 2, 2, 2, 3, 3, 0, 4][next(11)]!, i = 0; i < length; i++) part += '0123456789'[next(10)];
        parts.push(part);
      }
      let text = parts.join('.');
      if (next(8) === 0) text = text.slice(0, next(text.length + 1)) + ' x:'[next(3)] + text.slice(next(text.length + 1));
      samples.push(text);
    }
    for (const text of samples) expect(dottedQuadWord(text), text).toBe(strict(text));
    expect(samples.filter((text) => strict(text) !== undefined).length).toBeGreaterThan(100);
  });

  it('normalizes MACs to 12 upper-case hex digits', () => {
    expect(normalizeMac('000d.3af8.7856')).toBe('000D3AF87856');
    expect(normalizeMac('00:0d:3a:f8:78')).toBe('');
  });
});
