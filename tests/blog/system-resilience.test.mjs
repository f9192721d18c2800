// The claim of docs/blog.md, scripted: a service that is down costs only its own routes, and
// catches up when it is back. With the blog running (the repository's tandem.yaml), comments is
// stopped (`tandem stop comments`); meanwhile an article is deleted, its author renamed, and a
// reader follows a commenter. Articles keeps answering; the comment routes answer 503
// problem+json with Retry-After from the gateway, GET and POST alike. After `tandem start
// comments` its answers reflect all three within seconds, from the events it consumes: the
// deleted article's comments are 404, the renamed author's comments carry the new name, and
// the follow shows as author.following.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { api, register, waitFor } from './lib.mjs';
import { checkResponses } from './schemas.mjs';
import { Blog } from './tandem.mjs';

checkResponses();

let blog, base;

before(async () => {
    blog = new Blog('resilience');
    await blog.up();
    base = blog.url;
});

after(async () => {
    await blog.down();
});

async function publish(token, title) {
    const r = await api(base, 'POST', '/api/articles', { token, body: { article: { title, description: 'd', body: 'b' } } });
    assert.equal(r.status, 201, r.text);
    return r.json.article;
}

async function comment(token, slug, body) {
    const r = await api(base, 'POST', `/api/articles/${slug}/comments`, { token, body: { comment: { body } } });
    assert.equal(r.status, 200, r.text);
    return r.json.comment;
}

test('comments stopped: the rest answers, comment routes 503 + Retry-After; started again: caught up within seconds', async () => {
    const author = await register(base, 'ra');
    const commenter = await register(base, 'rc');
    const reader = await register(base, 'rr');
    const doomed = await publish(author.token, `Doomed ${process.pid}`);
    const kept = await publish(author.token, `Kept ${process.pid}`);
    await comment(author.token, doomed.slug, 'on the doomed one');
    await comment(commenter.token, doomed.slug, 'me too');
    const byAuthor = await comment(author.token, kept.slug, 'by the author');
    const byCommenter = await comment(commenter.token, kept.slug, 'by the commenter');
    const before = (await api(base, 'GET', `/api/articles/${kept.slug}/comments`, { token: reader.token })).json.comments;
    assert.deepEqual(before.map((c) => [c.id, c.author.username, c.author.following]),
        [[byCommenter.id, commenter.username, false], [byAuthor.id, author.username, false]]);

    await blog.cli('stop', 'comments');
    const ps = await blog.ps();
    assert.deepEqual(ps.filter((r) => r.service === 'comments').map((r) => [r.state, r.in_upstream]), [['stopped', false]]);

    // the comment routes: 503 from the gateway, Retry-After, a problem document; GET and POST
    for (const [method, p, body] of [['GET', `/api/articles/${kept.slug}/comments`], ['POST', `/api/articles/${kept.slug}/comments`, { comment: { body: 'x' } }],
        ['DELETE', `/api/articles/${kept.slug}/comments/${byAuthor.id}`]]) {
        const r = await api(base, method, p, { token: author.token, body });
        assert.equal(r.status, 503, `${method} ${p}`);
        assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
        assert.equal(r.headers.get('retry-after'), '2');
        assert.equal(r.json.status, 503);
    }
    // answered by nginx itself: no instance in the upstream (upstream "svc_comments", no address)
    const refused = await blog.logged((l) => l.status === 503, 3, 'the three 503s in the access log');
    assert.equal(refused.length, 3);
    for (const l of refused) assert.equal(l.upstream, 'svc_comments', JSON.stringify(l));

    // meanwhile: delete the doomed article, rename its author, follow the commenter
    const changedAt = Date.now();
    assert.equal((await api(base, 'DELETE', `/api/articles/${doomed.slug}`, { token: author.token })).status, 204);
    const renamed = `${author.username}n`;
    const put = await api(base, 'PUT', '/api/user', { token: author.token, body: { user: { username: renamed } } });
    assert.equal(put.status, 200);
    assert.equal(put.json.user.username, renamed);
    assert.equal((await api(base, 'POST', `/api/profiles/${commenter.username}/follow`, { token: reader.token })).status, 200);
    // everything but comments keeps answering, and with the changes
    assert.equal((await api(base, 'GET', `/api/articles/${doomed.slug}`)).status, 404);
    await waitFor(async () => (await api(base, 'GET', `/api/articles/${kept.slug}`)).json.article.author.username === renamed,
        'articles to show the new name');
    assert.equal((await api(base, 'GET', `/api/profiles/${commenter.username}`, { token: reader.token })).json.profile.following, true);
    assert.equal((await api(base, 'GET', '/api/tags')).status, 200);
    assert.ok((await api(base, 'GET', '/api/articles')).json.articlesCount >= 1);
    const stoppedFor = Date.now() - changedAt;

    const t0 = Date.now();
    await blog.cli('start', 'comments');
    const started = Date.now() - t0;
    // within seconds: the three changes, from comments' own read models
    const caughtUp = await waitFor(async () => {
        const gone = await api(base, 'GET', `/api/articles/${doomed.slug}/comments`);
        const list = await api(base, 'GET', `/api/articles/${kept.slug}/comments`, { token: reader.token });
        if (gone.status !== 404 || list.status !== 200) return false;
        const [c1, c2] = list.json.comments;
        return c1.author.following === true && c1.author.username === commenter.username &&
            c2.author.username === renamed && c2.author.following === false && Date.now() - t0;
    }, 'comments to reflect the deletion, the rename and the follow', { timeout: 15000, interval: 100 });
    console.log(`comments stopped ${stoppedFor} ms; tandem start comments took ${started} ms; caught up ${caughtUp} ms after the start began`);
    assert.ok(caughtUp < 10000, `caught up in ${caughtUp} ms`);
    // and it serves writes again; the deleted article's comments are gone for good
    await comment(reader.token, kept.slug, 'back');
    assert.equal((await api(base, 'POST', `/api/articles/${doomed.slug}/comments`, { token: reader.token, body: { comment: { body: 'x' } } })).status, 404);
});
