/** The arguments of `cart-hematotox`, read the same way by the entry (assess.ts) and run.ts. */
import { parseArgs } from 'node:util';

const OPTIONS = {
  'as-of': { type: 'string' },
  'infusion-date': { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  thresholds: { type: 'string' },
  'local-codes': { type: 'string' },
  'time-zone': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parse(
  argv: string[],
): ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof OPTIONS }>> {
  return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
}
