// The validators of schemas.mjs themselves: what they let through and what they refuse, with the
// message they refuse it with, and the documents they read (RealWorld's openapi.yml unchanged,
// docs/blog-openapi.yaml a valid OpenAPI 3.1 document, docs/asyncapi.yaml a valid AsyncAPI 2.6
// document whose examples all pass). No process is started.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';

import Ajv07 from 'ajv';
import addFormats from 'ajv-formats';
import { Validator } from '@seriousme/openapi-schema-validator';
import YAML from 'yaml';

import {
    ASYNCAPI, BLOG_OPENAPI, REALWORLD_OPENAPI, REALWORLD_OPENAPI_BLOB,
    eventExamples, eventTypes, gitBlobHash, validateEvent, validateResponse,
} from './schemas.mjs';

const require = createRequire(import.meta.url);
const JSON_CT = { 'content-type': 'application/json; charset=utf-8' };
const PROBLEM_CT = { 'content-type': 'application/problem+json' };
const AT = '2026-12-05T17:20:10.123Z';

const profile = () => ({ username: 'jake', bio: 'I work at statefarm', image: '', following: false });
const article = () => ({
    slug: 'how-to-train-your-dragon', title: 'How to train your dragon', description: 'Ever wonder how?',
    body: 'It takes a Jacobian', tagList: ['dragons', 'training'], createdAt: AT, updatedAt: AT,
    favorited: false, favoritesCount: 0, author: profile(),
});
const listItem = () => {
    const { body, ...rest } = article();
    return rest;
};
const comment = () => ({ id: 12, createdAt: AT, updatedAt: AT, body: 'Thank you so much!', author: profile() });
const problem = (status, more = {}) => ({ type: 'about:blank', title: 'Some Title', status, detail: 'why', ...more });

const ok = (...a) => validateResponse(...a, { strict: true });
const refused = (fn, re) => assert.throws(fn, (e) => {
    assert.equal(e.name, 'SchemaError');
    assert.match(e.message, re);
    return true;
});

test('RealWorld\'s openapi.yml is upstream\'s, byte for byte', () => {
    assert.equal(gitBlobHash(REALWORLD_OPENAPI), REALWORLD_OPENAPI_BLOB);
});

test('docs/blog-openapi.yaml and RealWorld\'s document are valid OpenAPI 3.1 (the official schema)', async () => {
    for (const file of [BLOG_OPENAPI, REALWORLD_OPENAPI]) {
        const r = await new Validator().validate(YAML.parse(fs.readFileSync(file, 'utf8')));
        assert.ok(r.valid, `${file}: ${JSON.stringify(r.errors)}`);
    }
});

test('docs/asyncapi.yaml is valid AsyncAPI 2.6 (the official schema); every example passes', () => {
    // The schema embeds draft-07's meta-schema, which ajv already has: compile it as data.
    const ajv = new Ajv07({ allErrors: true, strict: false, meta: false, validateSchema: false });
    addFormats(ajv);
    const valid = ajv.compile(require('@asyncapi/specs').schemas['2.6.0']);
    assert.ok(valid(YAML.parse(fs.readFileSync(ASYNCAPI, 'utf8'))), JSON.stringify(valid.errors));
    const examples = eventExamples();
    assert.deepEqual(examples.map((e) => e.type).sort(), Object.values(eventTypes()).flat().sort(), 'one example per message');
    for (const e of examples) assert.equal(validateEvent(e.topic, e.message).type, e.type);
});

test('the channels and message types are the design\'s', () => {
    assert.deepEqual(eventTypes(), {
        users: ['user.registered', 'user.updated', 'user.followed', 'user.unfollowed'],
        articles: ['article.published', 'article.updated', 'article.deleted', 'article.favorited', 'article.unfavorited'],
        comments: ['comment.added', 'comment.deleted'],
        activity: ['activity.page_viewed', 'activity.clicked', 'activity.article_read'],
    });
});

