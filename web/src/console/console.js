// console.js: the live console of the running system (docs/console.md), a chunk of its own that
// the app loads only on /console pages (the blog's pages never load it, nor its stylesheet).
//
//   /console                   the map, every process with its figures and actions, the events
//   /console/topics[/<name>]   topics: partitions, offsets, records, a live tail
//   /console/groups[/<name>]   consumer groups: members, assignments, lag, offset resets
//   /console/fleet             the fleet's vehicles moving, from its stream (fleet.js)
//
// Everything comes from the console service (services/console) under /api/console: one
// server-sent event stream (stream.js) for what changes, REST for what is asked. Actions need the
// console key (key.js).
import { h, replace } from '../dom.js';
import { fleetPage } from './fleet.js';
import { groupPage, groupsPage } from './groups.js';
import { keyControl } from './key.js';
import { overview } from './overview.js';
import { listen } from './stream.js';
import { topicPage, topicsPage } from './topics.js';

/* global CONSOLE_CSS */
let css = null;

// The console's stylesheet (its own file: web/build.mjs names it CONSOLE_CSS), loaded once.
export function stylesheet() {
    if (!css) {
        css = new Promise((resolve) => {
            const link = h('link', { rel: 'stylesheet', href: CONSOLE_CSS });
            link.addEventListener('load', resolve);
            link.addEventListener('error', resolve); // unstyled is still usable
            document.head.append(link);
        });
    }
    return css;
}

function tabs(here) {
    const item = (href, label, active) =>
        h('li', null, h('a', { href, class: active ? 'active' : null, 'aria-current': active ? 'page' : null }, label));
    return h('nav', { class: 'tabs console-tabs', 'aria-label': 'Console' }, h('ul', null,
        item('/console', 'Overview', here === 'overview'),
        item('/console/topics', 'Topics', here === 'topics'),
        item('/console/groups', 'Consumer groups', here === 'groups'),
        item('/console/fleet', 'Fleet', here === 'fleet')));
}

function liveBadge(signal) {
    const badge = h('span', { class: 'live-badge', 'data-state': 'connecting' }, 'Connecting…');
    const stamp = h('span', { class: 'muted small stamp' });
    listen('state', (s) => {
        badge.dataset.state = s;
        badge.textContent = s === 'live' ? 'Live' : s === 'reconnecting' ? 'Reconnecting…' : 'Connecting…';
    }, signal);
    listen('status', () => (stamp.textContent = `updated ${new Date().toLocaleTimeString('en-GB', { hour12: false })}`), signal);
    return h('div', { class: 'live' }, badge, stamp);
}

// The page for pathname (under /console).
export function render(ctx) {
    const parts = location.pathname.replace(/\/+$/, '').split('/').slice(2).map((p) => {
        try {
            return decodeURIComponent(p);
        } catch {
            return null;
        }
    });
    const signal = ctx.signal;
    let here = 'overview';
    let body;
    let title = 'Console';
    if (parts.length === 0) {
        body = overview(signal);
    } else if (parts[0] === 'topics' && parts.length <= 2 && parts[1] !== null) {
        here = 'topics';
        body = parts[1] ? topicPage(parts[1], signal) : topicsPage(signal);
        title = parts[1] ? `Topic ${parts[1]}` : 'Topics';
    } else if (parts[0] === 'groups' && parts.length <= 2 && parts[1] !== null) {
        here = 'groups';
        body = parts[1] ? groupPage(parts[1], signal) : groupsPage(signal);
        title = parts[1] ? `Group ${parts[1]}` : 'Consumer groups';
    } else if (parts[0] === 'fleet' && parts.length === 1) {
        here = 'fleet';
        body = fleetPage(signal);
        title = 'Fleet';
    } else {
        body = h('p', null, 'There is no console page at this address. ', h('a', { href: '/console' }, 'Go to the overview'), '.');
        title = 'Not found';
    }
    document.title = `${title} — tandem console`;
    return h('div', { class: 'console' },
        h('div', { class: 'console-head' },
            h('h1', null, 'System console'),
            liveBadge(signal),
            keyControl(signal)),
        tabs(here),
        h('div', { class: 'console-body' }, body));
}

// Replaces placeholder's content with the page once the stylesheet is in (focus, if it was on
// the placeholder's heading, moves to the page's).
export function mount(placeholder, ctx) {
    stylesheet().then(() => {
        if (ctx.signal.aborted) return;
        const focused = placeholder.contains(document.activeElement);
        replace(placeholder, render(ctx));
        placeholder.classList.remove('console-loading', 'container');
        if (focused) {
            const h1 = placeholder.querySelector('h1');
            h1.tabIndex = -1;
            h1.focus({ preventScroll: true });
        }
    });
}
