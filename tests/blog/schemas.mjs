// tests/blog/schemas.mjs: the blog's contracts, checked by a validator rather than by hand-picked
// fields.
//
// Three documents, read once when this module loads:
//   tests/blog/realworld/openapi.yml  RealWorld's API (1.1.0, OpenAPI 3.1), kept unchanged
//   docs/blog-openapi.yaml            what the blog adds to it: RFC 9457 problem documents for
//                                     the error statuses, the statuses RealWorld does not list,
//                                     the activity routes, the internal route, the date format
//   docs/asyncapi.yaml                the blog's events (AsyncAPI 2.6)
//
// validateResponse(method, path, status, headers, body, {strict}) finds the operation, checks
// the status is one it may answer, the Content-Type, and the body against the response schema.
// validateEvent(topic, message) checks a kafkajs message's headers, key and payload against the
// message of the topic's channel that its ce_type names. Both throw a SchemaError saying what is
// wrong and where (the JSON pointer into the body), and answer what they checked.
//
// Dialects: OpenAPI 3.1's schemas are JSON Schema 2020-12 (ajv/dist/2020); AsyncAPI 2.6's
// default schema format is a superset of draft-07 (ajv's default class). Local $refs are inlined
// before compiling (neither document is a JSON Schema itself, and neither has a recursive
// schema); a $ref out of the document is refused. The documents' own structure, the parts read
// here, is checked against the small schemas below when the module loads, so a malformed
// document fails loudly instead of validating nothing.
//
// Strict mode (responses): RealWorld's schemas allow members they do not name; strict refuses
// them (every object schema that names its properties and says nothing of the others gets
// unevaluatedProperties: false), so a leaked `body` in a list item or an `email` in a profile
// fails. Event payloads and headers are always exact (additionalProperties: false in the
// document itself).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import Ajv2020 from 'ajv/dist/2020.js';
import Ajv07 from 'ajv';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import YAML from 'yaml';

import { ROOT, onResponse } from './lib.mjs';

export const REALWORLD_OPENAPI = path.join(ROOT, 'tests', 'blog', 'realworld', 'openapi.yml');
export const BLOG_OPENAPI = path.join(ROOT, 'docs', 'blog-openapi.yaml');
export const ASYNCAPI = path.join(ROOT, 'docs', 'asyncapi.yaml');

// The git blob of RealWorld's api/openapi.yml at commit 747190e (tests/blog/realworld/README.md).
export const REALWORLD_OPENAPI_BLOB = '79166aebc64ad812873bbbc721e2151e78c7cdf1';

