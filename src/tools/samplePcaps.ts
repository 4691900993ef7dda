import { makeDirectory } from '../durableFile.js';
import { join } from 'node:path';
import { replayFiles } from '../cli/replay.js';
import { SAMPLES_DIR } from '../cli/demo.js';
import { EXPORT_DEFAULTS } from '../pipeline.js';
import { createLogger } from '../log.js';
import type { ExportFlags } from '../cli/exportOptions.js';

/**
 * The sample pcaps in pcaps/: the bundled sample logs exported in each format, written without a
 * network (pcap only, 127.0.0.1:50000 -> 127.0.0.1:default port) with a fixed clock so the bytes
 * are reproducible and a test can tell when they are stale.
 */
export interface SamplePcap {
  readonly file: string;
  readonly description: string;
  readonly flags: Partial<ExportFlags>;
}

export const SAMPLE_PCAPS: readonly SamplePcap[] = [
  { file: 'ipfix-uniflow.pcap', description: 'IPFIX, biflow split into two uniflow records', flags: { format: 'ipfix', biflow: 'split' } },
  { file: 'ipfix-rfc5103-biflow.pcap', description: 'IPFIX, RFC 5103 biflow (reverse counters, PEN 29305)', flags: { format: 'ipfix', biflow: 'rfc5103' } },
  { file: 'netflow9.pcap', description: 'NetFlow v9, biflow split into two uniflow records', flags: { format: 'netflow9' } },
  { file: 'netflow5.pcap', description: 'NetFlow v5 (IPv4 only)', flags: { format: 'netflow5' } },
];

/** 2025-06-12T10:00:00Z: just after the sample hour, as if exported when the blob closed. */
export const SAMPLE_EXPORT_TIME_MS = Date.UTC(2025, 5, 12, 10, 0, 0);

export async function writeSamplePcaps(outDir: string, samplesDir = SAMPLES_DIR): Promise<string[]> {
  const written: string[] = [];
  await makeDirectory(outDir);
  for (const sample of SAMPLE_PCAPS) {
    const path = join(outDir, sample.file);
    const flags: ExportFlags = {
      collector: [],
      pcap: path,
      format: 'ipfix',
      maxMessageSize: EXPORT_DEFAULTS.maxMessageSizeInBytes,
      mtu: EXPORT_DEFAULTS.mtuInBytes,
      biflow: 'split',
      enterpriseNumber: EXPORT_DEFAULTS.enterpriseNumber,
      templateRefreshSeconds: EXPORT_DEFAULTS.templateRefreshIntervalMs / 1000,
      templateRefreshPackets: EXPORT_DEFAULTS.templateRefreshPackets,
      maxPps: 0,
      socketBuffer: 0,
      flowTableSize: EXPORT_DEFAULTS.flowTableSize,
      logLevel: 'warn',
      ...sample.flags,
    };
    await replayFiles([samplesDir], flags, createLogger('error', 'json'), { progress: false, now: () => SAMPLE_EXPORT_TIME_MS });
    written.push(path);
  }
  return written;
}
