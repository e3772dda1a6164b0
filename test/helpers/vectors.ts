import { readFileSync } from 'node:fs';
import { LedgerError } from '../../src/core/errors.js';

/** vector reads a file of test/vectors/. */
export const vector = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../vectors/${name}`, import.meta.url)));
export const vectorText = (name: string): string => new TextDecoder().decode(vector(name));

/** code runs f and names how it ended: 'OK', a LedgerError code, or the error's name. */
export function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof LedgerError) return e.code;
    return (e as Error).name;
  }
  return 'OK';
}