export class SchemaError extends Error {
    constructor(message) {
        super(message);
        this.name = 'SchemaError';
    }
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

// ---- the documents' own structure (the parts read here) ----------------------------------------

const STATUS_KEY = '^[1-5][0-9][0-9]$';
const OPENAPI_SHAPE = {
    type: 'object',
    required: ['openapi', 'servers', 'paths', 'components'],
    properties: {
        openapi: { type: 'string', pattern: '^3\\.1\\.' },
        servers: {
            type: 'array', minItems: 1,
            items: { type: 'object', required: ['url'], properties: { url: { type: 'string' } } },
        },
        paths: {
            type: 'object',
            propertyNames: { pattern: '^/' },
            additionalProperties: {
                type: 'object',
                properties: Object.fromEntries(METHODS.map((m) => [m, {
                    type: 'object',
                    required: ['responses'],
                    properties: {
                        responses: {
                            type: 'object',
                            minProperties: 1,
                            propertyNames: { pattern: STATUS_KEY },
                            additionalProperties: { $ref: '#/$defs/response' },
                        },
                    },
                }])),
            },
        },
        components: { type: 'object' },
        'x-blog-problem-statuses': {
            type: 'array', items: { type: 'integer', minimum: 400, maximum: 599 }, uniqueItems: true,
        },
        'x-blog-date-time-pattern': { type: 'string', format: 'regex' },
    },
    $defs: {
        response: {
            oneOf: [
                { type: 'object', required: ['$ref'], properties: { $ref: { type: 'string', pattern: '^#/' } } },
                {
                    type: 'object',
                    required: ['description', 'content'],
                    not: { required: ['$ref'] },
                    properties: {
                        content: {
                            type: 'object',
                            maxProperties: 1,
                            additionalProperties: { type: 'object', required: ['schema'] },
                        },
                    },
                },
            ],
        },
    },
};

const ASYNCAPI_SHAPE = {
    type: 'object',
    required: ['asyncapi', 'channels', 'components'],
    properties: {
        asyncapi: { const: '2.6.0' },
        channels: {
            type: 'object',
            minProperties: 1,
            additionalProperties: {
                type: 'object',
                required: ['bindings', 'subscribe'],
                properties: {
                    bindings: {
                        type: 'object', required: ['kafka'],
                        properties: { kafka: { type: 'object', required: ['topic'], properties: { topic: { type: 'string' } } } },
                    },
                    subscribe: {
                        type: 'object', required: ['message'],
                        properties: {
                            message: {
                                type: 'object', required: ['oneOf'],
                                properties: { oneOf: { type: 'array', minItems: 1, items: { $ref: '#/$defs/ref' } } },
                            },
                        },
                    },
                },
            },
        },
        components: {
            type: 'object',
            required: ['messages', 'schemas'],
            properties: {
                messages: {
                    type: 'object',
                    additionalProperties: {
                        type: 'object',
                        // the fleet's binary positions (x-fleet-binary, docs/fleet.md) are not the
                        // blog's CloudEvents: the loader below skips their channel
                        if: { required: ['x-fleet-binary'] },
                        then: { required: ['name', 'contentType', 'payload', 'bindings'] },
                        else: {
                            required: ['name', 'contentType', 'headers', 'payload', 'bindings', 'x-blog-key'],
                            properties: {
                                contentType: { const: 'application/json' },
                                examples: { type: 'array', items: { type: 'object', required: ['headers', 'payload'] } },
                            },
                        },
                        properties: {
                            name: { type: 'string', pattern: '^[a-z]+\\.[a-z_]+$' },
                            contentType: { enum: ['application/json', 'application/vnd.tandem.position.v1'] },
                            headers: { type: 'object' },
                            payload: { type: 'object' },
                            bindings: {
                                type: 'object', required: ['kafka'],
                                properties: { kafka: { type: 'object', required: ['key'], properties: { key: { type: 'object' } } } },
                            },
                            'x-blog-key': { type: 'array', minItems: 1, items: { type: 'string' } },
                            examples: {
                                type: 'array',
                                items: { type: 'object', required: ['payload'] },
                            },
                            'x-fleet-binary': { const: true },
                        },
                    },
                },
                schemas: { type: 'object' },
            },
        },
    },
    $defs: { ref: { type: 'object', required: ['$ref'], properties: { $ref: { type: 'string', pattern: '^#/' } } } },
};

// Unknown keywords and formats are errors (a typo must not validate nothing); a `required` in an
// allOf member beside the schema that defines the property (ValidationProblem, the documents'
// per-message constants) and keywords without their `type` are allowed, as JSON Schema allows.
const AJV_OPTIONS = {
    allErrors: true,
    verbose: true, // errors carry the value they are about
    strictSchema: true,
    strictNumbers: true,
    strictTuples: true,
    strictTypes: false,
    strictRequired: false,
};

// ---- loading ------------------------------------------------------------------------------------

function load(file, shape) {
    const doc = YAML.parse(fs.readFileSync(file, 'utf8'));
    const check = new Ajv2020(AJV_OPTIONS);
    addFormats(check, ['regex']);
    const ok = check.validate(shape, doc);
    if (!ok) throw new SchemaError(`${path.relative(ROOT, file)} is not shaped as this module reads it: ${explain(check.errors)}`);
    return doc;
}

// The value at a local JSON pointer ("#/components/schemas/Profile") of doc.
function pointer(doc, ref, file) {
    if (!ref.startsWith('#/')) throw new SchemaError(`${file}: $ref ${ref} leaves the document`);
    let node = doc;
    for (const raw of ref.slice(2).split('/')) {
        const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
        if (node === null || typeof node !== 'object' || !(key in node)) {
            throw new SchemaError(`${file}: $ref ${ref} points at nothing`);
        }
        node = node[key];
    }
    return node;
}

// A copy of node with every local $ref replaced by (a copy of) its target. A $ref beside other
// keywords keeps them: annotations are dropped, assertions are kept beside an allOf of the target.
function inline(doc, node, file, stack = []) {
    if (Array.isArray(node)) return node.map((n) => inline(doc, n, file, stack));
    if (node === null || typeof node !== 'object') return node;
    if (typeof node.$ref === 'string') {
        if (stack.includes(node.$ref)) throw new SchemaError(`${file}: recursive $ref ${node.$ref}`);
        const target = inline(doc, pointer(doc, node.$ref, file), file, [...stack, node.$ref]);
        const rest = Object.fromEntries(Object.entries(node).filter(([k]) => !['$ref', 'description', 'summary', 'title'].includes(k)));
        if (!Object.keys(rest).length) return target;
        const beside = inline(doc, rest, file, stack);
        return { ...beside, allOf: [...(beside.allOf || []), target] };
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, inline(doc, v, file, stack)]));
}

