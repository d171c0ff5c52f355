// Wiring: a decoder whose events feed the analysis. The caller feeds the bytes (from a file
// through src/sources/memtrace-file.ts, or from memory), then builds the report.
import { MemtraceDecoder } from '../../parsers/memtrace/decoder.js';
import { MemtraceAnalyzer } from './analyzer.js';
import { LwtClassifier } from './lwt.js';

export interface MemtraceAnalysis {
  decoder: MemtraceDecoder;
  analyzer: MemtraceAnalyzer;
  lwt: LwtClassifier;
}

export function createMemtraceAnalysis(source: string, lwtPrefixes: readonly string[] = []): MemtraceAnalysis {
  const lwt = new LwtClassifier(lwtPrefixes);
  const analyzer = new MemtraceAnalyzer(lwt);
  const decoder = new MemtraceDecoder(analyzer, source);
  analyzer.attach(decoder);
  return { decoder, analyzer, lwt };
}
