// The memtrace reader's public API (stable: the OCaml recording library's tests use it too).
export { MemtraceDecoder, decodeMemtrace } from './decoder.js';
export { detectMemtrace, DETECT_BYTES } from './detect.js';
export { StackTrie } from './stack-trie.js';
export { CodeKeys } from './code-key.js';
export { AllocSource, emptyIntegrity } from './types.js';
export type { MemtraceEventCounts, MemtraceIntegrity, MemtraceVisitor, SourceLocation, TraceInfo } from './types.js';
