import { ADDRESS_WORDS, DENIED, STATE_CODES, type FlowColumns } from '../flow/flowColumns.js';
import type { AzureContext } from '../flow/flowRecord.js';
import { NAME_FIELDS, type NamedEntity, type NameEncoding, nameText } from '../flow/interfaceNames.js';
import {
  elementFor,
  type ElementName,
  FIREWALL_EVENT,
  FORWARDING_STATUS,
  type InformationElement,
  nameElement,
  VARIABLE_LENGTH,
} from './informationElements.js';
import { truncateUtf8, type ViewStrings } from './viewStrings.js';
import { variableLengthSize, writeVariableLength } from './writers.js';

/**
 * Templates are data: a list of element names. One spec yields the IPv4 and the IPv6 variant.
 * Ids are fixed per layout and never reused for another layout within a run, because tshark keeps
 * the first definition it sees for an id (INTEROP.md).
 */

export const TEMPLATE_IDS = {
  flowIPv4: 256,
  flowIPv6: 257,
  biflowIPv4: 258,
  biflowIPv6: 259,
  // 260 named interfaces in earlier versions (ingressInterface scope, names of variable length): retired.
  domainOptions: 261,
  /** nfdump's layout (see optionsTemplates). */
  interfaceDescriptions: 266,
  interfaceNames: 267,
  /** The layouts with endpoint names (enrichment): ids of their own, never a redefinition of 256-259. */
  namedFlowIPv4: 262,
  namedFlowIPv6: 263,
  namedBiflowIPv4: 264,
  namedBiflowIPv6: 265,
  /** NetFlow v9 gets ids of its own, so a v9 and an IPFIX stream can never be confused (tshark). */
  netflow9IPv4: 300,
  netflow9IPv6: 301,
  // 302 named interfaces in earlier versions: retired.
  netflow9InterfaceDescriptions: 303,
  netflow9InterfaceNames: 304,
} as const;

type AddressSlot = 'sourceAddress' | 'destinationAddress';

/** The flow record layout; address slots become IPv4 or IPv6 elements per variant. */
const FLOW_FIELDS: readonly (ElementName | AddressSlot)[] = [
  'flowStartMilliseconds',
  'flowEndMilliseconds',
  'sourceAddress',
  'destinationAddress',
  'sourceTransportPort',
  'destinationTransportPort',
  'protocolIdentifier',
  'flowDirection',
  'forwardingStatus',
  'firewallEvent',
  'octetDeltaCount',
  'packetDeltaCount',
  'ingressInterface',
  'egressInterface',
  'azureNicMac',
  'azureRuleName',
  'azureAclId',
  'azureEncryption',
];

/** RFC 5103 biflow: the forward layout plus the reverse counters. */
const REVERSE_FIELDS: readonly ElementName[] = ['reverseOctetDeltaCount', 'reversePacketDeltaCount'];

/**
 * NetFlow v9 (RFC 3954): the same layout with fixed-length fields only and times as sysUptime.
 * firewallEvent (233) is left out on purpose: nfdump reads it in v9 as a Cisco NSEL event and stops
 * treating the record as a flow. The Azure elements need enterprise numbers, which v9 does not have.
 */
const NETFLOW9_FIELDS: readonly (ElementName | AddressSlot)[] = FLOW_FIELDS.flatMap((slot): (ElementName | AddressSlot)[] => {
  if (slot === 'flowStartMilliseconds') return ['flowStartSysUpTime'];
  if (slot === 'flowEndMilliseconds') return ['flowEndSysUpTime'];
  return slot === 'firewallEvent' || slot.startsWith('azure') ? [] : [slot];
});

export interface FieldSpec {
  readonly name: ElementName;
  readonly element: InformationElement;
}

interface RowValue {
  readonly forward: string;
  readonly reverse?: string;
}

/** Two elements that trade places in the reverse traffic: each one's reverse value is the other's forward value. */
function swapped(a: ElementName, aForward: string, b: ElementName, bForward: string): Partial<Record<ElementName, RowValue>> {
  return { [a]: { forward: aForward, reverse: bForward }, [b]: { forward: bForward, reverse: aForward } };
}