// The schema made strict: every object schema that names its properties and says nothing about
// others refuses them (unevaluatedProperties, so that an allOf of such a schema and a schema that
// only adds `required` keeps working).
function strictly(schema) {
    if (Array.isArray(schema)) return schema.map(strictly);
    if (schema === null || typeof schema !== 'object') return schema;
    const out = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === 'properties'
        ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, strictly(s)]))
        : ['items', 'allOf', 'anyOf', 'oneOf', 'additionalProperties', 'prefixItems'].includes(k) ? strictly(v) : v]));
    if (out.properties && !('additionalProperties' in out) && !('unevaluatedProperties' in out)) {
        out.unevaluatedProperties = false;
    }
    return out;
}

// ajv's errors as one line: "/articles/0 must NOT have unevaluated properties (\"body\"); ...",
// with the value found where it is not an object or array.
function explain(errors) {
    return (errors || []).map((e) => {
        const where = e.instancePath ? `${e.instancePath} ` : '';
        const p = e.params || {};
        const what = p.unevaluatedProperty ?? p.additionalProperty ?? p.allowedValue ?? p.allowedValues;
        const got = e.data !== null && typeof e.data === 'object' ? '' : `, got ${JSON.stringify(e.data)?.slice(0, 80)}`;
        return `${where}${e.message}${what !== undefined ? ` (${JSON.stringify(what)})` : ''}${got}`;
    }).join('; ');
}

const realworld = load(REALWORLD_OPENAPI, OPENAPI_SHAPE);
const blog = load(BLOG_OPENAPI, OPENAPI_SHAPE);
const asyncapi = load(ASYNCAPI, ASYNCAPI_SHAPE);

const RW = path.relative(ROOT, REALWORLD_OPENAPI);
const OURS = path.relative(ROOT, BLOG_OPENAPI);
const AAPI = path.relative(ROOT, ASYNCAPI);

if (!blog['x-blog-problem-statuses'] || !blog['x-blog-date-time-pattern']) {
    throw new SchemaError(`${OURS} lacks x-blog-problem-statuses or x-blog-date-time-pattern`);
}
const PROBLEM_STATUSES = blog['x-blog-problem-statuses'];
const DATE_TIME = new RegExp(blog['x-blog-date-time-pattern']);

// OpenAPI 3.1: JSON Schema 2020-12; "date-time" is RFC 3339 (ajv-formats) and the blog's pattern.
const ajv = new Ajv2020(AJV_OPTIONS);
addFormats(ajv, ['uri-reference']);
ajv.addFormat('date-time', {
    type: 'string',
    validate: (s) => DATE_TIME.test(s) && fullFormats['date-time'].validate(s),
});

