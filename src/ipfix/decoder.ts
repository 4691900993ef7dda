import { Nsg2ipfixError } from '../flow/errors.js';
import { formatAddress } from '../flow/addresses.js';
import { elementNameIndex, type InformationElement, VARIABLE_LENGTH } from './informationElements.js';
import { readU64 } from './writers.js';

/**
 * A small IPFIX (RFC 7011) decoder for `nsg2ipfix listen` and our own round-trip tests. It is a
 * debugging aid, never the proof of validity: the proof is tshark, nfdump and pmacct.
 */

export type DecodedValue = number | string;

export interface DecodedRecord {
  readonly format: 'ipfix' | 'netflow9' | 'netflow5';
  readonly exporter: string;
  readonly observationDomainId: number;
  readonly templateId: number;
  /** True for options data records (interface names, domain names). */
  readonly options: boolean;
  readonly exportTimeMs: number;
  readonly sequence: number;
  readonly fields: Record<string, DecodedValue>;
}

export interface FieldDefinition {
  readonly id: number;
  readonly enterpriseNumber: number;
  readonly length: number;
}

export interface TemplateDefinition {
  readonly fields: readonly FieldDefinition[];
  readonly scopeCount: number;
}

/** A datagram that is not valid IPFIX / NetFlow (what `listen` counts and shows instead of records). */
export class DecodeError extends Nsg2ipfixError {
  constructor(message: string) {
    super('undecodable', message);
  }
}

/** Templates are scoped by exporter and observation domain (RFC 7011 section 8). */
export class TemplateCache {
  private readonly templates = new Map<string, TemplateDefinition>();

  set(exporter: string, domain: number, id: number, template: TemplateDefinition): void {
    this.templates.set(`${exporter}|${domain}|${id}`, template);
  }

  get(exporter: string, domain: number, id: number): TemplateDefinition | undefined {
    return this.templates.get(`${exporter}|${domain}|${id}`);
  }
}

export interface DecodeResult {
  readonly records: DecodedRecord[];
  /** Data sets skipped because their template is unknown (yet). */
  readonly unknownTemplateSets: number;
  readonly templates: number;
}

/** Turns field values into JSON-friendly values, named after the IANA / our element names. */
export class FieldNamer {
  private readonly index: ReturnType<typeof elementNameIndex>;

  constructor(azureEnterpriseNumber: number) {
    this.index = elementNameIndex(azureEnterpriseNumber);
  }

  name(field: FieldDefinition): { name: string; element: InformationElement | undefined } {
    const known = this.index.get(`${field.enterpriseNumber}:${field.id}`);
    if (known !== undefined) return { name: known.name, element: known.element };
    return { name: field.enterpriseNumber === 0 ? `ie${field.id}` : `pen${field.enterpriseNumber}_ie${field.id}`, element: undefined };
  }

  value(element: InformationElement | undefined, bytes: Buffer): DecodedValue {
    const type = element?.type;
    if (type === 'ipv4Address' || type === 'ipv6Address') return formatAddress(bytes);
    // A fixed-length string is zero-padded (RFC 7011 section 6.1.6 leaves the padding to the exporter).
    if (type === 'string') return bytes.toString('utf8').replace(/\0+$/, '');
    if (type === 'macAddress') return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
    if (bytes.length === 1) return bytes[0]!;
    if (bytes.length === 2) return bytes.readUInt16BE(0);
    if (bytes.length === 4) return bytes.readUInt32BE(0);
    if (bytes.length === 8) return readU64(bytes, 0);
    return bytes.toString('hex');
  }
}

/** Decodes one IPFIX message; templates it carries are learned into `cache`. */
export function decodeIpfixMessage(message: Buffer, exporter: string, cache: TemplateCache, namer: FieldNamer): DecodeResult {
  if (message.length < 16) throw new DecodeError(`message of ${message.length} bytes is shorter than the 16-byte header`);
  const version = message.readUInt16BE(0);
  if (version !== 10) throw new DecodeError(`version ${version} is not IPFIX (10)`);
  const length = message.readUInt16BE(2);
  if (length !== message.length) throw new DecodeError(`header length ${length} differs from datagram size ${message.length}`);
  const exportTimeMs = message.readUInt32BE(4) * 1000;
  const sequence = message.readUInt32BE(8);
  const domain = message.readUInt32BE(12);
  const records: DecodedRecord[] = [];
  let unknownTemplateSets = 0;
  let templates = 0;
  let offset = 16;
  while (offset < length) {
    if (offset + 4 > length) throw new DecodeError('set header runs past the message');
    const setId = message.readUInt16BE(offset);
    const setLength = message.readUInt16BE(offset + 2);
    if (setLength < 4 || offset + setLength > length) throw new DecodeError(`set ${setId} of length ${setLength} runs past the message`);
    const body = message.subarray(offset + 4, offset + setLength);
    if (setId === 2 || setId === 3) {
      templates += readTemplateSet(body, setId === 3, (id, template) => cache.set(exporter, domain, id, template));
    } else if (setId >= 256) {
      const template = cache.get(exporter, domain, setId);
      if (template === undefined) unknownTemplateSets++;
      else {
        for (const fields of readDataSet(body, template, namer)) {
          records.push({
            format: 'ipfix',
            exporter,
            observationDomainId: domain,
            templateId: setId,
            options: template.scopeCount > 0,
            exportTimeMs,
            sequence,
            fields,
          });
        }
      }
    }
    offset += setLength;
  }
  return { records, unknownTemplateSets, templates };
}

function readTemplateSet(body: Buffer, options: boolean, learn: (id: number, template: TemplateDefinition) => void): number {
  let offset = 0;
  let count = 0;
  // A set may end in padding shorter than a template record header.
  while (offset + 4 <= body.length) {
    const id = body.readUInt16BE(offset);
    const fieldCount = body.readUInt16BE(offset + 2);
    offset += 4;
    if (id < 256) break;
    let scopeCount = 0;
    if (options) {
      scopeCount = body.readUInt16BE(offset);
      offset += 2;
    }
    const fields: FieldDefinition[] = [];
    for (let i = 0; i < fieldCount; i++) {
      if (offset + 4 > body.length) throw new DecodeError(`template ${id} runs past its set`);
      const rawId = body.readUInt16BE(offset);
      const length = body.readUInt16BE(offset + 2);
      offset += 4;
      let enterpriseNumber = 0;
      if (rawId & 0x8000) {
        if (offset + 4 > body.length) throw new DecodeError(`template ${id} runs past its set`);
        enterpriseNumber = body.readUInt32BE(offset);
        offset += 4;
      }
      fields.push({ id: rawId & 0x7fff, enterpriseNumber, length });
    }
    learn(id, { fields, scopeCount });
    count++;
  }
  return count;
}

export function* readDataSet(body: Buffer, template: TemplateDefinition, namer: FieldNamer): Generator<Record<string, DecodedValue>> {
  const minimum = template.fields.reduce((sum, f) => sum + (f.length === VARIABLE_LENGTH ? 1 : f.length), 0);
  let offset = 0;
  while (offset + minimum <= body.length && minimum > 0) {
    const fields: Record<string, DecodedValue> = {};
    for (const field of template.fields) {
      let length = field.length;
      if (length === VARIABLE_LENGTH) {
        length = body[offset]!;
        offset += 1;
        if (length === 255) {
          length = body.readUInt16BE(offset);
          offset += 2;
        }
      }
      if (offset + length > body.length) throw new DecodeError('data record runs past its set');
      const { name, element } = namer.name(field);
      fields[name] = namer.value(element, body.subarray(offset, offset + length));
      offset += length;
    }
    yield fields;
  }
}