/**
 * Where each row element's value comes from, as JS expressions over the writer's arguments: `f`
 * the FlowColumns, `i` the row, `s` the flow start and `u` the NetFlow sysUptime base (epoch ms),
 * and the locals `g` (the row's flags), `a` (its first address word) and `k` (its first count).
 * `forward` sees the flow as Azure logged it (source -> destination); `reverse` is the answer
 * traffic of `--biflow split`: endpoints, direction and interfaces swapped, reverse counts as the
 * record's own. Counts are written through `count()` (a blank count is 0 on the wire).
 */
const ROW_VALUES: Partial<Record<ElementName, RowValue>> = {
  flowStartMilliseconds: { forward: 's' },
  flowEndMilliseconds: { forward: 'f.times[i]' },
  flowStartSysUpTime: { forward: 's - u' },
  flowEndSysUpTime: { forward: 'f.times[i] - u' },
  ...swapped('sourceIPv4Address', 'f.addresses[a]', 'destinationIPv4Address', 'f.addresses[a + 4]'),
  ...swapped('sourceIPv6Address', 'a', 'destinationIPv6Address', 'a + 4'),
  ...swapped('sourceTransportPort', 'f.ports[i * 2]', 'destinationTransportPort', 'f.ports[i * 2 + 1]'),
  protocolIdentifier: { forward: 'f.protocols[i]' },
  // OUTBOUND is flag bit 1: outbound traffic leaves through the NIC (egress = 1).
  flowDirection: { forward: 'g & 1', reverse: '(g & 1) ^ 1' },
  forwardingStatus: { forward: `(g & ${DENIED}) === 0 ? ${FORWARDING_STATUS.forwarded} : ${FORWARDING_STATUS.droppedAclDeny}` },
  firewallEvent: { forward: `FIREWALL_EVENTS[f.states[i] | ((g & ${DENIED}) << 2)]` },
  octetDeltaCount: { forward: 'count(f.counts[k + 1])', reverse: 'count(f.counts[k + 3])' },
  packetDeltaCount: { forward: 'count(f.counts[k])', reverse: 'count(f.counts[k + 2])' },
  reverseOctetDeltaCount: { forward: 'count(f.counts[k + 3])', reverse: '0' },
  reversePacketDeltaCount: { forward: 'count(f.counts[k + 2])', reverse: '0' },
  // The NIC is the ingress interface of inbound traffic and the egress interface of outbound.
  ...swapped('ingressInterface', '(g & 1) === 0 ? f.interfaces[i] : 0', 'egressInterface', '(g & 1) === 0 ? 0 : f.interfaces[i]'),
};

/** Elements whose value is the same for every row of an AzureContext: written once per context. */
const CONTEXT_VALUES: Partial<Record<ElementName, (context: AzureContext, strings: ViewStrings) => Uint8Array>> = {
  azureNicMac: (context, strings) => strings.mac(context.mac),
  azureRuleName: (context, strings) => strings.utf8(context.rule),
  azureAclId: (context, strings) => strings.utf8(context.aclId),
  azureEncryption: (context, strings) => strings.utf8(context.encryption),
};

/** firewallEvent by `state | (flags & DENIED) << 2` (STATE_CODES; a denied flow is always flowDenied). */
const FIREWALL_EVENTS = new Uint8Array(16).fill(FIREWALL_EVENT.flowDenied);
FIREWALL_EVENTS[STATE_CODES.none] = FIREWALL_EVENT.ignore;
FIREWALL_EVENTS[STATE_CODES.begin] = FIREWALL_EVENT.flowCreated;
FIREWALL_EVENTS[STATE_CODES.continue] = FIREWALL_EVENT.flowUpdate;
FIREWALL_EVENTS[STATE_CODES.end] = FIREWALL_EVENT.flowDeleted;
FIREWALL_EVENTS[STATE_CODES.deny] = FIREWALL_EVENT.flowDenied;

/** A blank count (NaN) goes out as 0. */
function count(value: number): number {
  return value === value ? value : 0;
}

/**
 * Writes row `i` of `f` as one record at `o` of the message (`b` and `d` view the same bytes) and
 * returns the offset after it. `block` holds the bytes of the template's context elements for the
 * row's AzureContext (see contextBlock).
 */
export type RecordWriter = (
  b: Uint8Array,
  d: DataView,
  o: number,
  f: FlowColumns,
  i: number,
  s: number,
  u: number,
  block: Uint8Array,
  sb?: Uint8Array,
  db?: Uint8Array,
) => number;

