// Pages with little in them: not found, and the console's place.
import { h } from '../dom.js';

export function notFound() {
    document.title = 'Not found — conduit';
    return h(
        'div',
        { class: 'container narrow' },
        h('h1', null, 'Page not found'),
        h('p', null, 'There is nothing at this address. ', h('a', { href: '/' }, 'Go to the articles'), '.'),
    );
}

// /console is kept for the live console of the running system (a later part of the web UI).
export function consolePage() {
    document.title = 'Console — conduit';
    return h(
        'div',
        { class: 'container narrow' },
        h('h1', null, 'Console'),
        h('p', null, 'The live console of the running system is not part of this version of the web UI yet. ', h('a', { href: '/' }, 'Go to the articles'), '.'),
    );
}
