/**
 * Keeping FHIR reads under the FHIR base URL: prefetch URLs, references and `next` links are
 * resolved against the base and refused when they would leave it. Pure (no Node), so the SMART app
 * uses it too.
 */

/** A `.` or `..` path segment, percent-encoded or not (`%2e`, `.%2E`), as a URL parser reads it. */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/**
 * Resolves a relative FHIR URL against the FHIR base URL and checks that the result stays under
 * that base (same origin, same path prefix). Returns undefined when it would leave the base, and
 * for any `.` or `..` path segment: no FHIR read or search has one, and `Patient/..` would read the
 * base itself (with the bearer token).
 */
export function resolveUnderBase(base: string, relative: string): URL | undefined {
  const root = new URL(base.endsWith('/') ? base : `${base}/`);
  const path = relative.split(/[?#]/, 1)[0] ?? '';
  // A backslash separates segments too in http(s) URLs (WHATWG URL).
  if (path.split(/[/\\]/).some((segment) => DOT_SEGMENT.test(segment))) return undefined;
  let target: URL;
  try {
    target = new URL(relative.replace(/^\/+/, ''), root);
  } catch {
    return undefined;
  }
  return isUnderBase(root, target) ? target : undefined;
}

/** True when `target` has the origin of `base` and a path inside it. */
export function isUnderBase(base: URL, target: URL): boolean {
  const basePath = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
  return (
    target.origin === base.origin &&
    target.username === '' &&
    target.password === '' &&
    (target.pathname === basePath.slice(0, -1) || target.pathname.startsWith(basePath))
  );
}
