import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { makeDirectory } from '../durableFile.js';
import type { DecodedRecord } from '../ipfix/decoder.js';
import { FlowListener } from '../listen/flowListener.js';
import { createLogger } from '../log.js';
import { DEFAULT_ENTERPRISE_NUMBER } from '../ipfix/informationElements.js';
import { EXPORT_DEFAULTS } from '../pipeline.js';
import { sleep } from '../flow/sleep.js';
import type { ExportFlags } from './exportOptions.js';
import { replayFiles } from './replay.js';
import { formatSummary } from './summary.js';
import { formatTable } from '../flow/textTable.js';
import { UsageError } from './usageError.js';

const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SAMPLES_DIR = join(PACKAGE_ROOT, 'samples');

const PROTOCOL_NAMES: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6' };
const FIREWALL_EVENTS = ['-', 'created', 'deleted', 'denied', 'alert', 'update'];

function endpoint(address: unknown, port: unknown): string {
  const text = String(address);
  return text.includes(':') ? `[${text}]:${String(port)}` : `${text}:${String(port)}`;
}

/** The demo's table: one row per flow record the built-in collector decoded off the wire. */
export function flowTable(records: readonly DecodedRecord[]): string {
  const flows = records.filter((r) => !r.options).map((r) => r.fields);
  flows.sort((a, b) => Number(a['flowEndMilliseconds']) - Number(b['flowEndMilliseconds']));
  return formatTable(
    ['end (UTC)', 'source', 'destination', 'proto', 'dir', 'action', 'event', 'packets', 'bytes', 'rule'],
    flows.map((f) => [
      new Date(Number(f['flowEndMilliseconds'])).toISOString().slice(0, 19).replace('T', ' '),
      endpoint(f['sourceIPv4Address'] ?? f['sourceIPv6Address'], f['sourceTransportPort']),
      endpoint(f['destinationIPv4Address'] ?? f['destinationIPv6Address'], f['destinationTransportPort']),
      PROTOCOL_NAMES[Number(f['protocolIdentifier'])] ?? String(f['protocolIdentifier']),
      f['flowDirection'] === 0 ? 'in' : 'out',
      Number(f['forwardingStatus']) >> 6 === 2 ? 'DENY' : 'allow',
      FIREWALL_EVENTS[Number(f['firewallEvent'])] ?? String(f['firewallEvent']),
      Number(f['packetDeltaCount']),
      Number(f['octetDeltaCount']),
      String(f['azureRuleName'] ?? ''),
    ]),
  );
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('replay the bundled sample logs over real UDP to a built-in collector on 127.0.0.1, print what it decoded, write a pcap')
    .option('--out <dir>', 'where to write the pcap', 'demo-output')
    .addOption(
      new Option('--biflow <mode>', 'reverse traffic: split = second uniflow record, rfc5103 = reverse IEs').choices(['split', 'rfc5103']).default('split'),
    )
    .action(async (flags: { out: string; biflow: 'split' | 'rfc5103' }) => {
      const logger = createLogger('warn');
      // Before the collector opens: a bad --out must not leave its socket holding the process.
      await makeDirectory(flags.out).catch((error: NodeJS.ErrnoException) => {
        throw new UsageError(`cannot write to '${flags.out}': ${error.code ?? error.message}`, { cause: error });
      });
      const received: DecodedRecord[] = [];
      const listener = await FlowListener.open({
        host: '127.0.0.1',
        port: 0,
        enterpriseNumber: DEFAULT_ENTERPRISE_NUMBER,
        onRecord: (record) => received.push(record),
        onError: (error) => logger.warn(`collector could not decode a datagram: ${error}`),
      });
      const pcap = join(flags.out, 'nsg2ipfix-demo.pcap');
      const exportFlags: ExportFlags = {
        ...EXPORT_DEFAULTS,
        collector: [`127.0.0.1:${listener.address.port}`],
        pcap,
        format: 'ipfix',
        biflow: flags.biflow,
        maxMessageSize: EXPORT_DEFAULTS.maxMessageSizeInBytes,
        mtu: EXPORT_DEFAULTS.mtuInBytes,
        templateRefreshSeconds: EXPORT_DEFAULTS.templateRefreshIntervalMs / 1000,
        templateRefreshPackets: EXPORT_DEFAULTS.templateRefreshPackets,
        maxPps: EXPORT_DEFAULTS.maxPacketsPerSecond,
        socketBuffer: EXPORT_DEFAULTS.socketBufferBytes,
        logLevel: 'warn',
      };
      process.stderr.write(
        `replaying ${relative(process.cwd(), SAMPLES_DIR) || SAMPLES_DIR} to the built-in collector at 127.0.0.1:${listener.address.port} ...\n`,
      );
      const { summary } = await replayFiles([SAMPLES_DIR], exportFlags, logger, { progress: false }).catch(async (error: unknown) => {
        await listener.close();
        throw error;
      });
      const expected = summary.exportedRecords + summary.optionsRecords;
      for (let waited = 0; received.length < expected && waited < 3000; waited += 20) await sleep(20);
      await listener.close();
      const flows = received.filter((r) => !r.options).length;
      process.stdout.write(`\nFlows decoded by the built-in collector (${flows} of ${summary.exportedRecords} sent, ${listener.datagrams} datagrams):\n\n`);
      process.stdout.write(`${flowTable(received)}\n\n${formatSummary(summary)}\n\n`);
      process.stdout.write(`Open ${pcap} in Wireshark (filter: cflow) to see the IPFIX messages as a collector receives them.\n`);
      if (flows !== summary.exportedRecords || listener.decodeErrors > 0) process.exitCode = 1;
    });
}
