import { describe, expect, it } from 'vitest';
import type { EncodedMessage } from '../../src/flow/flowEncoder.js';
import { IpfixEncoder } from '../../src/ipfix/encoder.js';
import { DatagramDecoder } from '../../src/listen/datagramDecoder.js';
import { enrichedColumns, flow } from '../helpers/flows.js';

const NOW = 1_764_000_000_000; // 2025-11-24T16:00:00Z: export time 0x69248100 s
const hex = (text: string) => text.replace(/\s+/g, '');

function encode(flows: ReturnType<typeof flow>[], options: ConstructorParameters<typeof IpfixEncoder>[0] = {}, domain = 7, ifIndex = 3): EncodedMessage[] {
  const messages: EncodedMessage[] = [];
  const encoder = new IpfixEncoder({ templateRepeatsAtStart: 1, ...options }, (m) => messages.push({ ...m, bytes: Buffer.from(m.bytes) }));
  const columns = enrichedColumns(flows, (f) => ({ flowStartMs: f.timeMs - 60_000, observationDomainId: domain, interfaceIndex: ifIndex }));
  encoder.addRows(columns, 0, columns.length, NOW);
  encoder.flush(NOW);
  return messages;
}

describe('IPFIX encoder', () => {
  it('sends templates first, in a message of their own, with the header RFC 7011 section 3.1 asks for', () => {
    const [templates] = encode([flow()], { optionsRecords: true });
    const bytes = templates!.bytes;
    expect(templates!.dataRecords).toBe(0);
    // version 10, length, export time, sequence 0, domain 7
    expect(bytes.subarray(0, 16).toString('hex')).toBe(hex(`000a ${bytes.length.toString(16).padStart(4, '0')} 69248100 00000000 00000007`));
    // Template set (id 2), first template 256 with 18 fields; PEN 32473 = 0x7ed9 on our elements.
    expect(bytes.subarray(16, 20 + 4 + 14 * 4 + 4 * 8).toString('hex')).toBe(
      hex(`0002 00bc  0100 0012
        0098 0008  0099 0008  0008 0004  000c 0004  0007 0002  000b 0002  0004 0001  003d 0001
        0059 0001  00e9 0001  0001 0008  0002 0008  000a 0004  000e 0004
        83ec 0006 00007ed9  83e9 ffff 00007ed9  83ea ffff 00007ed9  83eb ffff 00007ed9`),
    );
    // The options template set follows (id 3): interface descriptions in nfdump's layout (266:
    // domain scope, ingressInterface and a 64-byte interfaceDescription), interface names scoped
    // by ingressInterface (267), domain names (261).
    const optionsSet = 16 + 0xbc;
    expect(bytes.readUInt16BE(optionsSet)).toBe(3);
    expect(bytes.subarray(optionsSet + 4).toString('hex')).toBe(
      hex('010a 0003 0001  0095 0004  000a 0004  0053 0040   010b 0002 0001  000a 0004  0052 ffff   0105 0002 0001  0095 0004  012c ffff'),
    );
    expect(optionsSet + bytes.readUInt16BE(optionsSet + 2)).toBe(bytes.length);
  });

  it('writes a flow record byte for byte as the template describes it', () => {
    const messages = encode([flow({ packetsReverse: 0, bytesReverse: 0 })]);
    const data = messages[1]!.bytes;
    // Options records (domain name, then the NIC) come first; the flow set is last.
    let offset = 16;
    let flowSet = -1;
    while (offset < data.length) {
      if (data.readUInt16BE(offset) === 256) flowSet = offset;
      offset += data.readUInt16BE(offset + 2);
    }
    expect(offset).toBe(data.length);
    expect(data.subarray(flowSet + 4).toString('hex')).toBe(
      hex(`00000197635d2c20 00000197635e1680  0a000004 cb007109  c000 01bb  06  01  40  05
        00000000000003e8 000000000000000a  00000000 00000003  000d3af87856
        13 5573657252756c655f416c6c6f774874747073  00  00`),
    );
  });

  it('counts data records in the sequence number, per observation domain', () => {
    const messages = encode(Array.from({ length: 40 }, (_, i) => flow({ sourcePort: 1000 + i })));
    const data = messages.filter((m) => m.dataRecords > 0);
    expect(data.length).toBeGreaterThan(1);
    let expected = 0;
    for (const message of data) {
      expect(message.bytes.readUInt32BE(8)).toBe(expected);
      expected += message.dataRecords;
    }
  });

  it('never writes a message larger than the maximum size, and fills messages close to it', () => {
    const messages = encode(
      Array.from({ length: 500 }, (_, i) =>
        flow({ sourcePort: i, src: i % 3 === 0 ? '2001:db8::1' : '10.0.0.1', dst: i % 3 === 0 ? '2001:db8::2' : '10.0.0.2' }),
      ),
      {
        maxMessageSizeInBytes: 512,
      },
    );
    for (const m of messages) {
      expect(m.bytes.length).toBeLessThanOrEqual(512);
      expect(m.bytes.readUInt16BE(2)).toBe(m.bytes.length);
    }
    const data = messages.filter((m) => m.dataRecords > 0);
    expect(data.slice(0, -1).every((m) => m.bytes.length > 400)).toBe(true);
  });

  it('splits a biflow tuple into a forward and a reverse record by default', () => {
    const decoder = new DatagramDecoder(32473);
    const records = encode([flow()])
      .flatMap((m) => decoder.decode(m.bytes, 'test').records)
      .filter((r) => !r.options);
    expect(records.map((r) => r.fields)).toMatchObject([
      {
        sourceIPv4Address: '10.0.0.4',
        destinationIPv4Address: '203.0.113.9',
        octetDeltaCount: 1000,
        packetDeltaCount: 10,
        flowDirection: 1,
        ingressInterface: 0,
        egressInterface: 3,
      },
      {
        sourceIPv4Address: '203.0.113.9',
        destinationIPv4Address: '10.0.0.4',
        sourceTransportPort: 443,
        destinationTransportPort: 49152,
        octetDeltaCount: 6000,
        packetDeltaCount: 8,
        flowDirection: 0,
        ingressInterface: 3,
        egressInterface: 0,
      },
    ]);
  });

  it('keeps one forward record even with no counts, so denies and flow starts stay visible', () => {
    const decoder = new DatagramDecoder(32473);
    const deny = flow({
      decision: 'deny',
      state: 'begin',
      packetsForward: undefined,
      bytesForward: undefined,
      packetsReverse: undefined,
      bytesReverse: undefined,
    });
    const records = encode([deny])
      .flatMap((m) => decoder.decode(m.bytes, 'test').records)
      .filter((r) => !r.options);
    expect(records).toHaveLength(1);
    expect(records[0]!.fields).toMatchObject({ forwardingStatus: 129, firewallEvent: 3, octetDeltaCount: 0, packetDeltaCount: 0 });
  });

  it('carries reverse counters in RFC 5103 elements with --biflow rfc5103', () => {
    const decoder = new DatagramDecoder(32473);
    const messages = encode([flow({ src: '2001:db8::4', dst: '2001:db8::9' })], { biflow: 'rfc5103' });
    const records = messages.flatMap((m) => decoder.decode(m.bytes, 'test').records).filter((r) => !r.options);
    expect(records).toHaveLength(1);
    expect(records[0]!.templateId).toBe(259);
    expect(records[0]!.fields).toMatchObject({
      sourceIPv6Address: '2001:db8::4',
      octetDeltaCount: 1000,
      reverseOctetDeltaCount: 6000,
      reversePacketDeltaCount: 8,
    });
  });

  it('re-sends templates after the configured number of data messages', () => {
    const messages = encode(
      Array.from({ length: 300 }, (_, i) => flow({ sourcePort: i })),
      { templateRefreshPackets: 5, maxMessageSizeInBytes: 512 },
    );
    const templateIndexes = messages.flatMap((m, i) => (m.dataRecords === 0 ? [i] : []));
    expect(templateIndexes.length).toBeGreaterThan(3);
    for (let i = 1; i < templateIndexes.length; i++) expect(templateIndexes[i]! - templateIndexes[i - 1]!).toBeLessThanOrEqual(5 + 1);
  });

  it('gives each observation domain its own templates and sequence numbers', () => {
    const messages: EncodedMessage[] = [];
    const encoder = new IpfixEncoder({ templateRepeatsAtStart: 2 }, (m) => messages.push(m));
    const columns = enrichedColumns([flow(), flow()], () => ({ flowStartMs: 0, observationDomainId: 1, interfaceIndex: 0 }));
    columns.domains[1] = 2;
    encoder.addRows(columns, 0, 1, NOW);
    encoder.addRows(columns, 1, 2, NOW);
    encoder.flush(NOW);
    const summary = messages.map((m) => [m.observationDomainId, m.dataRecords, m.bytes.readUInt32BE(8)]);
    expect(summary).toEqual([
      [1, 0, 0],
      [1, 0, 0],
      [1, 2, 0], // the flow's two uniflow records
      [2, 0, 0],
      [2, 0, 0],
      [2, 2, 0],
    ]);
  });

  it('names NICs and domains in options records only when asked (--options-records)', () => {
    const decoder = new DatagramDecoder(32473);
    const names = (optionsRecords: boolean) =>
      encode([flow()], { optionsRecords })
        .flatMap((m) => decoder.decode(m.bytes, String(optionsRecords)).records)
        .filter((r) => r.options)
        .map((r) => r.fields);
    expect(names(false)).toEqual([]);
    expect(names(true)).toEqual([
      { observationDomainId: 7, observationDomainName: flow().azure.resourceId },
      { observationDomainId: 7, ingressInterface: 3, interfaceDescription: 'Azure NIC behind WEB-NSG' },
      { ingressInterface: 3, interfaceName: '00:0d:3a:f8:78:56' },
    ]);
  });

  it('truncates long Azure strings so any record still fits the smallest message', () => {
    const long = flow({ azure: { ...flow().azure, rule: 'R'.repeat(5000), aclId: 'é'.repeat(3000) } });
    const messages = encode([long], { maxMessageSizeInBytes: 512 });
    const decoder = new DatagramDecoder(32473);
    const records = messages.flatMap((m) => decoder.decode(m.bytes, 'test').records).filter((r) => !r.options);
    expect(records).toHaveLength(2);
    expect(String(records[0]!.fields['azureRuleName'])).toMatch(/^R+$/);
    expect(String(records[0]!.fields['azureAclId'])).toMatch(/^é+$/);
  });

  it('gives a long string what the short ones leave: names and tags whole at 1,400 bytes, a long resource id whole in the domain name', () => {
    const tags = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`tag-${i}`, `value-${i}-${'x'.repeat(8)}`]));
    const resourceId = `/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/${'RG-'.repeat(40)}/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/${'NSG-'.repeat(30)}`;
    const long = flow({ azure: { ...flow().azure, resourceId } });
    const columns = enrichedColumns([long], (f) => ({ flowStartMs: f.timeMs - 60_000, observationDomainId: 7, interfaceIndex: 3 }));
    const names = {
      ips: ['10.1.0.4'],
      vm: 'vm-web-01',
      nic: 'vm-web-01-nic0',
      resourceGroup: 'rg-prod',
      subscription: '00000000-0000-0000-0000-000000000000',
      region: 'westeurope',
      vnet: 'vnet-prod',
      subnet: 'web',
      tags,
    };
    columns.sourceEntities[0] = { id: 1, names };
    const messages: EncodedMessage[] = [];
    const all = ['vm', 'nic', 'resourceGroup', 'subscription', 'region', 'vnet', 'subnet', 'tags'] as const;
    const encoder = new IpfixEncoder({ templateRepeatsAtStart: 1, optionsRecords: true, names: { fields: [...all], tags: '*' } }, (m) =>
      messages.push({ ...m, bytes: Buffer.from(m.bytes) }),
    );
    encoder.addRows(columns, 0, 1, NOW);
    encoder.flush(NOW);
    const decoder = new DatagramDecoder(32473);
    const records = messages.flatMap((m) => decoder.decode(m.bytes, 'test').records);
    const data = records.filter((r) => !r.options)[0]!.fields;
    const tagText = String(data['azureSourceTags']);
    // 10 tags are 215 bytes: more than an even share of the room (67 bytes a string here), whole because the other names are short.
    expect(tagText.length).toBeGreaterThan(200);
    expect(tagText.split(';')).toHaveLength(10);
    expect(data['azureSourceResourceGroup']).toBe('rg-prod');
    expect(data['azureSourceSubscription']).toBe(names.subscription);
    expect(records.find((r) => r.options && r.fields['observationDomainName'] !== undefined)?.fields['observationDomainName']).toBe(resourceId);
    expect(messages.every((m) => m.bytes.length <= 1400)).toBe(true);
  });

  it('rejects a maximum message size outside 512..65535', () => {
    expect(() => new IpfixEncoder({ maxMessageSizeInBytes: 100 }, () => {})).toThrow(/512/);
  });

  it('re-sends the options of a domain that fill more messages than --template-refresh-packets without refreshing again in between', () => {
    // 300 NICs of one domain: their options fill dozens of 512-byte messages, the refresh comes after every data message.
    const flows = Array.from({ length: 300 }, (_, i) => flow({ timeMs: NOW - 1000 + i }));
    const messages: EncodedMessage[] = [];
    const encoder = new IpfixEncoder({ templateRepeatsAtStart: 1, optionsRecords: true, templateRefreshPackets: 1, maxMessageSizeInBytes: 512 }, (m) =>
      messages.push({ ...m, bytes: Buffer.from(m.bytes) }),
    );
    let nic = 0;
    const columns = enrichedColumns(flows, (f) => ({ flowStartMs: f.timeMs - 60_000, observationDomainId: 7, interfaceIndex: ++nic }));
    encoder.addRows(columns, 0, columns.length, NOW);
    encoder.addRows(columns, 0, columns.length, NOW);
    encoder.flush(NOW);
    const decoder = new DatagramDecoder(32473);
    const records = messages.flatMap((m) => decoder.decode(m.bytes, 'test').records);
    expect(messages.every((m) => m.bytes.length <= 512)).toBe(true);
    // Twice 300 tuples, each a forward and a reverse record (flow() reports reverse traffic).
    expect(records.filter((r) => !r.options)).toHaveLength(1200);
    const named = new Set(records.filter((r) => r.options && r.fields['interfaceName'] !== undefined).map((r) => r.fields['ingressInterface']));
    expect(named.size).toBe(300);
  });

  it('splits templates over several messages when they outgrow --max-message-size (all names, RFC 5103, options)', () => {
    const names = { fields: ['vm', 'nic', 'resourceGroup', 'subscription', 'region', 'vnet', 'subnet', 'tags'] as const, tags: '*' as const };
    const big = encode([flow()], {
      maxMessageSizeInBytes: 512,
      biflow: 'rfc5103',
      optionsRecords: true,
      names: { fields: [...names.fields], tags: names.tags },
    });
    const templateMessages = big.filter((m) => m.templateRecords > 0);
    expect(templateMessages.length).toBeGreaterThan(1);
    expect(templateMessages.reduce((sum, m) => sum + m.templateRecords, 0)).toBe(5);
    expect(big.every((m) => m.bytes.length <= 512 && m.bytes.readUInt16BE(2) === m.bytes.length)).toBe(true);
    const decoder = new DatagramDecoder(32473);
    const decoded = big.map((m) => decoder.decode(m.bytes, 'test'));
    expect(decoded.every((d) => d.error === undefined && d.unknownTemplateSets === 0)).toBe(true);
    expect(decoded.flatMap((d) => d.records).filter((r) => !r.options)).toHaveLength(1);
    // With room, the same templates travel in one message, as before.
    expect(
      encode([flow()], { biflow: 'rfc5103', optionsRecords: true, names: { fields: [...names.fields], tags: names.tags } }).filter(
        (m) => m.templateRecords > 0,
      ),
    ).toHaveLength(1);
  });
});
