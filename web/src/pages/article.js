// An article (/article/<slug>): its Markdown body rendered and sanitised, the author's follow
// button and the favorite button (or, for its author, edit and delete), its tags, its comments.
//
// Comments come from another service than the article: when that service is down (the gateway
// answers 503 with Retry-After), the article still shows, and the comments' place says they are
// unavailable and tries again by itself after Retry-After (and on the button), so the list comes
// back without a reload once the service does.
import { api, ApiError, session } from '../api.js';
import { track } from '../beacon.js';
import { byline, errorBox, favoriteButton, followButton, tagList } from '../components.js';
import { avatar, h, icon, replace, safeImage } from '../dom.js';
import { notify } from '../notice.js';
import { navigate } from '../router.js';

export function article(ctx) {
    const slug = ctx.params.slug;
    const path = `/articles/${encodeURIComponent(slug)}`;
    document.title = 'Article — conduit';
    const root = h('div', { class: 'article-page' }, h('div', { class: 'container' }, h('p', { class: 'muted loading' }, 'Loading the article…')));
    const markdown = import('../markdown.js');

    const load = () =>
        Promise.all([api('GET', path, undefined, ctx), markdown])
            .then(([{ article: a }, md]) => {
                if (ctx.signal.aborted) return;
                show(a, md);
            })
            .catch((err) => {
                if (ctx.signal.aborted || err?.name === 'AbortError') return;
                const box = err instanceof ApiError && err.status === 404
                    ? h('div', null, h('h1', null, 'Article not found'), h('p', null, 'It may have been deleted, or its title (and so its address) changed.'), h('p', null, h('a', { href: '/' }, 'Back to the articles')))
                    : h('div', null, h('h1', null, 'The article could not be loaded'), errorBox(err, load));
                replace(root, h('div', { class: 'container' }, box));
            });

    function show(a, md) {
        document.title = `${a.title} — conduit`;
        const mine = session.user?.username === a.author.username;
        const actions = h('div', { class: 'actions' });
        const drawActions = () => {
            if (mine) {
                const del = h('button', { type: 'button', class: 'btn btn-sm btn-outline btn-danger' }, icon('trash'), ' Delete article');
                del.addEventListener('click', () => confirmDelete(del));
                replace(actions, h('a', { class: 'btn btn-sm btn-outline', href: `/editor/${encodeURIComponent(a.slug)}` }, icon('edit'), ' Edit article'), del);
            } else {
                replace(actions, followButton(a.author), favoriteButton(a, { label: true }));
            }
        };
        const confirmDelete = (del) => {
            const yes = h('button', { type: 'button', class: 'btn btn-sm btn-danger-solid' }, 'Yes, delete it');
            const no = h('button', { type: 'button', class: 'btn btn-sm btn-outline' }, 'Cancel');
            const box = h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm deletion' }, h('span', null, 'Delete this article?'), yes, no);
            no.addEventListener('click', drawActions);
            yes.addEventListener('click', async () => {
                yes.disabled = no.disabled = true;
                try {
                    await api('DELETE', path);
                    notify('The article is deleted.', 'info');
                    navigate('/');
                } catch (err) {
                    notify(err.message);
                    drawActions();
                }
            });
            del.replaceWith(box);
            yes.focus();
        };
        drawActions();

        const content = h('div', { class: 'article-body' });
        content.append(md.render(a.body, safeImage));
        const end = h('div', { class: 'article-end' }, tagList(a.tagList, { plain: false }));

        replace(
            root,
            h('header', { class: 'article-banner' }, h('div', { class: 'container' }, h('h1', null, a.title), h('div', { class: 'article-meta' }, byline(a.author, a.createdAt), actions))),
            h('div', { class: 'container article-container' }, content, end, comments(ctx, a)),
        );
        watchRead(ctx, end, a.slug);
    }

    load();
    return root;
}

// "article_read" once the end of the body has been on screen, and the page open 3 s.
function watchRead(ctx, end, slug) {
    if (!('IntersectionObserver' in window)) return;
    const opened = Date.now();
    let sent = false;
    const obs = new IntersectionObserver((entries) => {
        if (sent || ctx.signal.aborted || !entries.some((e) => e.isIntersecting)) return;
        sent = true;
        obs.disconnect();
        setTimeout(() => ctx.signal.aborted || track('article_read', slug), Math.max(0, 3000 - (Date.now() - opened)));
    });
    obs.observe(end);
    ctx.signal.addEventListener('abort', () => obs.disconnect());
}

