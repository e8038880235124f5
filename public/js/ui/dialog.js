// dialog: a modal on the native <dialog> element (focus moves into it, Esc
// closes it, the page behind is inert) that gives focus back to what had
// it when it closes. `drawer` makes it a full-height side panel.
import { html, useEffect, useRef } from '../../vendor/htm-preact.js';

/**
 * @param {{open: boolean, onClose: () => void, title: string, drawer?: boolean, children?: unknown}} props
 */
export function Dialog({ open, onClose, title, drawer, children }) {
  /** @type {{current: HTMLDialogElement|null}} */
  const ref = useRef(null);
  /** @type {{current: Element|null}} */
  const opener = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      opener.current = document.activeElement;
      d.showModal();
    } else if (!open && d.open) {
      d.close();
    }
  }, [open]);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const closed = () => {
      const back = opener.current;
      if (back instanceof HTMLElement && back.isConnected) back.focus();
      onClose();
    };
    d.addEventListener('close', closed);
    return () => d.removeEventListener('close', closed);
  }, [onClose]);
  const titleId = `dlg-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return html`<dialog ref=${ref} class=${drawer ? 'drawer' : ''} aria-labelledby=${titleId}>
    ${open && html`<h2 id=${titleId}>${title}</h2>${children}`}
  </dialog>`;
}
