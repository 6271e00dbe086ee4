/**
 * The status line every page shares: what is happening, or what went wrong and what to do.
 */
import { byId, h, type Child } from './dom.js';

export type StatusState = 'loading' | 'ready' | 'error' | 'refused';

export function setStatus(state: StatusState, ...content: Child[]): void {
  const el = byId('status');
  el.dataset['state'] = state;
  el.className = `status ${state}`;
  el.replaceChildren();
  for (const c of content)
    if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'number' ? String(c) : c);
  el.hidden = state === 'ready';
}

/** A launch or data problem the user can read: what failed and what to do about it. */
export class UserFacingError extends Error {
  constructor(
    message: string,
    readonly advice: string,
  ) {
    super(message);
    this.name = 'UserFacingError';
  }
}

export function showError(error: unknown, retry?: () => void): void {
  const message = error instanceof Error ? error.message : String(error);
  const advice = error instanceof UserFacingError ? error.advice : '';
  setStatus(
    error instanceof UserFacingError && error.name === 'Refused' ? 'refused' : 'error',
    h('strong', {}, message),
    advice ? h('p', {}, advice) : null,
    retry ? h('button', { type: 'button', 'data-testid': 'retry' }, 'Retry') : null,
  );
  if (retry) byId('status').querySelector('button')?.addEventListener('click', retry, { once: true });
}

/**
 * The SMART session lives in sessionStorage. A browser that blocks storage for sites embedded by
 * another site (third-party storage blocked) denies it inside a cross-site EHR iframe: say so and
 * what to do, instead of a launch that fails later without a reason.
 */
export function requireSessionStorage(): void {
  try {
    window.sessionStorage.getItem('storage-check');
  } catch {
    throw new UserFacingError(
      'This browser does not let the app keep its session inside the EHR’s window (storage for embedded sites is blocked).',
      'Open the app in its own window from the EHR, or ask IT to allow storage for this site in the browser policy.',
    );
  }
}
