/**
 * Bodies for the hostile FHIR server (./hostile-fhir.ts): realistic Observation entries generated
 * in chunks (never one giant string), exact-size searchset Bundles, a multi-member gzip bomb, and
 * the HTML pages that gateways and login proxies put in front of FHIR APIs.
 */
import { gzipSync } from 'node:zlib';

export const BUNDLE_OPEN = '{"resourceType":"Bundle","type":"searchset","entry":[';
export const CHUNK_BYTES = 64 * 1024;

/**
 * One searchset entry holding an absolute-neutrophil-count Observation for `patientJson` (a JSON
 * string literal). Fixed width for a given patient: the id is zero-padded, the date and value are
 * fixed-width, so a Bundle of exactly N bytes can be planned up front.
 */
export function observationEntry(patientJson: string, i: number): string {
  const id = `hostile-${String(i % 1e12).padStart(12, '0')}`;
  const when = new Date(Date.UTC(2026, 0, 1) + (i % 5_000_000) * 60_000).toISOString();
  const value = (((i * 37) % 900) + 100) / 100;
  return (
    `{"fullUrl":"urn:uuid:${id}","resource":{"resourceType":"Observation","id":"${id}","status":"final",` +
    `"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],` +
    `"code":{"coding":[{"system":"http://loinc.org","code":"751-8","display":"Neutrophils [#/volume] in Blood by Automated count"}]},` +
    `"subject":{"reference":${patientJson}},"effectiveDateTime":"${when}",` +
    `"valueQuantity":{"value":${value.toFixed(2)},"unit":"10*9/L","system":"http://unitsofmeasure.org","code":"10*9/L"}},` +
    `"search":{"mode":"match"}}`
  );
}

/** `"Patient/<id>"` as a JSON string literal, for the patient a search asked about. */
export function patientReferenceJson(patientId: string): string {
  return JSON.stringify(`Patient/${patientId}`);
}

/** Entries `from`, `from+1`… (before `until`) joined by commas (each preceded by one unless it is entry 0), up to ~`bytes`. */
export function entryChunk(
  patientJson: string,
  from: number,
  bytes = CHUNK_BYTES,
  until = Number.POSITIVE_INFINITY,
): { text: string; next: number } {
  const parts: string[] = [];
  let size = 0;
  let i = from;
  while (size < bytes && i < until) {
    const entry = (i === 0 ? '' : ',') + observationEntry(patientJson, i);
    parts.push(entry);
    size += entry.length;
    i++;
  }
  return { text: parts.join(''), next: i };
}

/** Plan of a searchset Bundle of exactly `bytes` bytes: n (at most `maxEntries`) fixed-width entries, then whitespace padding. */
export interface HugePlan {
  head: string;
  entries: number;
  padding: number;
  tail: string;
}

export function planHugeBundle(patientJson: string, bytes: number, maxEntries = Infinity): HugePlan {
  const entryBytes = Buffer.byteLength(observationEntry(patientJson, 1)) + 1; // with its comma
  const probe = (n: number): string => `{"resourceType":"Bundle","type":"searchset","total":${n},"entry":[`;
  const tail = ']}';
  let entries = Math.max(0, Math.floor((bytes - probe(0).length - tail.length + 1) / entryBytes));
  entries = Math.min(entries, maxEntries);
  // The digits of `total` change the head's length: step down until everything fits.
  while (entries > 0 && probe(entries).length + entries * entryBytes - 1 + tail.length > bytes) entries--;
  const head = probe(entries);
  const used = head.length + Math.max(0, entries * entryBytes - 1) + tail.length;
  if (used > bytes) throw new Error(`a searchset Bundle needs at least ${used} bytes`);
  return { head, entries, padding: bytes - used, tail };
}

/**
 * A gzip body (RFC 1952 allows a series of members; Node's gunzip, undici and curl read them all)
 * that inflates to exactly `bytes` bytes of one valid searchset Bundle: a head member with a real
 * entry, then 1 MiB of JSON whitespace compressed once (~1 KB, deflate's best ratio, ~1:1000) and
 * repeated, then a tail member closing the Bundle.
 */
export function gzipBomb(
  patientJson: string,
  bytes: number,
): { members: Buffer[]; compressedBytes: number; inflatedBytes: number } {
  const headText = `${BUNDLE_OPEN}${observationEntry(patientJson, 0)}`;
  const tailText = ']}';
  const block = 1024 * 1024;
  const body = bytes - Buffer.byteLength(headText) - tailText.length;
  if (body < 0) throw new Error('gzip bomb too small for a Bundle');
  const blocks = Math.floor(body / block);
  const blockGz = gzipSync(Buffer.alloc(block, ' '), { level: 9 });
  const members = [
    gzipSync(headText),
    ...Array.from({ length: blocks }, () => blockGz),
    gzipSync(' '.repeat(body - blocks * block) + tailText, { level: 9 }),
  ];
  return { members, compressedBytes: members.reduce((n, m) => n + m.length, 0), inflatedBytes: bytes };
}

export const HTML_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

export const HTML_LOGIN =
  '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign in - Hospital Portal</title></head>' +
  '<body><form method="post" action="/login"><h1>Your session has expired</h1>' +
  '<label>User name <input name="username"></label><label>Password <input name="password" type="password"></label>' +
  '<button type="submit">Sign in</button></form></body></html>';
