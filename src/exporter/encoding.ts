import type { EncodedMessage, FlowEncoder, FlowFormat } from '../flow/flowEncoder.js';
import type { NameEncoding } from '../flow/interfaceNames.js';
import { IpfixEncoder } from '../ipfix/encoder.js';
import { NetflowV5Encoder } from '../netflow/v5.js';
import { NetflowV9Encoder } from '../netflow/v9.js';

/** Everything an encoder is made from: plain data, so it can travel to the exporting thread. */
export interface EncodingOptions {
  readonly format: FlowFormat;
  readonly maxMessageSizeInBytes: number;
  readonly biflow: 'split' | 'rfc5103';
  readonly enterpriseNumber: number;
  readonly templateRefreshIntervalMs: number;
  readonly templateRefreshPackets: number;
  readonly optionsRecords: boolean;
  /** Name domains in the options records; off when every flow is forced into one domain. */
  readonly describeDomains: boolean;
  /** Names of both endpoints in every IPFIX data record (enrichment on); undefined: none. */
  readonly names?: NameEncoding;
}

/** Why these options cannot be encoded, or undefined when they can. */
export function encodingProblem(options: Pick<EncodingOptions, 'format' | 'biflow'>): string | undefined {
  if (options.format !== 'ipfix' && options.biflow === 'rfc5103') {
    return `--biflow rfc5103 needs IPFIX (RFC 5103 reverse elements); ${options.format} splits biflows into two records`;
  }
  return undefined;
}

export function createEncoder(options: EncodingOptions, emit: (message: EncodedMessage) => void): FlowEncoder {
  const problem = encodingProblem(options);
  if (problem !== undefined) throw new Error(problem);
  const refresh = {
    maxMessageSizeInBytes: options.maxMessageSizeInBytes,
    templateRefreshIntervalMs: options.templateRefreshIntervalMs,
    templateRefreshPackets: options.templateRefreshPackets,
    optionsRecords: options.optionsRecords,
  };
  switch (options.format) {
    case 'ipfix':
      return new IpfixEncoder(
        {
          ...refresh,
          biflow: options.biflow,
          enterpriseNumber: options.enterpriseNumber,
          describeDomains: options.describeDomains,
          ...(options.names === undefined ? {} : { names: options.names }),
        },
        emit,
      );
    case 'netflow9':
      return new NetflowV9Encoder(refresh, emit);
    case 'netflow5':
      return new NetflowV5Encoder({ maxMessageSizeInBytes: options.maxMessageSizeInBytes }, emit);
  }
}
