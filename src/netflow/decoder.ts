import { formatAddress } from '../flow/addresses.js';
import { DecodeError, readDataSet, type DecodedRecord, type FieldDefinition, type FieldNamer, type TemplateCache } from '../ipfix/decoder.js';

/**
 * NetFlow v9 (RFC 3954) and v5 decoding for `nsg2ipfix listen` and our own tests. Flow times are
 * also given as absolute epoch ms (flowStartMilliseconds / flowEndMilliseconds), computed from
 * the header the way collectors do: boot = unix_secs * 1000 - sysUptime.
 */

export function decodeNetflow9Message(
  message: Buffer,
  exporter: string,
  cache: TemplateCache,
  namer: FieldNamer,
): { records: DecodedRecord[]; unknownTemplateSets: number } {
  if (message.length < 20) throw new DecodeError(`NetFlow v9 packet of ${message.length} bytes is shorter than its 20-byte header`);
  const sysUptimeMs = message.readUInt32BE(4);
  const unixSeconds = message.readUInt32BE(8);
  const sequence = message.readUInt32BE(12);
  const sourceId = message.readUInt32BE(16);
  const bootMs = unixSeconds * 1000 - sysUptimeMs;
  // Template ids are scoped by exporter and source id; keep them apart from IPFIX ones.
  const scope = `v9|${exporter}`;
  const records: DecodedRecord[] = [];
  let unknownTemplateSets = 0;
  let offset = 20;
  while (offset + 4 <= message.length) {
    const flowsetId = message.readUInt16BE(offset);
    const length = message.readUInt16BE(offset + 2);
    if (length < 4 || offset + length > message.length) throw new DecodeError(`flowset ${flowsetId} of length ${length} runs past the packet`);
    const body = message.subarray(offset + 4, offset + length);
    if (flowsetId === 0) readV9Templates(body, (id, fields) => cache.set(scope, sourceId, id, { fields, scopeCount: 0 }));
    else if (flowsetId === 1) readV9OptionsTemplates(body, (id, fields, scopeCount) => cache.set(scope, sourceId, id, { fields, scopeCount }));
    else if (flowsetId >= 256) {
      const template = cache.get(scope, sourceId, flowsetId);
      if (template === undefined) unknownTemplateSets++;
      else {
        for (const fields of readDataSet(body, template, namer)) {
          if (typeof fields['flowStartSysUpTime'] === 'number') fields['flowStartMilliseconds'] = bootMs + fields['flowStartSysUpTime'];
          if (typeof fields['flowEndSysUpTime'] === 'number') fields['flowEndMilliseconds'] = bootMs + fields['flowEndSysUpTime'];
          records.push({
            format: 'netflow9',
            exporter,
            observationDomainId: sourceId,
            templateId: flowsetId,
            options: template.scopeCount > 0,
            exportTimeMs: unixSeconds * 1000,
            sequence,
            fields,
          });
        }
      }
    }
    offset += length;
  }
  return { records, unknownTemplateSets };
}

function readV9Templates(body: Buffer, learn: (id: number, fields: FieldDefinition[]) => void): void {
  let offset = 0;
  while (offset + 4 <= body.length) {
    const id = body.readUInt16BE(offset);
    const count = body.readUInt16BE(offset + 2);
    offset += 4;
    if (id < 256 || offset + count * 4 > body.length) break;
    const fields: FieldDefinition[] = [];
    for (let i = 0; i < count; i++, offset += 4) fields.push({ id: body.readUInt16BE(offset), enterpriseNumber: 0, length: body.readUInt16BE(offset + 2) });
    learn(id, fields);
  }
}

/** Scope fields are named after their v9 scope type (1 system, 2 interface, 3 line card, 4 cache, 5 template). */
const SCOPE_ELEMENT_IDS: Record<number, number> = { 2: 10 };

function readV9OptionsTemplates(body: Buffer, learn: (id: number, fields: FieldDefinition[], scopeCount: number) => void): void {
  let offset = 0;
  while (offset + 6 <= body.length) {
    const id = body.readUInt16BE(offset);
    const scopeBytes = body.readUInt16BE(offset + 2);
    const optionBytes = body.readUInt16BE(offset + 4);
    offset += 6;
    if (id < 256 || offset + scopeBytes + optionBytes > body.length) break;
    const fields: FieldDefinition[] = [];
    for (let end = offset + scopeBytes; offset < end; offset += 4) {
      const type = body.readUInt16BE(offset);
      fields.push({ id: SCOPE_ELEMENT_IDS[type] ?? 0x7000 + type, enterpriseNumber: 0, length: body.readUInt16BE(offset + 2) });
    }
    const scopeCount = fields.length;
    for (let end = offset + optionBytes; offset < end; offset += 4)
      fields.push({ id: body.readUInt16BE(offset), enterpriseNumber: 0, length: body.readUInt16BE(offset + 2) });
    learn(id, fields, scopeCount);
  }
}

export function decodeNetflow5Message(message: Buffer, exporter: string): DecodedRecord[] {
  if (message.length < 24) throw new DecodeError(`NetFlow v5 packet of ${message.length} bytes is shorter than its 24-byte header`);
  const count = message.readUInt16BE(2);
  if (message.length < 24 + count * 48)
    throw new DecodeError(`NetFlow v5 header counts ${count} records, the packet holds ${Math.floor((message.length - 24) / 48)}`);
  const sysUptimeMs = message.readUInt32BE(4);
  const unixSeconds = message.readUInt32BE(8);
  const bootMs = unixSeconds * 1000 + Math.floor(message.readUInt32BE(12) / 1e6) - sysUptimeMs;
  const sequence = message.readUInt32BE(16);
  const engineId = message[21]!;
  const records: DecodedRecord[] = [];
  for (let i = 0, o = 24; i < count; i++, o += 48) {
    records.push({
      format: 'netflow5',
      exporter,
      observationDomainId: engineId,
      templateId: 0,
      options: false,
      exportTimeMs: unixSeconds * 1000,
      sequence,
      fields: {
        sourceIPv4Address: formatAddress(message.subarray(o, o + 4)),
        destinationIPv4Address: formatAddress(message.subarray(o + 4, o + 8)),
        ingressInterface: message.readUInt16BE(o + 12),
        egressInterface: message.readUInt16BE(o + 14),
        packetDeltaCount: message.readUInt32BE(o + 16),
        octetDeltaCount: message.readUInt32BE(o + 20),
        flowStartMilliseconds: bootMs + message.readUInt32BE(o + 24),
        flowEndMilliseconds: bootMs + message.readUInt32BE(o + 28),
        sourceTransportPort: message.readUInt16BE(o + 32),
        destinationTransportPort: message.readUInt16BE(o + 34),
        tcpControlBits: message[o + 37]!,
        protocolIdentifier: message[o + 38]!,
      },
    });
  }
  return records;
}