test('correct responses pass, strictly, and answer the operation they matched', () => {
    assert.equal(ok('GET', '/api/articles/how-to-train-your-dragon', 200, JSON_CT, { article: article() }).operation,
        'GET /api/articles/{slug}');
    assert.equal(ok('GET', '/api/articles/feed?limit=5', 200, JSON_CT, { articles: [listItem()], articlesCount: 1 }).operation,
        'GET /api/articles/feed');
    ok('GET', '/api/articles?tag=dragons&offset=0', 200, JSON_CT, JSON.stringify({ articles: [listItem()], articlesCount: 1 }));
    ok('POST', '/api/articles/how-to-train-your-dragon/comments', 200, JSON_CT, { comment: comment() });
    ok('GET', '/api/articles/how-to-train-your-dragon/comments', 200, JSON_CT, { comments: [comment()] });
    ok('DELETE', '/api/articles/how-to-train-your-dragon/comments/12', 204, {}, '');
    ok('GET', '/api/profiles/jake', 200, new Headers(JSON_CT), { profile: profile() });
    ok('POST', '/api/users', 201, JSON_CT, { user: { email: 'jake@jake.jake', token: 'x.y.z', username: 'jake', bio: '', image: '' } });
    ok('GET', '/api/tags', 200, JSON_CT, { tags: ['dragons'] });
    ok('GET', '/internal/articles/how-to', 200, JSON_CT, { id: 3, slug: 'how-to', authorId: 7, version: 2, deleted: false });
    ok('POST', '/api/activity/events', 202, JSON_CT, { accepted: 3 });
    ok('GET', '/api/activity/top-articles', 200, JSON_CT, { articles: [{ slug: 'how-to', title: 'How to', reads: 3, favorites: 1, comments: 2 }] });
    ok('GET', '/api/activity/users/jake', 200, JSON_CT, { username: 'jake', activity: [{ type: 'article.published', at: AT, article: { slug: 'how-to', title: 'How to', deleted: false } }] });
    ok('GET', '/api/activity/totals', 200, JSON_CT, { users: 1, articles: 1, comments: 0, favorites: 0, follows: 0, events: { 'user.registered': 1 } });
});

test('strict mode refuses what the schema does not name; the lax mode is RealWorld\'s own', () => {
    const leaked = { articles: [{ ...listItem(), body: 'the whole body' }], articlesCount: 1 };
    refused(() => ok('GET', '/api/articles', 200, JSON_CT, leaked), /GET \/api\/articles -> 200: \/articles\/0 must NOT have unevaluated properties \("body"\)/);
    assert.equal(validateResponse('GET', '/api/articles', 200, JSON_CT, leaked).status, 200);
    refused(() => ok('GET', '/api/profiles/jake', 200, JSON_CT, { profile: { ...profile(), email: 'jake@jake.jake' } }),
        /\/profile must NOT have unevaluated properties \("email"\)/);
    refused(() => ok('GET', '/api/articles/x', 200, JSON_CT, { article: { ...article(), author: { ...profile(), id: 7 } } }),
        /\/article\/author must NOT have unevaluated properties \("id"\)/);
    refused(() => ok('GET', '/api/user', 401, PROBLEM_CT, problem(401, { stack: 'at main.c:1' })),
        /must NOT have unevaluated properties \("stack"\)/);
});

test('dates need milliseconds and Z', () => {
    for (const bad of ['2026-12-05T17:20:10Z', '2026-12-05T17:20:10.123+01:00', '2026-12-05T17:20:10.1Z', '2026-13-05T17:20:10.123Z', '2026-12-05 17:20:10.123Z']) {
        refused(() => ok('GET', '/api/articles/x', 200, JSON_CT, { article: { ...article(), updatedAt: bad } }),
            new RegExp(`/article/updatedAt must match format "date-time", got "${bad.replace(/[.+]/g, '\\$&')}"`));
    }
});

