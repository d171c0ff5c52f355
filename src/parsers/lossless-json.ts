// A JSON reader for tracer output that loses nothing: integers become bigint (kernel timestamps
// and addresses pass 2^53), and strings are rebuilt from their bytes. bpftrace (0.17 at least,
// src/output.cpp JsonOutput::json_escape) escapes every byte >= 0x80 of a string through a
// signed char, as "\uffffffc3" for the byte 0xc3, instead of passing it through; this reader
// turns that back into the byte, then decodes the bytes as UTF-8 (invalid sequences become
// U+FFFD). Input is one JSON text as bytes.
import { ParseError } from '../base/errors.js';

export type JsonValue = bigint | number | string | boolean | null | JsonValue[] | { [key: string]: JsonValue };

const utf8 = new TextDecoder('utf-8', { fatal: false });
const encoder = new TextEncoder();

const isHex = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

class Reader {
  at = 0;
  constructor(
    readonly b: Uint8Array,
    readonly source: string,
  ) {}

  fail(what: string): never {
    throw new ParseError(`${what} at byte ${this.at}`, this.source);
  }

  ws(): void {
    for (;;) {
      const c = this.b[this.at];
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.at++;
      else return;
    }
  }

  value(depth: number): JsonValue {
    if (depth > 64) this.fail('nesting too deep');
    this.ws();
    const c = this.b[this.at];
    if (c === undefined) this.fail('unexpected end');
    if (c === 0x7b) return this.object(depth);
    if (c === 0x5b) return this.array(depth);
    if (c === 0x22) return this.string();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.word('true')) return true;
    if (this.word('false')) return false;
    if (this.word('null')) return null;
    return this.fail('unexpected character');
  }

  word(w: string): boolean {
    for (let i = 0; i < w.length; i++) if (this.b[this.at + i] !== w.charCodeAt(i)) return false;
    this.at += w.length;
    return true;
  }

  object(depth: number): { [key: string]: JsonValue } {
    this.at++;
    const out: { [key: string]: JsonValue } = {};
    this.ws();
    if (this.b[this.at] === 0x7d) {
      this.at++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.b[this.at] !== 0x22) this.fail('expected a key');
      const key = this.string();
      this.ws();
      if (this.b[this.at] !== 0x3a) this.fail("expected ':'");
      this.at++;
      Object.defineProperty(out, key, {
        value: this.value(depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.ws();
      const c = this.b[this.at++];
      if (c === 0x7d) return out;
      if (c !== 0x2c) this.fail("expected ',' or '}'");
    }
  }

  array(depth: number): JsonValue[] {
    this.at++;
    const out: JsonValue[] = [];
    this.ws();
    if (this.b[this.at] === 0x5d) {
      this.at++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.b[this.at++];
      if (c === 0x5d) return out;
      if (c !== 0x2c) this.fail("expected ',' or ']'");
    }
  }

  number(): bigint | number {
    const start = this.at;
    if (this.b[this.at] === 0x2d) this.at++;
    let digits = 0;
    while (this.isDigit()) {
      this.at++;
      digits++;
    }
    if (digits === 0) this.fail('bad number');
    let integer = true;
    if (this.b[this.at] === 0x2e) {
      integer = false;
      this.at++;
      while (this.isDigit()) this.at++;
    }
    if (this.b[this.at] === 0x65 || this.b[this.at] === 0x45) {
      integer = false;
      this.at++;
      if (this.b[this.at] === 0x2b || this.b[this.at] === 0x2d) this.at++;
      while (this.isDigit()) this.at++;
    }
    const text = String.fromCharCode(...this.b.subarray(start, this.at));
    if (integer) return BigInt(text);
    const n = Number(text);
    if (!Number.isFinite(n)) this.fail('bad number');
    return n;
  }

  isDigit(): boolean {
    const c = this.b[this.at];
    return c !== undefined && c >= 0x30 && c <= 0x39;
  }

  hex(at: number, n: number): number | undefined {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const c = this.b[at + i];
      if (c === undefined || !isHex(c)) return undefined;
      v = v * 16 + parseInt(String.fromCharCode(c), 16);
    }
    return v;
  }

  string(): string {
    this.at++;
    const bytes: number[] = [];
    let highSurrogate: number | undefined;
    for (;;) {
      const c = this.b[this.at];
      if (c === undefined) this.fail('unterminated string');
      if (c === 0x22) {
        this.at++;
        return utf8.decode(new Uint8Array(bytes));
      }
      if (c !== 0x5c) {
        bytes.push(c);
        this.at++;
        continue;
      }
      const e = this.b[this.at + 1];
      this.at += 2;
      switch (e) {
        case 0x22:
          bytes.push(0x22);
          break;
        case 0x5c:
          bytes.push(0x5c);
          break;
        case 0x2f:
          bytes.push(0x2f);
          break;
        case 0x62:
          bytes.push(0x08);
          break;
        case 0x66:
          bytes.push(0x0c);
          break;
        case 0x6e:
          bytes.push(0x0a);
          break;
        case 0x72:
          bytes.push(0x0d);
          break;
        case 0x74:
          bytes.push(0x09);
          break;
        case 0x75: {
          // bpftrace's sign-extended byte: \uffffffXX (8 hex digits) is the raw byte XX.
          const wide = this.hex(this.at, 8);
          if (wide !== undefined && wide >= 0xffffff80) {
            bytes.push(wide & 0xff);
            this.at += 8;
            break;
          }
          const u = this.hex(this.at, 4);
          if (u === undefined) this.fail('bad \\u escape');
          this.at += 4;
          if (u >= 0xd800 && u <= 0xdbff) {
            highSurrogate = u;
            break;
          }
          let cp = u;
          if (u >= 0xdc00 && u <= 0xdfff && highSurrogate !== undefined)
            cp = 0x10000 + ((highSurrogate - 0xd800) << 10) + (u - 0xdc00);
          highSurrogate = undefined;
          for (const x of encoder.encode(String.fromCodePoint(cp))) bytes.push(x);
          break;
        }
        default:
          this.fail('bad escape');
      }
    }
  }
}

/** Parses one JSON text; throws ParseError (with `source`) when it is not valid JSON. */
export function parseLosslessJson(bytes: Uint8Array, source: string): JsonValue {
  const r = new Reader(bytes, source);
  const v = r.value(0);
  r.ws();
  if (r.at !== bytes.length) r.fail('trailing data');
  return v;
}
