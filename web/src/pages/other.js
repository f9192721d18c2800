// Pages with little in them: not found, and the console's place.
import { h } from '../dom.js';

function note(title, text) {
    document.title = `${title} — conduit`;
    return h('div', { class: 'container narrow' }, h('h1', null, title), h('p', null, text, h('a', { href: '/' }, 'Go to the articles'), '.'));
}

export const notFound = () => note('Page not found', 'There is nothing at this address. ');

// /console is kept for the live console of the running system (a later part of the web UI).
export const consolePage = () =>
    note('Console', 'The live console of the running system is not part of this version of the web UI yet. ');