/** A data template: its wire definition and how to write a row of FlowColumns with it. */
export interface FlowTemplate {
  readonly id: number;
  readonly fields: readonly FieldSpec[];
  /** Bytes of the fixed-length fields. */
  readonly fixedLength: number;
  /** Bytes written from the row itself; a record is this plus its context block and two name blocks. */
  readonly rowLength: number;
  /** Variable-length fields (their strings share what a message has left after the fixed part). */
  readonly variableFields: number;
  /** Of them, the context's (the rest are the names of both endpoints). */
  readonly contextStrings: number;
  /**
   * The context elements' bytes for `context` (empty when the template has none), its strings
   * taking at most `budget` bytes with their length bytes (see fitStrings).
   */
  contextBlock(context: AzureContext, strings: ViewStrings, budget: number): Uint8Array;
  /** The name elements' bytes of one endpoint, the same for either side (empty without names), within `budget` as above. */
  namesBlock(entity: NamedEntity | undefined, strings: ViewStrings, budget: number): Uint8Array;
  /** The row as Azure logged it. */
  readonly writeForward: RecordWriter;
  /** The row's answer traffic, as a record of its own (`--biflow split`). */
  readonly writeReverse: RecordWriter;
}

function resolve(slots: readonly (ElementName | AddressSlot)[], family: 4 | 6, enterpriseNumber: number): FieldSpec[] {
  return slots.map((slot) => {
    const name: ElementName =
      slot === 'sourceAddress'
        ? family === 4
          ? 'sourceIPv4Address'
          : 'sourceIPv6Address'
        : slot === 'destinationAddress'
          ? family === 4
            ? 'destinationIPv4Address'
            : 'destinationIPv6Address'
          : slot;
    return { name, element: elementFor(name, enterpriseNumber) };
  });
}

/**
 * JS source writing one row field at `o + at` in network byte order (RFC 7011 section 6.1) with
 * DataView word stores. A template is compiled into one straight-line function per layout and
 * direction, as protobufjs compiles its codecs: one call per field, or one store per byte, cost
 * more than parsing the tuple.
 */
function fieldSource(field: FieldSpec, at: number, direction: 'forward' | 'reverse'): string {
  const values = ROW_VALUES[field.name];
  if (values === undefined) throw new Error(`no row value for element ${field.name}`);
  const value = direction === 'reverse' ? (values.reverse ?? values.forward) : values.forward;
  const { type, length } = field.element;
  if (type === 'ipv6Address') {
    return [0, 1, 2, 3].map((w) => `d.setInt32(o + ${at + 4 * w}, f.addresses[${value} + ${w}]);`).join(' ');
  }
  if (type === 'ipv4Address') return `d.setInt32(o + ${at}, ${value});`;
  switch (length) {
    case 1:
      return `d.setUint8(o + ${at}, ${value});`;
    case 2:
      return `d.setUint16(o + ${at}, ${value});`;
    case 4:
      return `d.setUint32(o + ${at}, ${value});`;
    case 8:
      // Exact for whole numbers below 2^53 (times in ms, counts): no bigint on the hot path.
      return `n = ${value}; d.setUint32(o + ${at}, (n / 4294967296) >>> 0); d.setUint32(o + ${at + 4}, n >>> 0);`;
    default:
      throw new Error(`cannot write ${type} of ${length} bytes (${field.name})`);
  }
}

/** Which endpoint's names a name element carries (see nameElement), by element. */
const NAME_SIDES: Partial<Record<ElementName, 'source' | 'destination'>> = Object.fromEntries(
  NAME_FIELDS.flatMap((field) => [
    [nameElement('source', field), 'source'],
    [nameElement('destination', field), 'destination'],
  ]),
);

/**
 * Where a field's bytes come from: the row (written inline), or a block made once per object and
 * copied in one go: the AzureContext's elements (`block`), or the names of one endpoint (`sb` the
 * source's, `db` the destination's; swapped in a reverse record, whose source is the destination).
 */
function blockOf(name: ElementName, direction: 'forward' | 'reverse'): string | undefined {
  if (CONTEXT_VALUES[name] !== undefined) return 'block';
  const side = NAME_SIDES[name];
  if (side === undefined) return undefined;
  return (side === 'source') === (direction === 'forward') ? 'sb' : 'db';
}

