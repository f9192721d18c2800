// tests/blog/convergence.mjs: whether a blog run by `tandem up` (tandem.mjs's Blog) has
// converged: its read models against its owners' data, and its topics against its owners'
// outboxes. The checks system-chaos.test.mjs makes after its kills, for the tests that disturb a
// system differently (system-cluster.test.mjs: leader moves and a broker restart in a cluster).
//
//   const last = await differences(blog);        // {diffs: [...], totals, want, types}
//   await topicEventsMatch(blog, last, topics);   // throws unless every outbox event is there
import assert from 'node:assert/strict';

import { api } from './lib.mjs';
import { readAll } from './tandem.mjs';

// The owners' data against the read models: an empty diffs when converged. Each entry of diffs
// says what differs; types counts the owners' outbox events by CloudEvents type.
export async function differences(blog) {
    const rowsOf = async (svc, sql) => (await blog.query(svc, sql)).map((r) => r.join('\u0001'));
    const diffs = [];
    const same = (what, a, b) => {
        const x = [...a].sort(), y = [...b].sort();
        if (JSON.stringify(x) !== JSON.stringify(y)) {
            const onlyA = x.filter((v) => !y.includes(v)), onlyB = y.filter((v) => !x.includes(v));
            diffs.push(`${what}: ${onlyA.length} only in the owner (${onlyA.slice(0, 3).join(' | ')}), ${onlyB.length} only in the read model (${onlyB.slice(0, 3).join(' | ')})`);
        }
    };
    // users: names, bios, images and versions; follows with their versions
    const users = await rowsOf('users', 'SELECT id, username, bio, image, version FROM users');
    const follows = await rowsOf('users', 'SELECT follower_id, followee_id, following, version FROM follows');
    for (const svc of ['articles', 'comments', 'activity']) {
        same(`${svc}' authors`, users, await rowsOf(svc, 'SELECT user_id, username, bio, image, version FROM blog_authors'));
        same(`${svc}' follows`, follows, await rowsOf(svc, 'SELECT follower_id, followee_id, following, version FROM blog_follows'));
    }
    // comments' articles: the live ones as articles has them; the comments only on live articles
    const live = await rowsOf('articles', 'SELECT id, slug, author_id, version FROM articles');
    same("comments' live articles", live, await rowsOf('comments', 'SELECT id, slug, author_id, version FROM articles WHERE deleted = 0'));
    const liveIds = new Set(live.map((r) => r.split('\u0001')[0]));
    const orphans = (await rowsOf('comments', 'SELECT id, article_id FROM comments')).filter((r) => !liveIds.has(r.split('\u0001')[1]));
    if (orphans.length) diffs.push(`${orphans.length} comment(s) of deleted articles: ${orphans.slice(0, 3).join(' | ')}`);
    const userIds = new Set(users.map((r) => r.split('\u0001')[0]));
    const strangers = (await rowsOf('comments', 'SELECT id, author_id FROM comments')).filter((r) => !userIds.has(r.split('\u0001')[1]));
    if (strangers.length) diffs.push(`${strangers.length} comment(s) by no user: ${strangers.slice(0, 3).join(' | ')}`);
    // favorites: each article's count is its favorites' rows
    const badCounts = await rowsOf('articles', 'SELECT id, favorites_count, n FROM (SELECT a.id, a.favorites_count, (SELECT COUNT(*) FROM favorites f WHERE f.article_id = a.id) AS n FROM articles a) x WHERE favorites_count != n');
    if (badCounts.length) diffs.push(`favorites_count differs from the favorites of ${badCounts.length} article(s): ${badCounts.slice(0, 3).join(' | ')}`);
    // nothing left to publish
    for (const svc of ['users', 'articles', 'comments']) {
        const unsent = Number((await blog.query(svc, 'SELECT COUNT(*) FROM tandem_outbox WHERE sent_at IS NULL'))[0][0]);
        if (unsent) diffs.push(`${svc}: ${unsent} event(s) not yet published`);
    }
    // activity's totals against the owners
    const t = await api(blog.url, 'GET', '/api/activity/totals');
    if (t.status !== 200) {
        diffs.push(`activity totals: ${t.status}`);
        return { diffs };
    }
    const one = async (svc, sql) => Number((await blog.query(svc, sql))[0][0]);
    const want = {
        users: await one('users', 'SELECT COUNT(*) FROM users'),
        articles: await one('articles', 'SELECT COUNT(*) FROM articles'),
        comments: await one('comments', 'SELECT COUNT(*) FROM comments'),
        favorites: await one('articles', 'SELECT COUNT(*) FROM favorites'),
        follows: await one('users', 'SELECT COUNT(*) FROM follows WHERE following = 1'),
    };
    for (const k of Object.keys(want)) if (t.json[k] !== want[k]) diffs.push(`activity totals.${k} ${t.json[k]}, the owners' ${want[k]}`);
    const types = {};
    for (const svc of ['users', 'articles', 'comments']) {
        for (const [type, n] of await blog.query(svc, 'SELECT type, COUNT(*) FROM tandem_outbox GROUP BY type')) types[type] = Number(n);
    }
    for (const [type, n] of Object.entries(types)) {
        if ((t.json.events[type] || 0) !== n) diffs.push(`activity totals.events[${type}] ${t.json.events[type] || 0}, the owners' outbox ${n}`);
    }
    return { diffs, totals: t.json, want, types };
}

// Every record of topics read back (validated against docs/asyncapi.yaml): each owner's event
// type has as many distinct events (source + id) in the topics as in its outbox (last.types,
// from differences()), and activity counted each beacon event once. Resolves {records, distinct}:
// the records read and the distinct events among them.
export async function topicEventsMatch(blog, last, topics) {
    const events = await readAll(blog.brokers, topics);
    const ids = new Map();
    for (const e of events) {
        const k = `${e.headers.ce_type}`;
        if (!ids.has(k)) ids.set(k, new Set());
        ids.get(k).add(`${e.headers.ce_source} ${e.headers.ce_id}`);
    }
    for (const [type, n] of Object.entries(last.types)) {
        assert.equal(ids.get(type)?.size || 0, n, `${type}: distinct events in the topic vs the owner's outbox`);
    }
    for (const type of ['activity.page_viewed', 'activity.article_read']) {
        assert.equal(last.totals.events[type] || 0, ids.get(type)?.size || 0, `${type}: activity's count vs the topic's distinct events`);
    }
    return { records: events.length, distinct: [...ids.values()].reduce((n, x) => n + x.size, 0) };
}
