// Parses the kernel's self-description of trace records: events/<system>/<event>/format and
// events/header_page. Offsets and sizes always come from these files, never from constants,
// because they change between kernels and architectures (kernel/trace/trace_events.c f_show(),
// kernel/trace/ring_buffer.c ring_buffer_print_page_header()).
import { ParseError } from '../../base/errors.js';

export interface FieldFormat {
  /** The field name without any array suffix ("comm" for "char comm[16]"). */
  name: string;
  /** The C type as declared, without the name ("unsigned long", "char[16]", "__data_loc char[]"). */
  type: string;
  offset: number;
  size: number;
  signed: boolean;
  /** `__data_loc` fields hold a u32: (length << 16) | offset of dynamic data in the record. */
  dataLoc: boolean;
  /** Element count for fixed arrays ("char comm[16]" → 16), else undefined. */
  arrayLength: number | undefined;
}

export interface EventFormat {
  name: string;
  id: number;
  /** common_type, common_flags, common_preempt_count, common_pid. */
  commonFields: FieldFormat[];
  fields: FieldFormat[];
}

// "\tfield:unsigned long addr;\toffset:16;\tsize:8;\tsigned:0;" (header_page has "field: u64 timestamp;")
const FIELD_LINE = /^\s*field:\s*(.+?);\s*offset:\s*(\d+);\s*size:\s*(\d+);\s*(?:signed:\s*(-?\d+);)?/;

function parseDeclaration(decl: string, source: string, line: number): Omit<FieldFormat, 'offset' | 'size' | 'signed'> {
  const m = /^(.*?)([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?\s*$/.exec(decl.trim());
  if (!m?.[2]) throw new ParseError(`cannot read field declaration "${decl}"`, source, line);
  const base = (m[1] ?? '').trim();
  const arraySuffix = m[3];
  const dataLoc = base.startsWith('__data_loc') || base.startsWith('__rel_loc');
  const lengthText = arraySuffix?.slice(1, -1).trim();
  const arrayLength = lengthText !== undefined && /^\d+$/.test(lengthText) ? Number(lengthText) : undefined;
  return { name: m[2], type: arraySuffix === undefined ? base : `${base}${arraySuffix}`, dataLoc, arrayLength };
}

/** Parses every `field:` line of a format-like text, in order. */
export function parseFieldLines(text: string, source: string): FieldFormat[] {
  const out: FieldFormat[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (!/^\s*field:/.test(line)) continue;
    const m = FIELD_LINE.exec(line);
    if (!m?.[1] || m[2] === undefined || m[3] === undefined)
      throw new ParseError(`malformed field line "${line.trim()}"`, source, i + 1);
    const decl = parseDeclaration(m[1], source, i + 1);
    out.push({ ...decl, offset: Number(m[2]), size: Number(m[3]), signed: m[4] !== undefined && m[4] !== '0' });
  }
  return out;
}

/** Parses one events/<system>/<event>/format file. Returns undefined for text that is not one. */
export function parseEventFormat(text: string, source: string): EventFormat | undefined {
  const name = /^name:\s*(\S+)\s*$/m.exec(text)?.[1];
  const idText = /^ID:\s*(\S+)\s*$/m.exec(text)?.[1];
  if (name === undefined || idText === undefined || !/^format:/m.test(text)) return undefined;
  if (!/^\d+$/.test(idText)) throw new ParseError(`event ID "${idText}" is not a number`, source);
  const all = parseFieldLines(text, source);
  const commonFields = all.filter((f) => f.name.startsWith('common_'));
  const fields = all.filter((f) => !f.name.startsWith('common_'));
  if (!commonFields.some((f) => f.name === 'common_type')) throw new ParseError('no common_type field', source);
  return { name, id: Number(idText), commonFields, fields };
}

export function findField(format: EventFormat, name: string): FieldFormat | undefined {
  return format.fields.find((f) => f.name === name) ?? format.commonFields.find((f) => f.name === name);
}
