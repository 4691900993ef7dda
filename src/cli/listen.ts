import { Command } from 'commander';
import { integerOption } from './exportOptions.js';
import { UsageError } from './usageError.js';
import { createLogger, type LogLevel } from '../log.js';
import { DEFAULT_ENTERPRISE_NUMBER } from '../ipfix/informationElements.js';
import { FlowListener } from '../listen/flowListener.js';
import type { DecodedRecord } from '../ipfix/decoder.js';

interface ListenFlags {
  host: string;
  port: number;
  enterpriseNumber: number;
  count?: number;
  options?: boolean;
  logLevel: LogLevel;
}

/** One JSON line per decoded record: where it came from, then the fields by element name. */
export function recordToJson(record: DecodedRecord): Record<string, unknown> {
  return {
    format: record.format,
    exporter: record.exporter,
    observationDomainId: record.observationDomainId,
    templateId: record.templateId,
    ...(record.options ? { options: true } : {}),
    ...record.fields,
  };
}

export function listenCommand(): Command {
  return new Command('listen')
    .description('a built-in collector for debugging: decodes IPFIX, NetFlow v9 and v5 and prints one JSON line per data record')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .addOption(integerOption('--port <port>', 'UDP port (4739 IPFIX; use 2055 for NetFlow; 0 = any free port)', 0, 65_535, 4739))
    .addOption(integerOption('--enterprise-number <pen>', 'PEN of the Azure elements, to name them', 1, 0xffffffff, DEFAULT_ENTERPRISE_NUMBER))
    .addOption(integerOption('--count <n>', 'exit after printing this many flow records', 1, Number.MAX_SAFE_INTEGER))
    .option('--options', 'also print options records (interface and domain names)')
    .option('--log-level <level>', 'log level (JSON lines on stderr)', 'info')
    .addHelpText('after', '\nExamples:\n  nsg2ipfix listen --port 4739\n  nsg2ipfix listen --host ::1 --port 4739 --count 10')
    .action(async (flags: ListenFlags) => {
      const logger = createLogger(flags.logLevel);
      const limit = flags.count ?? Infinity;
      let printed = 0;
      let done: () => void = () => {};
      const finished = new Promise<void>((resolve) => (done = resolve));
      const listener = await FlowListener.open({
        host: flags.host,
        port: flags.port,
        enterpriseNumber: flags.enterpriseNumber,
        onRecord: (record) => {
          if (printed >= limit || (record.options && !flags.options)) return;
          process.stdout.write(`${JSON.stringify(recordToJson(record))}\n`);
          if (!record.options && ++printed >= limit) done();
        },
        onError: (error, exporter) => logger.warn({ exporter }, `undecodable datagram: ${error}`),
      }).catch((error: NodeJS.ErrnoException) => {
        // EADDRINUSE, EADDRNOTAVAIL, ENOTFOUND...: a user's mistake, one line.
        throw new UsageError(`cannot listen on ${flags.host}:${flags.port}: ${error.code ?? error.message}`, { cause: error });
      });
      logger.info({ address: listener.address }, 'listening');
      const stop = () => done();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await finished;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await listener.close();
    });
}
