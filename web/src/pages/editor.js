// The editor: a new article (/editor) or one of yours (/editor/<slug>). Tags are typed into one
// field and become pills (Enter or comma adds, the pill's button or Backspace removes).
import { api, ApiError, session } from '../api.js';
import { errorBox, makeForm } from '../components.js';
import { articlePath, h, icon, replace } from '../dom.js';
import { navigate } from '../router.js';

function tagInput(initial) {
    const tags = [...initial];
    const pills = h('ul', { class: 'tag-list editable', 'aria-label': 'Tags of the article' });
    const draw = () =>
        replace(
            pills,
            tags.map((t, i) =>
                h(
                    'li',
                    null,
                    h('span', { class: 'tag' }, t,
                        h('button', { type: 'button', class: 'tag-remove', 'aria-label': `Remove tag ${t}`, onclick: () => { tags.splice(i, 1); draw(); } }, icon('x'))),
                ),
            ),
        );
    const add = (input) => {
        if (input.value.trim() === '') {
            input.value = '';
            return;
        }
        for (const part of input.value.split(',')) {
            const t = part.trim();
            if (t && !tags.includes(t)) tags.push(t);
        }
        input.value = '';
        draw();
    };
    draw();
    return { tags, pills, add, draw };
}

export function editor(ctx) {
    const slug = ctx.params.slug;
    document.title = slug ? 'Edit article — conduit' : 'New article — conduit';
    const root = h('div', { class: 'container editor-page' }, h('h1', null, slug ? 'Edit article' : 'New article'));
    const body = h('div', null, slug ? h('p', { class: 'muted loading' }, 'Loading the article…') : null);
    root.append(body);

    const build = (article) => {
        const tags = tagInput(article?.tagList || []);
        const { form, fields } = makeForm({
            fields: [
                { name: 'title', label: 'Title', value: article?.title, required: true },
                { name: 'description', label: "What's this article about?", value: article?.description, required: true },
                { name: 'body', label: 'Article (Markdown)', rows: 14, value: article?.body, required: true },
                { name: 'tagList', label: 'Tags', hint: 'Press Enter or type a comma after each tag.', after: tags.pills },
            ],
            submitLabel: slug ? 'Update article' : 'Publish article',
            onSubmit: async (v) => {
                tags.add(fields.tagList);
                const a = { title: v.title, description: v.description, body: v.body, tagList: tags.tags };
                let res;
                if (slug) {
                    const change = {};
                    for (const k of ['title', 'description', 'body']) if (a[k] !== article[k]) change[k] = a[k];
                    if (JSON.stringify(a.tagList) !== JSON.stringify(article.tagList)) change.tagList = a.tagList;
                    res = Object.keys(change).length ? await api('PUT', `/articles/${encodeURIComponent(slug)}`, { article: change }) : { article };
                } else {
                    res = await api('POST', '/articles', { article: a });
                }
                navigate(articlePath(res.article.slug));
            },
        });
        fields.tagList.addEventListener('keydown', (e) => {
            if (e.key === 'Enter' || e.key === ',') {
                e.preventDefault();
                tags.add(fields.tagList);
            } else if (e.key === 'Backspace' && fields.tagList.value === '' && tags.tags.length) {
                tags.tags.pop();
                tags.draw();
            }
        });
        fields.tagList.addEventListener('blur', () => tags.add(fields.tagList));
        replace(body, form);
    };

    if (!slug) {
        build(null);
        return root;
    }
    const load = () => {
        replace(body, h('p', { class: 'muted loading' }, 'Loading the article…'));
        api('GET', `/articles/${encodeURIComponent(slug)}`, undefined, ctx)
            .then(({ article }) => {
                if (ctx.signal.aborted) return;
                if (article.author.username !== session.user?.username) {
                    replace(body, errorBox(new ApiError(403, null, null)));
                    return;
                }
                build(article);
            })
            .catch((err) => {
                if (!ctx.signal.aborted && err?.name !== 'AbortError') replace(body, errorBox(err, err.status === 404 ? null : load));
            });
    };
    load();
    return root;
}
