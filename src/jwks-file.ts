/**
 * A CDS client's keys given as a file (CDS_TRUSTED_ISSUERS `jwksFile`): read once, at
 * configuration time, and held to being a JWK Set of public keys, so that a missing or malformed
 * file stops start-up with its name and why instead of failing every call (or the process) later.
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import { FileReadError, readRegularFile } from './read-file.js';

/** Largest JWKS file read: a JWK Set of a few keys is a few kB. */
const JWKS_FILE_MAX_BYTES = 1_048_576;

/** Members only a private or secret key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The key set of `path`, or why it is not one: `was not found`, `is not JSON`, `is not a JWK Set of public keys: …`. */
export function readJwksFile(path: string): { jwks: JSONWebKeySet } | { why: string } {
  let text: string;
  try {
    text = readRegularFile(path, JWKS_FILE_MAX_BYTES)
      .toString('utf8')
      .replace(/^\uFEFF/, '');
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error;
    return { why: error.message === 'ENOENT' ? 'was not found' : `cannot be read (${error.message})` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { why: 'is not JSON' };
  }
  const problem = keySetProblem(value);
  return problem ? { why: `is not a JWK Set of public keys: ${problem}` } : { jwks: value as JSONWebKeySet };
}

/** What keeps `value` from being a JWK Set of public keys, or undefined. */
function keySetProblem(value: unknown): string | undefined {
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (typeof value !== 'object' || Array.isArray(value) || !Array.isArray(keys)) return 'it has no "keys" list';
  if (keys.length === 0) return 'its "keys" list is empty';
  for (const [i, key] of keys.entries()) {
    if (typeof key !== 'object' || key === null || Array.isArray(key)) return `keys[${i}] is not an object`;
    const secret = PRIVATE_MEMBERS.find((member) => member in key);
    if (secret !== undefined)
      return `keys[${i}] is a private or secret key (it has "${secret}"): give the client's public keys only`;
    try {
      createPublicKey({ key: key as JsonWebKey, format: 'jwk' });
    } catch {
      return `keys[${i}] is not a valid public key`;
    }
  }
  return undefined;
}