// AsyncAPI 2.6: draft-07 schemas.
const ajv07 = new Ajv07(AJV_OPTIONS);
addFormats(ajv07, ['date-time']);

// ---- responses ------------------------------------------------------------------------------------

// The operations of both documents by path template, RealWorld's under its server URL's path.
const RW_PREFIX = new URL(realworld.servers[0].url, 'http://x').pathname.replace(/\/$/, '');
const OURS_PREFIX = new URL(blog.servers[0].url, 'http://x').pathname.replace(/\/$/, '');
const templates = new Map();
for (const [doc, prefix, name] of [[realworld, RW_PREFIX, 'realworld'], [blog, OURS_PREFIX, 'blog']]) {
    for (const [p, item] of Object.entries(doc.paths)) {
        const t = prefix + p;
        if (!templates.has(t)) templates.set(t, { template: t, segments: t.split('/').slice(1) });
        templates.get(t)[name] = item;
    }
}

// The template request path p (no query) falls under: the one with most literal segments
// (/api/articles/feed before /api/articles/{slug}).
function route(p) {
    const segs = p.split('/').slice(1);
    let best = null, bestScore = -1, tie = false;
    for (const t of templates.values()) {
        if (t.segments.length !== segs.length) continue;
        let score = 0, ok = true;
        for (let i = 0; i < segs.length && ok; i++) {
            if (/^\{[^}]+\}$/.test(t.segments[i])) ok = segs[i] !== '';
            else if (t.segments[i] === segs[i]) score++;
            else ok = false;
        }
        if (!ok) continue;
        if (score > bestScore) [best, bestScore, tie] = [t, score, false];
        else if (score === bestScore) tie = true;
    }
    if (tie) throw new SchemaError(`${p} matches two path templates equally`);
    return best;
}

function mediaType(headers, name) {
    const v = typeof headers?.get === 'function' ? headers.get(name)
        : Object.entries(headers || {}).find(([k]) => k.toLowerCase() === name)?.[1];
    return v == null ? null : String(v).split(';')[0].trim().toLowerCase();
}

// The body as a value: a string or Buffer is the raw text (parsed here; empty: no body), anything
// else is taken as already parsed. Answers {empty, value}.
function bodyOf(body, where) {
    if (body === undefined || body === null) return { empty: true };
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
        const text = body.toString();
        if (text === '') return { empty: true };
        try {
            return { empty: false, value: JSON.parse(text) };
        } catch {
            throw new SchemaError(`${where}: the body is not JSON: ${text.slice(0, 200)}`);
        }
    }
    return { empty: false, value: body };
}

// RealWorld's GenericErrorModel read as the blog reads it: its errors object names the request's
// real fields, each with RealWorld's array of strings (the schema it gives `body`), rather than
// `body` alone (docs/blog.md, notes).
function errorsByField(schema) {
    const errors = schema?.properties?.errors;
    const each = errors?.properties?.body;
    if (!each) throw new SchemaError(`${RW}: GenericErrorModel is not {errors: {body: [...]}} any more`);
    const { properties, required, ...rest } = errors;
    return { ...schema, properties: { ...schema.properties, errors: { ...rest, minProperties: 1, additionalProperties: each } } };
}

const compiled = new Map();
function compile(key, make) {
    if (!compiled.has(key)) compiled.set(key, make());
    return compiled.get(key);
}

function check(validate, value, where) {
    if (!validate(value)) throw new SchemaError(`${where}: ${explain(validate.errors)}`);
}

// The operation of method on path: {name, realworld, blog} (either may be undefined, not both).
function operation(method, p) {
    const m = method.toLowerCase();
    const t = route(p);
    if (!t) throw new SchemaError(`${method} ${p}: no path of ${RW} (under ${RW_PREFIX}) or ${OURS} matches`);
    const op = { name: `${method.toUpperCase()} ${t.template}`, realworld: t.realworld?.[m], blog: t.blog?.[m] };
    if (!op.realworld && !op.blog) throw new SchemaError(`${op.name}: neither ${RW} nor ${OURS} has this operation`);
    return op;
}