/**
 * JS statements writing row `i` of FlowColumns `f` as one record from offset `o` of the message,
 * leaving `o` after it. They use the message as `b` (bytes) and `d` (DataView), the row's blocks
 * (`block`, `sb`, `db`: see blockOf), `s` and `u` (see ROW_VALUES), the locals `g`, `a` and `k`
 * (see rowLocals) and a scratch `n`.
 */
export function recordStatements(fields: readonly FieldSpec[], direction: 'forward' | 'reverse'): string {
  const lines: string[] = [];
  let at = 0;
  let inBlock: string | undefined;
  for (const field of fields) {
    const block = blockOf(field.name, direction);
    if (block !== undefined) {
      // Consecutive elements of one block are copied in one go.
      if (inBlock !== block) lines.push(`b.set(${block}, o + ${at}); o += ${at} + ${block}.length;`);
      inBlock = block;
      at = 0;
      continue;
    }
    inBlock = undefined;
    lines.push(fieldSource(field, at, direction));
    at += field.element.length;
  }
  lines.push(`o += ${at};`);
  return lines.join('\n');
}

/** Declares the row locals recordStatements reads. */
export const rowLocals = `const g = f.flags[i], a = i * ${ADDRESS_WORDS}, k = i * 4; let n = 0;`;

/**
 * Compiles `body` as a function of `parameters`, with the helpers recordStatements calls in scope.
 * Callers build `body` from this module's constant tables and the templates only, never from input.
 */
export function compileWithHelpers<F>(parameters: readonly string[], body: string): F {
  // Compiled code, as protobufjs does: the body is ours (see above), never input.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function('count', 'FIREWALL_EVENTS', `return function compiled(${parameters.join(', ')}) {\n${body}\n};`) as (
    count: unknown,
    events: unknown,
  ) => F;
  return factory(count, FIREWALL_EVENTS);
}

function compileWriter(fields: readonly FieldSpec[], direction: 'forward' | 'reverse'): RecordWriter {
  return compileWithHelpers<RecordWriter>(
    ['b', 'd', 'o', 'f', 'i', 's', 'u', 'block', 'sb', 'db'],
    `${rowLocals}\n${recordStatements(fields, direction)}\nreturn o;`,
  );
}

/** The block of a template without context or name fields. */
export const EMPTY_BLOCK = new Uint8Array(0);

function buildFlowTemplate(id: number, fields: FieldSpec[], names: NameEncoding | undefined): FlowTemplate {
  let fixedLength = 0;
  let rowLength = 0;
  const contextFields: { name: ElementName; element: InformationElement }[] = [];
  for (const field of fields) {
    if (field.element.length !== VARIABLE_LENGTH) fixedLength += field.element.length;
    if (CONTEXT_VALUES[field.name] !== undefined) contextFields.push(field);
    else if (NAME_SIDES[field.name] === undefined) rowLength += field.element.length;
  }
  const contextVariable = contextFields.map((field) => field.element.length === VARIABLE_LENGTH);
  const contextBlock = (context: AzureContext, strings: ViewStrings, budget: number): Uint8Array => {
    if (contextFields.length === 0) return EMPTY_BLOCK;
    const values = fitStrings(
      contextFields.map((field) => CONTEXT_VALUES[field.name]!(context, strings)),
      contextVariable,
      budget,
    );
    const size = contextFields.reduce(
      (sum, field, j) => sum + (field.element.length === VARIABLE_LENGTH ? variableLengthSize(values[j]!) : field.element.length),
      0,
    );
    const block = Buffer.alloc(size);
    let offset = 0;
    contextFields.forEach((field, j) => {
      const value = values[j]!;
      if (field.element.length === VARIABLE_LENGTH) offset = writeVariableLength(block, offset, value);
      else {
        if (value.length !== field.element.length) throw new Error(`${field.name} needs ${field.element.length} bytes, got ${value.length}`);
        block.set(value, offset);
        offset += value.length;
      }
    });
    return new Uint8Array(block.buffer, block.byteOffset, block.length);
  };
  const nameFields = names?.fields ?? [];
  const allVariable = nameFields.map(() => true);
  const namesBlock = (entity: NamedEntity | undefined, strings: ViewStrings, budget: number): Uint8Array => {
    if (nameFields.length === 0) return EMPTY_BLOCK;
    // Unknown endpoints carry empty strings: one length byte each.
    if (entity === undefined) return new Uint8Array(nameFields.length);
    const values = fitStrings(
      nameFields.map((field) => strings.utf8(nameText(entity.names, field, names!.tags))),
      allVariable,
      budget,
    );
    const block = Buffer.alloc(values.reduce((sum, value) => sum + variableLengthSize(value), 0));
    let offset = 0;
    for (const value of values) offset = writeVariableLength(block, offset, value);
    return new Uint8Array(block.buffer, block.byteOffset, block.length);
  };
  return {
    id,
    fields,
    fixedLength,
    rowLength,
    contextBlock,
    namesBlock,
    variableFields: fields.filter((field) => field.element.length === VARIABLE_LENGTH).length,
    contextStrings: contextVariable.filter(Boolean).length,
    writeForward: compileWriter(fields, 'forward'),
    writeReverse: compileWriter(fields, 'reverse'),
  };
}

