// A profile (/profile/<name>, /profile/<name>/favorites): who they are, the follow button (or,
// on your own, a link to your settings), their articles or the articles they favorited.
import { api, ApiError, query, session } from '../api.js';
import { articleList, errorBox, followButton, pageNumber, tabs } from '../components.js';
import { avatar, h, icon, profilePath, replace } from '../dom.js';

export function profile(ctx, { favorites = false } = {}) {
    const name = ctx.params.username;
    const page = pageNumber(ctx.query);
    const base = profilePath(name);
    document.title = `${name} — conduit`;
    const head = h('div', { class: 'container' }, h('h1', null, name), h('p', { class: 'muted loading' }, 'Loading the profile…'));
    const root = h('div', { class: 'profile-page' }, h('header', { class: 'profile-banner' }, head));

    const load = () =>
        api('GET', `/profiles/${encodeURIComponent(name)}`, undefined, ctx)
            .then(({ profile: p }) => {
                if (ctx.signal.aborted) return;
                const mine = session.user?.username === p.username;
                replace(
                    head,
                    avatar(p, 'lg'),
                    h('h1', null, p.username),
                    p.bio && h('p', { class: 'bio' }, p.bio),
                    mine ? h('a', { class: 'btn btn-sm btn-outline', href: '/settings' }, icon('gear'), ' Edit profile settings') : followButton(p),
                );
            })
            .catch((err) => {
                if (ctx.signal.aborted || err?.name === 'AbortError') return;
                const notFound = err instanceof ApiError && err.status === 404;
                replace(head, h('h1', null, name), notFound ? h('p', null, 'There is no such user.') : errorBox(err, load));
                if (notFound) list.replaceChildren();
            });
    load();

    const list = articleList(ctx, {
        page,
        hrefFor: (p) => `${base}${favorites ? '/favorites' : ''}${query({ page: p > 1 ? p : null })}`,
        load: (offset, limit) => api('GET', `/articles${query({ [favorites ? 'favorited' : 'author']: name, limit, offset })}`, undefined, ctx),
        empty: favorites ? `${name} has no favorite articles yet.` : `${name} has not written any articles yet.`,
    });
    root.append(
        h(
            'div',
            { class: 'container profile-articles' },
            tabs('Articles of the profile', [
                { label: 'Articles', href: base, active: !favorites },
                { label: 'Favorited articles', href: `${base}/favorites`, active: favorites },
            ]),
            list,
        ),
    );
    return root;
}
