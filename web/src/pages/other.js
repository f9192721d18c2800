// Pages with little in them: not found, and the door to the console.
import { errorBox } from '../components.js';
import { h, replace } from '../dom.js';

function note(title, text) {
    document.title = `${title} — conduit`;
    return h('div', { class: 'container narrow' }, h('h1', null, title), h('p', null, text, h('a', { href: '/' }, 'Go to the articles'), '.'));
}

export const notFound = () => note('Page not found', 'There is nothing at this address. ');

// /console and below: the live console of the running system, a chunk of its own (with its own
// stylesheet) loaded only here, so the blog's pages carry none of it.
export function consolePage(ctx) {
    document.title = 'Console — tandem console';
    const box = h('div', { class: 'container console-loading' }, h('h1', null, 'System console'), h('p', { class: 'muted loading' }, 'Loading the console…'));
    import('../console/console.js')
        .then((m) => m.mount(box, ctx))
        .catch(() => !ctx.signal.aborted && replace(box, h('h1', null, 'System console'), errorBox('The console could not be loaded.', () => location.reload())));
    return box;
}
