// The one escaping of text that reaches a terminal. Process names, paths, thread names, mapping
// names, trace strings and error messages come from other programs and files: a byte sequence in
// them must not move the cursor, clear the screen or reorder what is shown.
//  - C0 controls U+0000–U+001F and DEL U+007F (ECMA-48 §5.2: ESC starts a control sequence).
//  - C1 controls U+0080–U+009F: U+009B is CSI on its own (ECMA-48 §5.3), so "\u009b2J" clears a
//    terminal that honours 8-bit controls, with no ESC anywhere.
//  - Bidirectional embeddings and overrides U+202A–U+202E and isolates U+2066–U+2069 (Unicode
//    UAX #9): U+202E makes the rest of a line display right to left, hiding what follows.
// Each becomes a visible escape: \xNN for the controls, \u{NNNN} for the bidirectional marks.

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Makes text printable on one line of a terminal: every unsafe character becomes a visible escape. */
export function printable(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}
