/**
 * Building DOM from data without HTML strings: every text goes through textContent, so values,
 * units and displays from a FHIR server can never inject markup.
 */
export type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined) el.setAttribute(name, value);
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'number' ? String(child) : child);
  }
}

/** An external link, only for http(s) URLs; anything else is shown as text. */
export function link(label: string, url: string | undefined): HTMLElement {
  if (url) {
    try {
      const parsed = new URL(url);
      if (parsed.protocol === 'https:' || parsed.protocol === 'http:') {
        return h('a', { href: parsed.href, target: '_blank', rel: 'noopener noreferrer' }, label);
      }
    } catch {
      // not a URL: fall through to plain text
    }
  }
  return h('span', {}, label);
}

export function table(header: string[], rows: Child[][], attrs: Record<string, string> = {}): HTMLTableElement {
  const head = h('thead', {}, h('tr', {}, ...header.map((c) => h('th', { scope: 'col' }, c))));
  return h('table', attrs, head, h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))));
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
}
