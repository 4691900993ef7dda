/**
 * Azure names reach the collectors people already run: with `--enrich-file`, nfdump prints each
 * NIC's `vm (resource group)` as %inam / %onam (IPFIX and NetFlow v9), Wireshark shows the
 * interface names and descriptions and the endpoint names inside every IPFIX data record, and
 * nfacctd prints them through the shipped primitives file. Real decoders, real UDP and pcap files.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startNfacctd, stopAll as stopAllNfacctd } from '../collectors/nfacctd.js';
import { startNfcapd, stopAll as stopAllNfcapd } from '../collectors/nfcapd.js';
import { tsharkExpertMessages, tsharkMessages } from '../collectors/tshark.js';
import { runCli } from '../helpers/cli.js';
import { requireDecoders } from '../helpers/decoders.js';
import { SAMPLES_DIR } from '../helpers/expectedFlows.js';

const ROOT = join(import.meta.dirname, '..', '..');
const NAMES = join(ROOT, 'deploy', 'enrichment.example.json');
const PRIMITIVES = join(ROOT, 'deploy', 'pmacct', 'nsg2ipfix.primitives');
const work = mkdtempSync(join(tmpdir(), 'nsg2ipfix-names-'));

requireDecoders();

afterAll(async () => {
  await stopAllNfcapd();
  await stopAllNfacctd();
  rmSync(work, { recursive: true, force: true });
});

/** The NIC of each sample log, its addresses, and what the example enrichment file calls it. */
const NICS = [
  { vm: 'vm-web-01', rg: 'rg-prod', nic: 'vm-web-01-nic0', local: ['10.1.0.4', 'fd12:3456:789a:1::4'] },
  { vm: 'vm-jump-01', rg: 'rg-ops', nic: 'vm-jump-01-nic0', local: ['10.1.2.5'] },
  { vm: 'vm-api-01', rg: 'rg-demo', nic: 'vm-api-01-nic0', local: ['10.2.0.4', 'fd12:3456:789a:10::4'] },
];
/** An endpoint the file names by its addresses only (no MAC, no NIC name): a peer of vm-api-01. */
const PEER = { vm: 'vm-db-01', rg: 'rg-demo', nic: '', local: ['10.2.1.5', '10.2.1.6'] };

function nicOf(address: string): (typeof NICS)[number] | undefined {
  return [...NICS, PEER].find((nic) => nic.local.includes(address));
}

/** nfdump's %inam / %onam next to the addresses and interface indexes of each flow. */
const NAMES_FORMAT = 'fmt:%sa|%da|%in|%out|%inam|%onam';

function nfdumpNames(stdout: string): { src: string; dst: string; inName: string; outName: string; input: number; output: number }[] {
  return stdout
    .split('\n')
    .filter((line) => line.includes('|'))
    .map((line) => {
      const [src, dst, input, output, inName, outName] = line.split('|').map((part) => part.trim());
      return { src: src!, dst: dst!, input: Number(input), output: Number(output), inName: inName!, outName: outName! };
    });
}

