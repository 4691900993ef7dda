import { decodeIpfixMessage, DecodeError, FieldNamer, TemplateCache, type DecodedRecord } from '../ipfix/decoder.js';
import { decodeNetflow5Message, decodeNetflow9Message } from '../netflow/decoder.js';

export interface DatagramDecodeResult {
  readonly records: DecodedRecord[];
  readonly error?: string;
  readonly unknownTemplateSets: number;
}

/**
 * Decodes datagrams of any format we export, chosen by the version field, keeping template state
 * per exporter. For `listen` and tests; the third-party decoders remain the proof.
 */
export class DatagramDecoder {
  private readonly templates = new TemplateCache();
  private readonly namer: FieldNamer;

  constructor(azureEnterpriseNumber: number) {
    this.namer = new FieldNamer(azureEnterpriseNumber);
  }

  decode(datagram: Buffer, exporter: string): DatagramDecodeResult {
    if (datagram.length < 2) return { records: [], error: 'datagram shorter than a version field', unknownTemplateSets: 0 };
    const version = datagram.readUInt16BE(0);
    try {
      if (version === 10) {
        const result = decodeIpfixMessage(datagram, exporter, this.templates, this.namer);
        return { records: result.records, unknownTemplateSets: result.unknownTemplateSets };
      }
      if (version === 9) return decodeNetflow9Message(datagram, exporter, this.templates, this.namer);
      if (version === 5) return { records: decodeNetflow5Message(datagram, exporter), unknownTemplateSets: 0 };
      return { records: [], error: `unsupported version ${version}`, unknownTemplateSets: 0 };
    } catch (error) {
      if (error instanceof DecodeError || error instanceof RangeError) return { records: [], error: error.message, unknownTemplateSets: 0 };
      throw error;
    }
  }
}