/**
 * Cuts the longest of the variable-length `values` (at UTF-8 boundaries) until those take at most
 * `budget` bytes with their length bytes: short strings stay whole while a long one (a tag list, a
 * long rule name) gets what the others leave, and a record still fits its message. Each value is
 * already at most 254 bytes (ViewStrings), so one length byte each.
 */
export function fitStrings(values: Uint8Array[], variable: readonly boolean[], budget: number): Uint8Array[] {
  const lengths = values.filter((_, j) => variable[j]).map((value) => value.length);
  let remaining = budget - lengths.length;
  if (lengths.reduce((sum, length) => sum + length, 0) <= remaining) return values;
  // Water-filling: the largest limit L with the sum of min(length, L) within the budget.
  lengths.sort((a, b) => a - b);
  let limit = 0;
  for (let j = 0; j < lengths.length; j++) {
    const share = Math.floor(Math.max(0, remaining) / (lengths.length - j));
    if (lengths[j]! > share) {
      limit = share;
      break;
    }
    remaining -= lengths[j]!;
  }
  return values.map((value, j) => (variable[j] && value.length > limit ? truncateUtf8(value, limit) : value));
}

/** The data templates of one run, chosen by the biflow mode. */
export interface FlowTemplates {
  readonly ipv4: FlowTemplate;
  readonly ipv6: FlowTemplate;
}

export function flowTemplates(biflow: 'split' | 'rfc5103', enterpriseNumber: number, names?: NameEncoding): FlowTemplates {
  // The names of both endpoints follow the Azure elements: the source's, then the destination's.
  const nameSlots: ElementName[] =
    names === undefined
      ? []
      : [...names.fields.map((field) => nameElement('source', field)), ...names.fields.map((field) => nameElement('destination', field))];
  const slots = [...FLOW_FIELDS, ...nameSlots, ...(biflow === 'rfc5103' ? REVERSE_FIELDS : [])];
  const ids =
    biflow === 'rfc5103'
      ? names === undefined
        ? [TEMPLATE_IDS.biflowIPv4, TEMPLATE_IDS.biflowIPv6]
        : [TEMPLATE_IDS.namedBiflowIPv4, TEMPLATE_IDS.namedBiflowIPv6]
      : names === undefined
        ? [TEMPLATE_IDS.flowIPv4, TEMPLATE_IDS.flowIPv6]
        : [TEMPLATE_IDS.namedFlowIPv4, TEMPLATE_IDS.namedFlowIPv6];
  return {
    ipv4: buildFlowTemplate(ids[0]!, resolve(slots, 4, enterpriseNumber), names),
    ipv6: buildFlowTemplate(ids[1]!, resolve(slots, 6, enterpriseNumber), names),
  };
}

export function netflow9Templates(): FlowTemplates {
  return {
    ipv4: buildFlowTemplate(TEMPLATE_IDS.netflow9IPv4, resolve(NETFLOW9_FIELDS, 4, 0), undefined),
    ipv6: buildFlowTemplate(TEMPLATE_IDS.netflow9IPv6, resolve(NETFLOW9_FIELDS, 6, 0), undefined),
  };
}
