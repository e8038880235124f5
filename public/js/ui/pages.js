// pages: keyset paging for any listing: the first page, then "Load more"
// through next_cursor. `key` restarts from the first page when it changes
// (a new filter or order).
import { html, useCallback, useEffect, useRef, useState } from '../../vendor/htm-preact.js';
import { ProblemView } from './problem.js';

/**
 * @template T
 * @param {(cursor: string|null) => Promise<import('../types.js').Page<T>>} fetchPage
 * @param {unknown[]} key
 */
export function usePages(fetchPage, key) {
  const [items, setItems] = useState(/** @type {T[]} */ ([]));
  const [cursor, setCursor] = useState(/** @type {string|null} */ (null));
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const generation = useRef(0);

  const load = useCallback(async (/** @type {string|null} */ from) => {
    const gen = ++generation.current;
    setLoading(true);
    setError(null);
    try {
      const page = await fetchPage(from);
      if (gen !== generation.current) return; // a newer load started
      setItems((old) => (from ? [...old, ...page.data] : page.data));
      setCursor(page.next_cursor);
    } catch (e) {
      if (gen === generation.current) setError(e);
    } finally {
      if (gen === generation.current) setLoading(false);
    }
  }, key);

  useEffect(() => {
    setItems([]);
    setCursor(null);
    load(null);
  }, key);

  return {
    items,
    setItems,
    loading,
    error,
    more: cursor !== null,
    loadMore: () => load(cursor),
    reload: () => load(null),
  };
}

/**
 * The "Load more" row under a listing, with progress and errors.
 * @param {{pages: {loading: boolean, error: unknown, more: boolean, loadMore: () => void, reload: () => void}, what: string}} props
 */
export function MoreButton({ pages, what }) {
  return html`<div class="actions more">
    <${ProblemView} error=${pages.error} onRetry=${pages.reload} />
    ${pages.more && html`<button type="button" onClick=${pages.loadMore} disabled=${pages.loading}
      class=${pages.loading ? 'busy' : ''}>Load more ${what}</button>`}
    ${pages.loading && !pages.more && html`<span class="busy" aria-live="polite">Loading ${what}</span>`}
  </div>`;
}
