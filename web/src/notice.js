// notice.js: messages that belong to no form and no list (a favorite that failed, a session that
// ended), in one live region at the top of the page so screen readers announce them.
import { h, replace } from './dom.js';

let region = null;
let timer = 0;

export function mountNotices(el) {
    region = el;
}

// Shows message for a while (kind "error" or "info"); a newer message replaces it.
export function notify(message, kind = 'error') {
    if (!region) return;
    clearTimeout(timer);
    const close = h('button', { type: 'button', class: 'notice-close', 'aria-label': 'Dismiss message', onclick: clear }, '×');
    replace(region, h('div', { class: `notice notice-${kind}` }, h('p', null, message), close));
    timer = setTimeout(clear, 8000);
}

export function clear() {
    clearTimeout(timer);
    if (region) region.replaceChildren();
}