/**
 * Validates one response of the blog's API. method: "GET"...; p: the request path as sent
 * (/api/articles/how-to?limit=1: the query is ignored); status: the HTTP status; headers: a fetch
 * Headers or a plain object; body: the raw text (string or Buffer, '' or undefined for none) or
 * the parsed value. strict: members the schema does not name are refused.
 * Answers {operation, status, body} (body parsed; undefined when empty); throws a SchemaError.
 */
export function validateResponse(method, p, status, headers, body, { strict = false } = {}) {
    const pathOnly = p.split('?')[0].split('#')[0];
    const op = operation(method, pathOnly);
    const where = `${op.name} -> ${status}`;
    const key = String(status);
    const listed = [...Object.keys(op.realworld?.responses || {}), ...Object.keys(op.blog?.responses || {})];
    if (!listed.includes(key) && !(PROBLEM_STATUSES.includes(status) && status >= 400)) {
        throw new SchemaError(`${where}: a status the operation does not answer (RealWorld lists ${Object.keys(op.realworld?.responses || {}).join(', ') || 'nothing'}; ` +
            `${OURS} adds ${Object.keys(op.blog?.responses || {}).join(', ') || 'nothing'} here and ${PROBLEM_STATUSES.join(', ')} anywhere)`);
    }
    const got = bodyOf(body, where);
    let response;
    if (status >= 400) {
        // Every error is a problem document: the operation's own in our document, else ours.
        const own = op.blog?.responses?.[key];
        response = inline(blog, own || { $ref: `#/components/responses/${status === 422 ? 'ValidationProblem' : 'Problem'}` }, OURS);
    } else {
        const own = op.realworld?.responses?.[key];
        response = own ? inline(realworld, own, RW) : inline(blog, op.blog.responses[key], OURS);
    }
    const types = Object.keys(response.content || {});
    if (types.length === 0) {
        if (!got.empty) throw new SchemaError(`${where}: the operation answers no content, but a body came: ${JSON.stringify(got.value).slice(0, 200)}`);
        return { operation: op.name, status, body: undefined };
    }
    const ct = mediaType(headers, 'content-type');
    if (ct !== types[0]) throw new SchemaError(`${where}: Content-Type ${ct} where ${types[0]} is due`);
    if (got.empty) throw new SchemaError(`${where}: an empty body where ${types[0]} is due`);
    const validate = compile(`${op.name} ${key} ${strict}`, () => {
        const s = response.content[types[0]].schema;
        return ajv.compile(strict ? strictly(s) : s);
    });
    check(validate, got.value, where);
    if (status >= 400) {
        if (got.value.status !== status) {
            throw new SchemaError(`${where}: the problem's status member is ${JSON.stringify(got.value.status)}, not the HTTP status`);
        }
        const rwError = op.realworld?.responses?.[key];
        if (status === 422 && rwError) {
            // RealWorld's own schema of the 422 as well, read by field (errorsByField).
            const v = compile(`${op.name} 422 realworld ${strict}`, () => {
                const s = errorsByField(inline(realworld, rwError, RW).content['application/json'].schema);
                return ajv.compile(s);
            });
            check(v, got.value, `${where} (RealWorld's GenericErrorModel)`);
        }
    }
    return { operation: op.name, status, body: got.value };
}

/**
 * Makes every answer of lib.mjs's api() (and so register()) go through validateResponse, strict
 * unless {strict: false}; a test file calls it once, at its top. api(..., {unchecked: true})
 * skips it for a request outside the API.
 */
export function checkResponses({ strict = true } = {}) {
    onResponse((method, p, r) => validateResponse(method, p, r.status, r.headers, r.text, { strict }));
}

// ---- events ---------------------------------------------------------------------------------------

