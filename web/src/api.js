// api.js: the blog's REST API (RealWorld, under /api on this origin) and the signed-in user.
//
// The token is kept in localStorage (RealWorld's convention) and sent as "Authorization: Token
// <jwt>". Every failure becomes an ApiError carrying the status, the answer's RealWorld errors
// ({"email":["has already been taken"]}) and, for 503 and 429, the Retry-After seconds, so each
// page can show it where it belongs: beside a form field, in place of a list, or as a message.

import { notify } from './notice.js';

const TOKEN = 'jwtToken';
const USER = 'user';

export class ApiError extends Error {
    constructor(status, body, retryAfter) {
        super(describe(status, body));
        this.status = status;
        this.errors = body && typeof body.errors === 'object' && body.errors ? body.errors : null;
        this.retryAfter = retryAfter;
    }
}

function describe(status, body) {
    if (status === 0) return 'The server could not be reached. Check your connection and try again.';
    if (status === 401) return 'You need to sign in to do that.';
    if (status === 403) return 'You are not allowed to do that.';
    if (status === 404) return 'That could not be found.';
    if (status === 503) return 'This part of the blog is unavailable right now. Try again in a moment.';
    if (status === 429) return 'Too many requests. Wait a moment and try again.';
    const detail = body && typeof body.detail === 'string' ? ` (${body.detail})` : '';
    if (status >= 500) return `The server could not answer (${status}). Try again in a moment.`;
    return `The request was refused (${status})${detail}.`;
}

// The signed-in user ({username, email, token, bio, image}) or null; kept with the token so the
// header can be drawn before the first answer.
let current = null;
const listeners = new Set();

function load() {
    try {
        const token = localStorage.getItem(TOKEN);
        const user = JSON.parse(localStorage.getItem(USER) || 'null');
        current = token && user && typeof user.username === 'string' ? { ...user, token } : null;
    } catch {
        current = null;
    }
}
load();

export const session = {
    get user() {
        return current;
    },
    set(user) {
        current = user ? { ...user } : null;
        try {
            if (current) {
                localStorage.setItem(TOKEN, current.token);
                const { token, ...rest } = current;
                localStorage.setItem(USER, JSON.stringify(rest));
            } else {
                localStorage.removeItem(TOKEN);
                localStorage.removeItem(USER);
            }
        } catch {
            /* storage refused (private mode): the session lives in memory only */
        }
        for (const fn of listeners) fn(current);
    },
    onChange(fn) {
        listeners.add(fn);
    },
};

// One request: method, path under /api, JSON body. Resolves the parsed answer (null for 204) or
// rejects with an ApiError. A 401 to a request that carried a token means the session is over
// (expired, or the keys changed): the user is signed out, and a GET is made again without it.
export async function api(method, path, body, { signal } = {}) {
    const headers = { accept: 'application/json' };
    const token = current?.token;
    if (token) headers.authorization = `Token ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
        res = await fetch(`/api${path}`, {
            method,
            headers,
            body: body === undefined ? undefined : JSON.stringify(body),
            signal,
        });
    } catch (e) {
        if (e?.name === 'AbortError') throw e;
        throw new ApiError(0, null, null);
    }
    let data = null;
    try {
        const text = await res.text();
        data = text ? JSON.parse(text) : null;
    } catch (e) {
        if (e?.name === 'AbortError') throw e;
        data = null;
    }
    if (res.ok) return data;
    const retry = Number.parseInt(res.headers.get('retry-after') || '', 10);
    const err = new ApiError(res.status, data, Number.isFinite(retry) ? retry : null);
    if (res.status === 401 && token && !path.startsWith('/users')) {
        // The session is over (the token expired or the keys changed): signed out, and a read
        // is asked again as a visitor, so the page still shows what anyone may see.
        if (current?.token === token) {
            session.set(null);
            notify('Your session has ended. Sign in again to go on.', 'info');
        }
        if (method === 'GET') return api(method, path, body, { signal });
        err.message = 'Your session has ended. Sign in again to go on.';
    }
    return Promise.reject(err);
}

// Query string of the defined members of params.
export function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, v);
    const s = q.toString();
    return s ? `?${s}` : '';
}
