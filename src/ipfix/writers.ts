import type { InformationElement } from './informationElements.js';

/**
 * Value writers shaped `(buf, offset, value) -> newOffset`, network byte order (RFC 7011
 * section 6.1). Shared by the IPFIX and NetFlow encoders.
 */

const TWO_TO_32 = 0x1_0000_0000;

export function writeU8(buf: Buffer, offset: number, value: number): number {
  buf[offset] = value;
  return offset + 1;
}

export function writeU16(buf: Buffer, offset: number, value: number): number {
  buf[offset] = value >>> 8;
  buf[offset + 1] = value;
  return offset + 2;
}

export function writeU32(buf: Buffer, offset: number, value: number): number {
  buf[offset] = value >>> 24;
  buf[offset + 1] = value >>> 16;
  buf[offset + 2] = value >>> 8;
  buf[offset + 3] = value;
  return offset + 4;
}

/** RFC 7011 section 7: one length byte below 255, else 255 and a two-byte length. */
export function writeVariableLength(buf: Buffer, offset: number, bytes: Uint8Array): number {
  if (bytes.length < 255) {
    buf[offset] = bytes.length;
    offset += 1;
  } else {
    buf[offset] = 255;
    offset = writeU16(buf, offset + 1, bytes.length);
  }
  buf.set(bytes, offset);
  return offset + bytes.length;
}

export function variableLengthSize(bytes: Uint8Array): number {
  return (bytes.length < 255 ? 1 : 3) + bytes.length;
}

export function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO_TO_32 + buf.readUInt32BE(offset + 4);
}

/** RFC 7011 section 3.2: a field specifier, with the enterprise bit and PEN where needed. */
export function writeFieldSpecifier(buf: Buffer, offset: number, element: InformationElement): number {
  if (element.enterpriseNumber === 0) {
    offset = writeU16(buf, offset, element.id);
    return writeU16(buf, offset, element.length);
  }
  offset = writeU16(buf, offset, element.id | 0x8000);
  offset = writeU16(buf, offset, element.length);
  return writeU32(buf, offset, element.enterpriseNumber);
}

export function fieldSpecifierSize(element: InformationElement): number {
  return element.enterpriseNumber === 0 ? 4 : 8;
}