const channels = new Map();
for (const [name, ch] of Object.entries(asyncapi.channels)) {
    // the fleet's binary positions (tag fleet) are not the blog's CloudEvents (docs/fleet.md)
    if ((ch.subscribe.tags || []).some((t) => t.name === 'fleet')) continue;
    const messages = new Map();
    for (const ref of ch.subscribe.message.oneOf) {
        const m = pointer(asyncapi, ref.$ref, AAPI);
        if (messages.has(m.name)) throw new SchemaError(`${AAPI}: channel ${name} has two messages named ${m.name}`);
        messages.set(m.name, {
            name: m.name,
            keyMembers: m['x-blog-key'],
            headers: ajv07.compile(inline(asyncapi, m.headers, AAPI)),
            key: ajv07.compile(inline(asyncapi, m.bindings.kafka.key, AAPI)),
            payload: ajv07.compile(inline(asyncapi, m.payload, AAPI)),
            examples: m.examples || [],
        });
    }
    channels.set(ch.bindings.kafka.topic, { name, messages });
}

function text(v) {
    return v === null || v === undefined ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/**
 * Validates one event as kafkajs hands it (message: {key, headers, value}; Buffers or strings)
 * against the message of topic's channel named by its ce_type header: its headers (exactly the
 * CloudEvents binary-binding set), its key (and ce_subject: the same id, the payload's x-blog-key
 * member) and its payload. Answers {type, key, headers, data} (strings, the payload parsed);
 * throws a SchemaError.
 */
export function validateEvent(topic, message) {
    const ch = channels.get(topic);
    if (!ch) throw new SchemaError(`topic ${topic}: ${AAPI} has no channel for it (it has ${[...channels.keys()].join(', ')})`);
    const headers = {};
    for (const [k, v] of Object.entries(message.headers || {})) {
        if (Array.isArray(v)) throw new SchemaError(`topic ${topic}: header ${k} appears ${v.length} times`);
        headers[k] = text(v);
    }
    const type = headers.ce_type;
    const m = ch.messages.get(type);
    if (!m) throw new SchemaError(`topic ${topic}: ce_type ${JSON.stringify(type)} is none of its messages (${[...ch.messages.keys()].join(', ')})`);
    const where = `${topic} ${type}`;
    check(m.headers, headers, `${where} headers`);
    const key = text(message.key);
    check(m.key, key, `${where} key`);
    let data;
    try {
        data = JSON.parse(text(message.value));
    } catch {
        throw new SchemaError(`${where}: the value is not JSON: ${String(text(message.value)).slice(0, 200)}`);
    }
    check(m.payload, data, `${where} payload`);
    const member = m.keyMembers.find((k) => data[k] !== null && data[k] !== undefined);
    if (member === undefined || String(data[member]) !== key) {
        throw new SchemaError(`${where}: key ${JSON.stringify(key)} is not the payload's ${m.keyMembers.join(' or ')} (${JSON.stringify(member && data[member])})`);
    }
    if (headers.ce_subject !== key) {
        throw new SchemaError(`${where}: ce_subject ${JSON.stringify(headers.ce_subject)} is not the key ${JSON.stringify(key)}`);
    }
    return { type, key, headers, data };
}

// The examples of docs/asyncapi.yaml as kafkajs messages: [{topic, type, message}] (for the
// validators' own tests: each must pass).
export function eventExamples() {
    const out = [];
    for (const [topic, ch] of channels) {
        for (const m of ch.messages.values()) {
            for (const ex of m.examples) {
                const member = m.keyMembers.find((k) => ex.payload[k] !== null && ex.payload[k] !== undefined);
                out.push({
                    topic,
                    type: m.name,
                    message: {
                        key: Buffer.from(String(ex.payload[member])),
                        headers: Object.fromEntries(Object.entries(ex.headers).map(([k, v]) => [k, Buffer.from(String(v))])),
                        value: Buffer.from(JSON.stringify(ex.payload)),
                    },
                });
            }
        }
    }
    return out;
}

// The message types of every topic: {users: ['user.registered', ...], ...}.
export function eventTypes() {
    return Object.fromEntries([...channels].map(([t, ch]) => [t, [...ch.messages.keys()]]));
}

// The git blob hash of a file (what `git hash-object` prints).
export function gitBlobHash(file) {
    const data = fs.readFileSync(file);
    return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}