function comments(ctx, a) {
    const base = `/articles/${encodeURIComponent(a.slug)}/comments`;
    const list = h('div', { class: 'comment-list' });
    const formBox = h('div', { class: 'comment-form-box' });
    const section = h('section', { class: 'comments', 'aria-labelledby': 'comments-title' }, h('h2', { id: 'comments-title' }, 'Comments'), formBox, list);
    let retryTimer = 0;
    let retryIn = 2;
    ctx.signal.addEventListener('abort', () => clearTimeout(retryTimer));

    const card = (c) => {
        const mine = session.user?.username === c.author.username;
        const del = mine && h('button', { type: 'button', class: 'btn-icon', 'aria-label': 'Delete comment', title: 'Delete comment' }, icon('trash'));
        const el = h('article', { class: 'comment' }, h('p', { class: 'comment-body' }, c.body), h('footer', null, byline(c.author, c.createdAt), del));
        if (del) {
            del.addEventListener('click', async () => {
                del.disabled = true;
                try {
                    await api('DELETE', `${base}/${c.id}`);
                    el.remove();
                    if (!list.querySelector('.comment')) replace(list, h('p', { class: 'muted empty' }, 'No comments yet.'));
                } catch (err) {
                    del.disabled = false;
                    if (err.status === 503) unavailable(err);
                    else notify(err.message);
                }
            });
        }
        return el;
    };

    const drawForm = () => {
        if (!session.user) {
            replace(formBox, h('p', { class: 'muted' }, h('a', { href: '/login' }, 'Sign in'), ' or ', h('a', { href: '/register' }, 'sign up'), ' to add comments on this article.'));
            return;
        }
        const text = h('textarea', { id: 'comment-text', class: 'input', rows: 3, required: true, placeholder: 'Write a comment…' });
        const err = h('p', { class: 'field-error', id: 'comment-err', role: 'alert', hidden: true });
        const button = h('button', { type: 'submit', class: 'btn btn-primary btn-sm' }, 'Post comment');
        const form = h(
            'form',
            { class: 'comment-form', novalidate: true },
            h('label', { for: 'comment-text', class: 'sr-only' }, 'Write a comment'),
            text,
            err,
            h('div', { class: 'comment-form-footer' }, avatar(session.user), button),
        );
        form.addEventListener('submit', async (e) => {
            e.preventDefault();
            err.hidden = true;
            text.removeAttribute('aria-invalid');
            button.disabled = true;
            try {
                const { comment } = await api('POST', base, { comment: { body: text.value } });
                text.value = '';
                list.querySelector('.empty')?.remove();
                list.prepend(card(comment));
            } catch (e2) {
                if (e2.status === 503) {
                    unavailable(e2);
                    return;
                }
                replace(err, e2.errors?.body ? `Comment ${e2.errors.body.join(', ')}` : e2.message);
                err.hidden = false;
                text.setAttribute('aria-invalid', 'true');
            } finally {
                button.disabled = false;
            }
        });
        replace(formBox, form);
    };

    // The comments service is down: one notice in place of the list and the form, and a new try
    // after Retry-After (at least 2 s, doubling to 30 s while it stays down).
    const unavailable = (err) => {
        clearTimeout(retryTimer);
        const wait = Math.min(30, Math.max(err.retryAfter || 0, retryIn));
        retryIn = Math.min(30, retryIn * 2);
        formBox.replaceChildren();
        replace(
            list,
            h(
                'div',
                { class: 'notice-box', role: 'status' },
                h('p', null, h('strong', null, 'Comments are unavailable right now.'), ' The article is all here; the comments will come back on their own.'),
                h('button', { type: 'button', class: 'btn btn-sm btn-outline', onclick: load }, 'Try again now'),
            ),
        );
        retryTimer = setTimeout(load, wait * 1000);
    };

    const load = () => {
        clearTimeout(retryTimer);
        if (!list.querySelector('.notice-box')) replace(list, h('p', { class: 'muted loading' }, 'Loading comments…'));
        api('GET', base, undefined, ctx)
            .then(({ comments: cs }) => {
                if (ctx.signal.aborted) return;
                retryIn = 2;
                drawForm();
                replace(list, cs.length ? cs.map(card) : h('p', { class: 'muted empty' }, 'No comments yet.'));
            })
            .catch((err) => {
                if (ctx.signal.aborted || err?.name === 'AbortError') return;
                if (err.status === 503) unavailable(err);
                else replace(list, errorBox(err, load));
            });
    };
    load();
    return section;
}

