/**
 * What the card builders, the CDS router and the storage share about an issued card: the
 * extension naming its kind, and the record kept of it. Pure and dependency-free, so every layer
 * (src/cards, src/cds-hooks, src/storage) can import it without importing each other.
 */

/** Card extension naming the card's kind (CDS Hooks allows `extension` on every object). */
export const CARD_KIND_EXTENSION = 'org.cart-hematotox.card-kind';

/** A card's `indicator` (CDS Hooks 2.0 Card). */
export type CardIndicator = 'info' | 'warning' | 'critical';

/** The kind a card builder put in {@link CARD_KIND_EXTENSION}; `unknown` when there is none. */
export function cardKind(card: { extension?: Record<string, unknown> | undefined }): string {
  const kind = card.extension?.[CARD_KIND_EXTENSION];
  return typeof kind === 'string' ? kind : 'unknown';
}

/** What is kept of an issued card for alert-fatigue reports: no patient data. */
export interface IssuedCard {
  uuid: string;
  kind: string;
  indicator: CardIndicator;
}
