// components.js: the pieces several pages share: forms with errors by field, article previews,
// their list with paging, tags, the favorite and follow buttons, error boxes.
import { api, ApiError, query, session } from './api.js';
import { track } from './beacon.js';
import { append, articlePath, avatar, date, h, icon, profilePath, replace } from './dom.js';
import { notify } from './notice.js';
import { navigate } from './router.js';

export const PAGE_SIZE = 10;

// An error shown in place of what could not be loaded, with a retry button when retry is given.
export function errorBox(err, retry) {
    const msg = err instanceof Error ? err.message : String(err);
    return h(
        'div',
        { class: 'error-box', role: 'alert' },
        h('p', null, msg),
        retry && h('button', { type: 'button', class: 'btn btn-outline', onclick: retry }, 'Try again'),
    );
}

let formSerial = 0;

// A form whose fields show the API's 422 errors beside them.
//   fields: [{name, label, type, autocomplete, rows (textarea), value, hint, required}]
//   onSubmit(values) -> promise; an ApiError with errors is shown by field (a key no field has,
//   such as "email or password", goes to the list above the form), any other error as a message.
// Returns {form, fields: {name: input}, showErrors(errors)}.
export function makeForm({ fields, submitLabel, onSubmit, extra, className }) {
    const id = ++formSerial;
    const general = h('ul', { class: 'error-messages', role: 'alert', hidden: true });
    const inputs = {};
    const errs = {};
    const labels = {};
    const rows = fields.map((f) => {
        const fid = `f${id}-${f.name}`;
        const props = {
            id: fid,
            name: f.name,
            class: 'input',
            autocomplete: f.autocomplete || 'off',
            'aria-describedby': f.hint ? `${fid}-hint` : null,
            required: f.required,
        };
        const input = f.rows
            ? h('textarea', { ...props, rows: f.rows }, f.value || '')
            : h('input', { ...props, type: f.type || 'text', value: f.value ?? '' });
        inputs[f.name] = input;
        labels[f.name] = f.label;
        errs[f.name] = h('p', { class: 'field-error', id: `${fid}-err`, hidden: true });
        return h(
            'div',
            { class: 'field' },
            h('label', { for: fid }, f.label),
            f.hint && h('p', { class: 'hint', id: `${fid}-hint` }, f.hint),
            input,
            f.after,
            errs[f.name],
        );
    });
    const button = h('button', { type: 'submit', class: 'btn btn-primary btn-lg' }, submitLabel);
    const fieldset = h('fieldset', null, rows, extra, h('div', { class: 'form-actions' }, button));
    const form = h('form', { class: `form ${className || ''}`, novalidate: true }, general, fieldset);

    function clearErrors() {
        general.hidden = true;
        general.replaceChildren();
        for (const [name, p] of Object.entries(errs)) {
            p.hidden = true;
            p.replaceChildren();
            inputs[name].removeAttribute('aria-invalid');
            const hint = inputs[name].getAttribute('aria-describedby')?.split(' ').filter((x) => !x.endsWith('-err'));
            if (hint?.length) inputs[name].setAttribute('aria-describedby', hint.join(' '));
            else inputs[name].removeAttribute('aria-describedby');
        }
    }

    function showErrors(errors) {
        let first = null;
        for (const [key, list] of Object.entries(errors)) {
            const msgs = Array.isArray(list) ? list : [String(list)];
            const input = inputs[key];
            if (input) {
                replace(errs[key], `${labels[key]} ${msgs.join(', ')}`);
                errs[key].hidden = false;
                input.setAttribute('aria-invalid', 'true');
                const ids = (input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
                input.setAttribute('aria-describedby', [...ids, errs[key].id].join(' '));
                first ||= input;
            } else {
                for (const m of msgs) append(general, [h('li', null, `${key} ${m}`)]);
                general.hidden = false;
            }
        }
        (first || general).focus?.();
    }

    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearErrors();
        const values = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value]));
        fieldset.disabled = true;
        try {
            await onSubmit(values);
        } catch (err) {
            if (err instanceof ApiError && err.errors && err.status !== 503) {
                showErrors(err.errors);
            } else {
                replace(general, h('li', null, err instanceof Error ? err.message : String(err)));
                general.hidden = false;
            }
        } finally {
            fieldset.disabled = false;
        }
    });
    general.tabIndex = -1;
    return { form, fields: inputs, showErrors };
}

// Tags as pills; linked to the home page's tag tab unless plain.
export function tagList(tags, { plain = false } = {}) {
    if (!tags?.length) return null;
    return h(
        'ul',
        { class: 'tag-list', 'aria-label': 'Tags' },
        tags.map((t) =>
            h('li', null, plain ? h('span', { class: 'tag' }, t) : h('a', { class: 'tag', href: `/${query({ tag: t })}` }, t)),
        ),
    );
}

// A button that changes something on the server: a signed-out user is sent to /login; the click
// is tracked; send() makes the request and draws its answer; a failure is a message.
function onToggle(btn, slug, send) {
    btn.addEventListener('click', async () => {
        if (!session.user) {
            navigate('/login');
            return;
        }
        track('click', slug);
        btn.disabled = true;
        try {
            await send();
        } catch (err) {
            notify(err.message);
        } finally {
            btn.disabled = false;
        }
    });
}

