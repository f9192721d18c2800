// The home page: Your Feed (signed in), Global Feed, a tag's articles; the popular tags.
//   /              the global feed        /?feed=yours   the feed of the followed authors
//   /?tag=<tag>    the articles of a tag  &page=N        the page (10 articles each)
import { api, query, session } from '../api.js';
import { articleList, errorBox, pageNumber, tabs } from '../components.js';
import { h, replace } from '../dom.js';

export function home(ctx) {
    const q = ctx.query;
    const tag = q.get('tag');
    const yours = !tag && q.get('feed') === 'yours' && session.user;
    const page = pageNumber(q);
    document.title = tag ? `#${tag} — conduit` : 'conduit';

    const items = [];
    if (session.user) items.push({ label: 'Your Feed', href: '/?feed=yours', active: yours });
    items.push({ label: 'Global Feed', href: '/', active: !yours && !tag });
    if (tag) items.push({ label: `#${tag}`, href: `/${query({ tag })}`, active: true });

    const list = articleList(ctx, {
        page,
        hrefFor: (p) => `/${query({ feed: yours ? 'yours' : null, tag, page: p > 1 ? p : null })}`,
        load: (offset, limit) =>
            yours
                ? api('GET', `/articles/feed${query({ limit, offset })}`, undefined, ctx)
                : api('GET', `/articles${query({ tag, limit, offset })}`, undefined, ctx),
        empty: yours ? 'Nothing in your feed yet: follow some authors to see their articles here.' : undefined,
    });

    const tagsBox = h('div', { class: 'tag-cloud' }, h('p', { class: 'muted loading' }, 'Loading tags…'));
    const loadTags = () =>
        api('GET', '/tags', undefined, ctx)
            .then(({ tags }) => {
                if (!tags.length) return replace(tagsBox, h('p', { class: 'muted' }, 'No tags yet.'));
                replace(
                    tagsBox,
                    h(
                        'ul',
                        { class: 'tag-list' },
                        tags.map((t) => h('li', null, h('a', { class: 'tag', href: `/${query({ tag: t })}` }, t))),
                    ),
                );
            })
            .catch((err) => {
                if (!ctx.signal.aborted && err?.name !== 'AbortError') replace(tagsBox, errorBox(err, loadTags));
            });
    loadTags();

    return h(
        'div',
        { class: 'home-page' },
        session.user
            ? h('h1', { class: 'sr-only' }, 'Home')
            : h('div', { class: 'banner' }, h('div', { class: 'container' }, h('h1', { class: 'logo' }, 'conduit'), h('p', null, 'A place to share your knowledge.'))),
        h(
            'div',
            { class: 'container with-sidebar' },
            h('section', { class: 'feed', 'aria-labelledby': 'feed-title' },
                h('h2', { id: 'feed-title', class: 'sr-only' }, session.user ? 'Articles' : 'Latest articles'),
                tabs('Feeds', items), list),
            h('aside', { class: 'sidebar', 'aria-labelledby': 'tags-title' }, h('h2', { id: 'tags-title' }, 'Popular tags'), tagsBox),
        ),
    );
}
