/**
 * Where the CDS router sends acknowledged feedback and issued cards: the ports src/storage
 * implements (SQLite or PostgreSQL). Types only, so storage depends on the protocol, never on the
 * router.
 */
import type { IssuedCard } from '../shared/card-kind.js';
import type { FeedbackEntry } from './schemas.js';

/** Durable storage of feedback (the call answers 200 only once it is stored) and of issued cards. */
export interface FeedbackSink {
  recordFeedback(serviceId: string, entries: FeedbackEntry[], receivedAt: Date): Promise<void>;
  recordCards(serviceId: string, cards: IssuedCard[], issuedAt: Date): Promise<void>;
}

/** Records issued cards off the response path (src/storage/card-recorder.ts); never blocks. */
export interface CardSink {
  record(serviceId: string, cards: IssuedCard[], issuedAt: Date): void;
}