describe('names in the collectors (--enrich-file)', () => {
  for (const format of ['ipfix', 'netflow9'] as const) {
    it(`${format}: nfdump prints the NIC's VM and resource group as %inam for inbound and %onam for outbound flows`, async () => {
      const nfcapd = await startNfcapd();
      const run = await runCli(['replay', SAMPLES_DIR, '--enrich-file', NAMES, '-f', format, '-c', `127.0.0.1:${nfcapd.port}`, '--quiet']);
      expect(run.code, run.stderr).toBe(0);
      const stored = await nfcapd.stop(NAMES_FORMAT);
      expect(stored.stderr).not.toMatch(/option size error|ifvrf/);
      const rows = nfdumpNames(stored.formatted!);
      expect(rows.length).toBeGreaterThan(50);
      let named = 0;
      for (const row of rows) {
        // The NIC Azure logged is the ingress interface of inbound traffic and the egress of outbound.
        const inbound = row.input !== 0;
        const local = nicOf(inbound ? row.dst : row.src);
        const shown = inbound ? row.inName : row.outName;
        if (local === undefined) continue;
        expect(shown, `${row.src} -> ${row.dst}`).toBe(`${local.vm} (${local.rg})`);
        expect(inbound ? row.outName : row.inName).toBe('');
        named++;
      }
      expect(named).toBeGreaterThan(50);
    });
  }

  it('tshark: interface names and descriptions for each NIC index, and both endpoints named in every IPFIX data record', async () => {
    const pcap = join(work, 'names.pcap');
    const run = await runCli(['replay', SAMPLES_DIR, '--enrich-file', NAMES, '--enrich-tags', 'env', '--pcap', pcap, '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    expect(tsharkExpertMessages(pcap)).toEqual([]);
    const messages = tsharkMessages(pcap);
    const records = messages.flatMap((message) => message.flows);
    const descriptions = new Map<string, string>();
    const names = new Map<string, string>();
    for (const record of records) {
      const f = record.fields;
      if (f['cflow.if_descr'] !== undefined) descriptions.set(f['cflow.inputint']![0]!, f['cflow.if_descr'][0]!);
      if (f['cflow.if_name'] !== undefined) names.set(f['cflow.inputint']![0]!, f['cflow.if_name'][0]!);
    }
    expect(new Set(descriptions.values())).toEqual(new Set(NICS.map((nic) => `${nic.vm} (${nic.rg})`)));
    expect(new Set(names.values())).toEqual(new Set(NICS.map((nic) => nic.nic)));
    for (const [index, description] of descriptions) expect(names.get(index)).toBe(NICS.find((nic) => description.startsWith(nic.vm))!.nic);

    const data = records.filter((record) => record.setId === 262 || record.setId === 263);
    expect(data.length).toBe(101);
    for (const record of data) {
      const f = record.fields;
      const source = f['cflow.srcaddr']?.[0] ?? f['cflow.srcaddrv6']![0]!;
      const destination = f['cflow.dstaddr']?.[0] ?? f['cflow.dstaddrv6']![0]!;
      // Enterprise elements in template order (tshark leaves empty strings out): the Azure ones,
      // then the source's vm, nic, resource group..., then the destination's.
      const texts = (f['cflow.enterprise_private_entry'] ?? []).map((hex) => Buffer.from(hex.replaceAll(':', ''), 'hex').toString('utf8'));
      // Default --enrich-fields: vm, resourceGroup, subscription, vnet, subnet (the NIC's name is in the options records).
      const expected = [nicOf(source), nicOf(destination)].flatMap((nic) => (nic === undefined ? [] : [nic.vm, nic.rg]));
      const shown = texts.filter((text) => [...NICS, PEER].some((nic) => [nic.vm, nic.nic, nic.rg].includes(text)));
      expect(shown, `${source} -> ${destination}`).toEqual(expected);
    }
  });

  it('nfacctd prints the names of both endpoints through deploy/pmacct/nsg2ipfix.primitives', async () => {
    const primitives = readFileSync(PRIMITIVES, 'utf8');
    const nfacctd = await startNfacctd({
      primitives,
      aggregate: ['src_host', 'dst_host', 'src_port', 'dst_port', 'proto', 'timestamp_start', 'firewall_event'],
    });
    const run = await runCli(['replay', SAMPLES_DIR, '--enrich-file', NAMES, '-c', `127.0.0.1:${nfacctd.port}`, '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    const rows = (await nfacctd.stop()).flows as unknown as Record<string, unknown>[];
    expect(rows.length).toBeGreaterThan(50);
    for (const row of rows) {
      const source = nicOf(String(row['ip_src']));
      const destination = nicOf(String(row['ip_dst']));
      expect([row['src_vm'], row['src_resource_group'], row['dst_vm'], row['dst_resource_group']]).toEqual([
        source?.vm ?? '',
        source?.rg ?? '',
        destination?.vm ?? '',
        destination?.rg ?? '',
      ]);
    }
  });

  it('writes nothing new without enrichment: the templates and records of a plain replay stay as they were', async () => {
    const plain = join(work, 'plain.pcap');
    const run = await runCli(['replay', SAMPLES_DIR, '--pcap', plain, '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    const sets = new Set(tsharkMessages(plain).flatMap((message) => message.flows.map((flow) => flow.setId)));
    expect([...sets].sort()).toEqual([256, 257]);
  });
});
