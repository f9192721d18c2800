// dom.js: building the page without HTML strings.
//
// Every element of the UI is made by h(), which sets text as text (never as markup) and
// attributes one by one, so nothing a user wrote (a title, a bio, a comment) can become markup.
// The one place where HTML is inserted is the article body, after DOMPurify (markdown.js).

const SVG = 'http://www.w3.org/2000/svg';

// h('a', {href: '/x', class: 'link', onclick: fn}, 'text', child, [more]) -> the element.
// null, undefined and false attributes or children are skipped; true sets an empty attribute.
export function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
}

function setAttrs(el, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
        if (v == null || v === false) continue;
        if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k === 'class') el.setAttribute('class', v);
        else el.setAttribute(k, v === true ? '' : String(v));
    }
}

export function append(el, children) {
    for (const c of children.flat(Infinity)) {
        if (c == null || c === false) continue;
        el.append(c instanceof Node ? c : String(c));
    }
    return el;
}

// Replaces el's children.
export function replace(el, ...children) {
    el.replaceChildren();
    return append(el, children);
}

// The icons the UI uses, drawn on a 24x24 grid (stroke icons, currentColor): decorative, so
// hidden from assistive technology; the control they sit in carries the name.
const ICONS = {
    heart: 'M12 20.5s-7.5-4.6-9.3-9.2C1.4 8 3.4 4.5 7 4.5c2.1 0 3.6 1.2 5 3 1.4-1.8 2.9-3 5-3 3.6 0 5.6 3.5 4.3 6.8-1.8 4.6-9.3 9.2-9.3 9.2z',
    plus: 'M12 5v14M5 12h14',
    check: 'M5 12.5l4.5 4.5L19 7.5',
    edit: 'M4 20h4L19 9l-4-4L4 16v4zM13.5 6.5l4 4',
    trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6',
    gear: 'M12 15.5a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zM19.4 13.5l1.6 1.2-2 3.4-1.9-.7a7.5 7.5 0 0 1-2 1.2L14.8 21h-4l-.3-2.4a7.5 7.5 0 0 1-2-1.2l-1.9.7-2-3.4 1.6-1.2a7.6 7.6 0 0 1 0-2.4L4.6 9.8l2-3.4 1.9.7a7.5 7.5 0 0 1 2-1.2L10.8 3h4l.3 2.4a7.5 7.5 0 0 1 2 1.2l1.9-.7 2 3.4-1.6 1.3a7.6 7.6 0 0 1 0 2.4z',
    x: 'M6 6l12 12M18 6L6 18',
    pen: 'M12 20h9M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z',
};

export function icon(name) {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('class', 'icon');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', ICONS[name]);
    svg.append(p);
    return svg;
}

// A date as the reader's locale writes it ("Dec 5, 2026"); the machine form in datetime.
export function date(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return h('span', { class: 'date' }, '');
    const text = d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
    return h('time', { class: 'date', datetime: d.toISOString() }, text);
}

// A user's picture: their image when it is one safeImage allows, else a circle with their initial
// (the API answers "" for a user who set none).
export function avatar(profile, size = 'sm') {
    const name = profile?.username || '?';
    const url = safeImage(profile?.image);
    if (url) {
        return h('img', { class: `avatar avatar-${size}`, src: url, alt: '', loading: 'lazy', referrerpolicy: 'no-referrer' });
    }
    const hue = [...name].reduce((a, c) => (a * 31 + c.codePointAt(0)) % 360, 7);
    const el = h('span', { class: `avatar avatar-${size} avatar-initial`, 'aria-hidden': 'true', 'data-hue': hue % 12 }, [...name][0].toUpperCase());
    return el;
}

// An image address the page may load: https, or this origin (the web service's policy allows
// no other, so anything else would only be refused by the browser); else null.
export function safeImage(url) {
    if (typeof url !== 'string' || url.trim() === '') return null;
    try {
        const u = new URL(url, location.href);
        return u.protocol === 'https:' || u.origin === location.origin ? u.href : null;
    } catch {
        return null;
    }
}

// "/profile/" + a username, escaped for a path segment.
export const profilePath = (username) => `/profile/${encodeURIComponent(username)}`;
export const articlePath = (slug) => `/article/${encodeURIComponent(slug)}`;
