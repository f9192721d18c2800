// router.js: client-side routing with the History API.
//
// The pages have the RealWorld paths (/article/<slug>, /profile/<name>/favorites, ...): real
// URLs, shareable and reloadable because the web service answers index.html for each of them
// (its fallback routes; see docs/web.md). Clicks on same-origin links are taken here and become
// history.pushState + a render, so a page change fetches only the data it shows.

const routes = [];
let renderFn = () => {};

// Adds a route: pattern is a path with ":name" segments; page(ctx) returns the page's element.
// opts.auth: signed-in users only (else /login); opts.guest: signed-out users only (else /).
export function route(pattern, page, opts = {}) {
    const names = [];
    const re = new RegExp(
        `^${pattern.replace(/\/:([a-z]+)|\/\*/g, (m, name) => {
            if (!name) return '(?:/.*)?';
            names.push(name);
            return '/([^/]+)';
        })}/?$`,
    );
    routes.push({ re, names, page, opts });
}

// The route for pathname: {page, params, opts}, or null (params are percent-decoded; a
// segment that does not decode matches nothing).
export function match(pathname) {
    for (const r of routes) {
        const m = r.re.exec(pathname);
        if (!m) continue;
        try {
            const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
            return { page: r.page, params, opts: r.opts };
        } catch {
            return null;
        }
    }
    return null;
}

export function onRender(fn) {
    renderFn = fn;
}

// Goes to url (a path on this origin, with its query), adding a history entry unless replace.
export function navigate(url, { replace = false } = {}) {
    if (replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    renderFn({ push: !replace });
}

export function start() {
    window.addEventListener('popstate', () => renderFn({ push: false, pop: true }));
    document.addEventListener('click', (e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        const a = e.target instanceof Element ? e.target.closest('a[href]') : null;
        if (!a || a.target || a.hasAttribute('download')) return;
        const url = new URL(a.href, location.href);
        if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
        e.preventDefault();
        navigate(url.pathname + url.search + url.hash);
    });
    renderFn({ push: false, first: true });
}