// The favorite toggle of an article; updates itself (and onChange(article)) from the answer.
export function favoriteButton(article, { onChange, label = false } = {}) {
    const count = h('span', { class: 'count' });
    const text = h('span', { class: label ? 'fav-label' : 'sr-only' });
    const btn = h('button', { type: 'button', class: 'btn btn-sm btn-fav' }, icon('heart'), text, count);
    const draw = (a) => {
        btn.setAttribute('aria-pressed', String(Boolean(a.favorited)));
        btn.classList.toggle('active', Boolean(a.favorited));
        btn.title = a.favorited ? 'Remove from your favorites' : 'Add to your favorites';
        replace(text, label ? (a.favorited ? 'Unfavorite' : 'Favorite') : 'Favorite');
        replace(count, String(a.favoritesCount));
    };
    draw(article);
    onToggle(btn, article.slug, async () => {
        const method = article.favorited ? 'DELETE' : 'POST';
        const res = await api(method, `/articles/${encodeURIComponent(article.slug)}/favorite`);
        Object.assign(article, { favorited: res.article.favorited, favoritesCount: res.article.favoritesCount });
        draw(article);
        onChange?.(article);
    });
    return btn;
}

// Follow / Unfollow <username>.
export function followButton(profile, { onChange } = {}) {
    const btn = h('button', { type: 'button', class: 'btn btn-sm btn-outline btn-follow' });
    const draw = () => {
        replace(btn, icon(profile.following ? 'check' : 'plus'), ` ${profile.following ? 'Unfollow' : 'Follow'} ${profile.username}`);
        btn.classList.toggle('active', Boolean(profile.following));
    };
    draw();
    onToggle(btn, null, async () => {
        const method = profile.following ? 'DELETE' : 'POST';
        const res = await api(method, `/profiles/${encodeURIComponent(profile.username)}/follow`);
        profile.following = res.profile.following;
        draw();
        onChange?.(profile);
    });
    return btn;
}

// Author, date (and more, e.g. buttons) of an article or comment.
export function byline(author, createdAt, ...more) {
    return h(
        'div',
        { class: 'byline' },
        h('a', { class: 'author', href: profilePath(author.username) }, avatar(author), h('span', null, author.username)),
        date(createdAt),
        more,
    );
}

export function preview(article) {
    return h(
        'article',
        { class: 'preview' },
        h('div', { class: 'preview-meta' }, byline(article.author, article.createdAt), favoriteButton(article)),
        h(
            'a',
            { class: 'preview-link', href: articlePath(article.slug) },
            h('h2', null, article.title),
            h('p', null, article.description),
            h('span', { class: 'read-more' }, 'Read more…'),
        ),
        tagList(article.tagList),
    );
}

// Page links 1..n around the current one ("1 … 4 5 6 … 12").
export function pagination(count, page, hrefFor) {
    const pages = Math.ceil(count / PAGE_SIZE);
    if (pages <= 1) return null;
    const shown = new Set([1, pages, page - 1, page, page + 1].filter((p) => p >= 1 && p <= pages));
    if (page <= 3) [2, 3, 4].forEach((p) => p <= pages && shown.add(p));
    if (page >= pages - 2) [pages - 3, pages - 2, pages - 1].forEach((p) => p >= 1 && shown.add(p));
    const items = [];
    let last = 0;
    for (const p of [...shown].sort((a, b) => a - b)) {
        if (p > last + 1) items.push(h('li', { class: 'gap', 'aria-hidden': 'true' }, '…'));
        items.push(
            h('li', null, h('a', { href: hrefFor(p), 'aria-current': p === page ? 'page' : null, 'aria-label': `Page ${p}` }, String(p))),
        );
        last = p;
    }
    return h('nav', { class: 'pagination', 'aria-label': 'Pages' }, h('ul', null, items));
}

// A list of previews loaded by load(offset, limit) -> {articles, articlesCount}, with paging.
export function articleList(ctx, { load, page, hrefFor, empty = 'No articles are here… yet.' }) {
    const root = h('div', { class: 'article-list', 'aria-busy': 'true' }, h('p', { class: 'muted loading' }, 'Loading articles…'));
    const run = () => {
        root.setAttribute('aria-busy', 'true');
        replace(root, h('p', { class: 'muted loading' }, 'Loading articles…'));
        load((page - 1) * PAGE_SIZE, PAGE_SIZE)
            .then(({ articles, articlesCount }) => {
                if (ctx.signal.aborted) return;
                root.setAttribute('aria-busy', 'false');
                if (!articles.length) {
                    replace(root, h('p', { class: 'muted empty' }, empty));
                    return;
                }
                replace(root, articles.map(preview), pagination(articlesCount, page, hrefFor));
            })
            .catch((err) => {
                if (ctx.signal.aborted || err?.name === 'AbortError') return;
                root.setAttribute('aria-busy', 'false');
                replace(root, errorBox(err, run));
            });
    };
    run();
    return root;
}

// Tabs that are links (each a URL of its own, so back and reload keep the choice).
export function tabs(label, items) {
    return h(
        'nav',
        { class: 'tabs', 'aria-label': label },
        h(
            'ul',
            null,
            items.map((t) =>
                h('li', null, h('a', { href: t.href, class: t.active ? 'active' : null, 'aria-current': t.active ? 'page' : null }, t.label)),
            ),
        ),
    );
}

export function pageNumber(q) {
    const n = Number.parseInt(q.get('page') || '1', 10);
    return Number.isFinite(n) && n >= 1 ? n : 1;
}