test('missing members, wrong types', () => {
    const { following, ...noFollowing } = profile();
    refused(() => ok('GET', '/api/profiles/jake', 200, JSON_CT, { profile: noFollowing }), /\/profile must have required property 'following'/);
    refused(() => ok('GET', '/api/articles/x/comments', 200, JSON_CT, { comments: [{ ...comment(), id: '12' }] }),
        /\/comments\/0\/id must be integer, got "12"/);
    refused(() => ok('GET', '/api/user', 200, JSON_CT, { user: { email: 'a@b.c', token: 't', username: 'a', bio: null, image: '' } }),
        /\/user\/bio must be string, got null/);
    refused(() => ok('GET', '/api/articles', 200, JSON_CT, { articles: [] }), /must have required property 'articlesCount'/);
});

test('errors are problem documents; a 422 carries errors by field', () => {
    const invalid = problem(422, { errors: { email: ['is invalid'], username: ["can't be blank"] } });
    ok('POST', '/api/users', 422, PROBLEM_CT, invalid);
    refused(() => ok('POST', '/api/users', 422, PROBLEM_CT, problem(422)), /-> 422: must have required property 'errors'/);
    refused(() => ok('POST', '/api/users', 422, PROBLEM_CT, problem(422, { errors: {} })), /\/errors must NOT have fewer than 1 properties/);
    refused(() => ok('POST', '/api/users', 422, PROBLEM_CT, problem(422, { errors: { email: 'is invalid' } })), /\/errors\/email must be array/);
    refused(() => ok('POST', '/api/users', 422, JSON_CT, invalid), /Content-Type application\/json where application\/problem\+json is due/);
    refused(() => ok('POST', '/api/users', 422, PROBLEM_CT, { errors: { email: ['is invalid'] } }), /must have required property 'type'/);
    refused(() => ok('GET', '/api/user', 401, PROBLEM_CT, problem(403)), /the problem's status member is 403, not the HTTP status/);
    ok('POST', '/api/users/login', 401, PROBLEM_CT, problem(401, { errors: { 'email or password': ['is invalid'] } }));
    ok('DELETE', '/api/articles/x', 403, PROBLEM_CT, problem(403));
    ok('GET', '/api/articles/x', 404, PROBLEM_CT, problem(404));
    ok('GET', '/api/articles/x', 401, PROBLEM_CT, problem(401)); // docs/blog-openapi.yaml adds it
    ok('POST', '/api/users', 503, PROBLEM_CT, problem(503));
});

test('statuses the operation does not answer, bodies where none is due, unknown routes', () => {
    refused(() => ok('GET', '/api/user', 201, JSON_CT, { user: {} }), /GET \/api\/user -> 201: a status the operation does not answer \(RealWorld lists 200, 401, 422/);
    refused(() => ok('GET', '/api/tags', 418, PROBLEM_CT, problem(418)), /-> 418: a status the operation does not answer/);
    refused(() => ok('GET', '/api/tags', 401, PROBLEM_CT, problem(401)), /GET \/api\/tags -> 401: a status the operation does not answer/);
    refused(() => ok('DELETE', '/api/articles/x', 204, JSON_CT, '{}'), /answers no content, but a body came/);
    refused(() => ok('DELETE', '/api/articles/x', 200, JSON_CT, { article: article() }), /-> 200: a status the operation does not answer/);
    refused(() => ok('GET', '/api/articles/x', 200, JSON_CT, ''), /an empty body where application\/json is due/);
    refused(() => ok('GET', '/api/articles/x', 200, JSON_CT, '{"article":'), /the body is not JSON/);
    refused(() => ok('GET', '/api/nothing/here', 200, JSON_CT, {}), /no path of .* matches/);
    refused(() => ok('PATCH', '/api/user', 200, JSON_CT, {}), /PATCH \/api\/user: neither .* has this operation/);
});

// One example event as kafkajs hands it, changed by edit(headers, payload) (which may return a
// replacement {key, headers, value}).
function eventLike(type, edit = () => {}) {
    const e = eventExamples().find((x) => x.type === type);
    const headers = Object.fromEntries(Object.entries(e.message.headers).map(([k, v]) => [k, v.toString()]));
    const payload = JSON.parse(e.message.value.toString());
    const out = { key: e.message.key, headers, value: null };
    const replaced = edit(out, payload);
    out.value = Buffer.from(JSON.stringify(payload));
    return [e.topic, replaced || out];
}

test('events: an extra or missing member, a wrong type, a missing or extra header, a wrong key each fail', () => {
    refused(() => validateEvent(...eventLike('user.registered', (m, p) => { p.email = 'jake@jake.jake'; })),
        /users user.registered payload: .*must NOT have additional properties \("email"\)/);
    refused(() => validateEvent(...eventLike('article.published', (m, p) => { p.body = 'the body'; })),
        /articles article.published payload: .*must NOT have additional properties \("body"\)/);
    refused(() => validateEvent(...eventLike('comment.added', (m, p) => { delete p.authorId; })),
        /comments comment.added payload: .*must have required property 'authorId'/);
    refused(() => validateEvent(...eventLike('user.followed', (m, p) => { p.followeeId = '9'; })),
        /\/followeeId must be integer, got "9"/);
    refused(() => validateEvent(...eventLike('user.followed', (m, p) => { p.following = false; })),
        /\/following must be equal to constant/);
    refused(() => validateEvent(...eventLike('article.favorited', (m, p) => { p.at = '2026-12-05T17:20:10Z'; })),
        /\/at must match pattern/);
    refused(() => validateEvent(...eventLike('user.updated', (m) => { delete m.headers.traceparent; })),
        /users user.updated headers: .*must have required property 'traceparent'/);
    refused(() => validateEvent(...eventLike('user.updated', (m) => { m.headers.ce_extra = 'x'; })),
        /must NOT have additional properties \("ce_extra"\)/);
    refused(() => validateEvent(...eventLike('user.updated', (m) => { m.headers.ce_source = '/articles'; })),
        /\/ce_source must be equal to constant \("\/users"\)/);
    refused(() => validateEvent(...eventLike('user.updated', (m) => { m.headers.ce_specversion = '0.3'; })),
        /\/ce_specversion must be equal to constant/);
    refused(() => validateEvent(...eventLike('user.updated', (m) => { m.headers.ce_type = 'user.deleted'; })),
        /ce_type "user.deleted" is none of its messages \(user.registered, user.updated/);
    refused(() => validateEvent(...eventLike('user.updated', (m) => { m.headers.ce_time = 'yesterday'; })),
        /\/ce_time must match/);
    refused(() => validateEvent(...eventLike('user.updated', (m) => { m.headers.ce_id = ['a', 'b']; })),
        /header ce_id appears 2 times/);
    refused(() => validateEvent(...eventLike('user.followed', (m) => { m.key = Buffer.from('9'); m.headers.ce_subject = '9'; })),
        /key "9" is not the payload's followerId \(7\)/);
    refused(() => validateEvent(...eventLike('user.followed', (m) => { m.headers.ce_subject = '9'; })),
        /ce_subject "9" is not the key "7"/);
    refused(() => validateEvent(...eventLike('comment.deleted', (m) => { m.key = Buffer.from('03'); })),
        /comments comment.deleted key: must match pattern "\^\[1-9\]\[0-9\]\{0,18\}\$", got "03"/);
    refused(() => validateEvent(...eventLike('comment.deleted', (m) => ({ ...m, value: Buffer.from('{"v":1,') }))),
        /the value is not JSON/);
    refused(() => validateEvent('notes', eventLike('user.updated')[1]), /topic notes: .* has no channel for it/);
    // an anonymous reader's activity is keyed by the anonymous id
    const [topic, anon] = eventLike('activity.clicked');
    assert.equal(validateEvent(topic, anon).key, 'f3b9c2d1e0a4');
});
