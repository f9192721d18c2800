// The blog exactly as `make run` starts it, demo data on (the web service fills an empty system
// with the demo blog through the gateway: docs/web.md): the pages answer at /, the demo lands
// once, and every service's view of it agrees: articles' authors, comments' articles and
// activity's totals against the owners' databases (read-only: the sqlite3 shell, or psql on
// PostgreSQL).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { api, waitFor } from './lib.mjs';
import { checkResponses } from './schemas.mjs';
import { Blog } from './tandem.mjs';

checkResponses();

let blog, base;

before(async () => {
    blog = new Blog('demo', { demo: true });
    await blog.up();
    base = blog.url;
});

after(async () => {
    await blog.down();
});

const one = async (svc, sql) => Number((await blog.query(svc, sql))[0][0]);

test('make run opens on a living blog: the demo is loaded once, and every read model agrees with its owner', async () => {
    const home = await api(base, 'GET', '/', { unchecked: true });
    assert.equal(home.status, 200);
    assert.match(home.text, /<html/i);
    const done = path.join(blog.dir, 'var', 'services', 'web', 'demo-data.done');
    await waitFor(() => fs.existsSync(done), 'the demo data loaded', { timeout: 60000, interval: 200 });
    assert.match(fs.readFileSync(done, 'utf8'), /loaded/);
    const list = await api(base, 'GET', '/api/articles?limit=100');
    assert.ok(list.json.articlesCount > 0);
    assert.equal(list.json.articles.length, list.json.articlesCount);
    const users = await one('users', 'SELECT COUNT(*) FROM users');
    const articles = await one('articles', 'SELECT COUNT(*) FROM articles');
    const comments = await one('comments', 'SELECT COUNT(*) FROM comments');
    const favorites = await one('articles', 'SELECT COUNT(*) FROM favorites');
    const follows = await one('users', 'SELECT COUNT(*) FROM follows WHERE following = 1');
    assert.equal(articles, list.json.articlesCount);
    assert.ok(users > 0 && comments > 0 && favorites > 0 && follows > 0, `${users} ${comments} ${favorites} ${follows}`);
    // the read models catch up: names in articles and comments, activity's totals
    const totals = await waitFor(async () => {
        const t = (await api(base, 'GET', '/api/activity/totals')).json;
        return t.users === users && t.articles === articles && t.comments === comments &&
            t.favorites === favorites && t.follows === follows && t;
    }, 'activity\'s totals to equal the owners\'', { timeout: 30000, interval: 200 });
    assert.ok(totals.events['article.published'] >= articles);
    for (const svc of ['articles', 'comments']) {
        await waitFor(async () => (await blog.query(svc, 'SELECT user_id, username, version FROM blog_authors ORDER BY user_id')).join(';') ===
            (await blog.query('users', 'SELECT id, username, version FROM users ORDER BY id')).join(';'), `${svc}' authors`);
    }
    for (const a of list.json.articles) {
        const c = await api(base, 'GET', `/api/articles/${a.slug}/comments`);
        assert.equal(c.status, 200, a.slug);
    }
    // restarted, web does not load it again
    await blog.cli('restart', 'web');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await one('articles', 'SELECT COUNT(*) FROM articles'), articles);
    assert.equal(await one('users', 'SELECT COUNT(*) FROM users'), users);
});
