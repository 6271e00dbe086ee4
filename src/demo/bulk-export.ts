/**
 * Writes resources as a FHIR Bulk Data export: one `<ResourceType>.ndjson` file per type.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FhirResource } from 'fhir/r4.js';

export async function writeBulkExport(
  folder: string,
  resources: Iterable<FhirResource>,
): Promise<Record<string, number>> {
  mkdirSync(folder, { recursive: true });
  const streams = new Map<string, ReturnType<typeof createWriteStream>>();
  const counts: Record<string, number> = {};
  for (const r of resources) {
    let stream = streams.get(r.resourceType);
    if (!stream) {
      stream = createWriteStream(join(folder, `${r.resourceType}.ndjson`));
      streams.set(r.resourceType, stream);
    }
    stream.write(`${JSON.stringify(r)}\n`);
    counts[r.resourceType] = (counts[r.resourceType] ?? 0) + 1;
  }
  await Promise.all(
    [...streams.values()].map(
      (s) => new Promise<void>((resolve, reject) => s.end((err?: Error | null) => (err ? reject(err) : resolve()))),
    ),
  );
  return counts;
}
