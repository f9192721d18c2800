// key.js: the console key, which the console's actions need (stop, start, scale, group resets).
//
// `tandem up` writes a new random key to var/tandem/console.secret at every start; whoever can
// read the project's files can paste it here. It is checked (POST /api/console/key) and kept in
// this browser's localStorage until it is refused (a new `up` made another) or the user locks the
// actions again; it is sent in the X-Console-Key header, never in a URL. The reads need no key.
import { h, replace } from '../dom.js';

const STORE = 'tandemConsoleKey';
const changes = new Set();

let memory = '';

export function getKey() {
    try {
        return localStorage.getItem(STORE) || memory;
    } catch {
        return memory;
    }
}

function setKey(k) {
    memory = k;
    try {
        if (k) localStorage.setItem(STORE, k);
        else localStorage.removeItem(STORE);
    } catch {
        /* storage refused: kept in memory for this page */
    }
    for (const fn of changes) fn(k);
}

export class ActionError extends Error {
    constructor(status, detail) {
        super(detail || `The console refused it (${status}).`);
        this.status = status;
    }
}

// One call that needs the key: resolves the JSON answer (null for 204), rejects with an
// ActionError. A refused key is forgotten, and the key form is opened with the reason.
export async function act(method, path, body) {
    const headers = { 'x-console-key': getKey(), accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
        res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
        throw new ActionError(0, 'The console could not be reached.');
    }
    const text = await res.text();
    let data = null;
    try {
        data = text ? JSON.parse(text) : null;
    } catch {
        data = null;
    }
    if (res.ok) return data;
    if (res.status === 401 || res.status === 403) {
        setKey('');
        openForm?.(res.status === 403 ? 'That key was refused: tandem up makes a new one at every start.' : 'Actions need the console key.');
    }
    const fields = data?.errors ? Object.entries(data.errors).map(([k, v]) => `${k} ${v.join(', ')}`).join('; ') : '';
    throw new ActionError(res.status, fields || data?.detail);
}

let openForm = null;

// The header's control: "Unlock actions" and the form asking for the key, or "Actions unlocked"
// with "Lock". onChange(key) runs when it changes.
export function keyControl(signal) {
    const box = h('div', { class: 'key-control' });
    const formId = 'console-key-form';
    function draw(message) {
        if (getKey()) {
            replace(
                box,
                h('span', { class: 'key-state unlocked' }, 'Actions unlocked'),
                h('button', { type: 'button', class: 'btn btn-sm btn-outline', onclick: () => setKey('') }, 'Lock'),
            );
            return;
        }
        const input = h('input', {
            id: 'console-key',
            class: 'input input-sm',
            type: 'password',
            autocomplete: 'off',
            spellcheck: 'false',
            'aria-describedby': 'console-key-hint console-key-error',
        });
        const error = h('p', { class: 'field-error', id: 'console-key-error', role: 'alert', hidden: !message }, message || '');
        const form = h(
            'form',
            { class: 'key-form', id: formId, hidden: !message },
            h('label', { for: 'console-key' }, 'Console key'),
            input,
            h('button', { type: 'submit', class: 'btn btn-sm btn-primary' }, 'Unlock'),
            h('p', { class: 'hint', id: 'console-key-hint' }, 'tandem up wrote it to var/tandem/console.secret in the project.'),
            error,
        );
        form.addEventListener('submit', async (e) => {
            e.preventDefault();
            const k = input.value.trim();
            if (!k) {
                error.hidden = false;
                error.textContent = 'Paste the key first.';
                input.setAttribute('aria-invalid', 'true');
                return;
            }
            const res = await fetch('/api/console/key', { method: 'POST', headers: { 'x-console-key': k } }).catch(() => null);
            if (res?.status === 204) {
                setKey(k);
                return;
            }
            error.hidden = false;
            input.setAttribute('aria-invalid', 'true');
            error.textContent = !res ? 'The console could not be reached.'
                : res.status === 403 ? 'That is not the key: it changes at every tandem up.'
                : res.status === 503 ? 'Actions are off on this console (it has no key).'
                : `The console refused it (${res.status}).`;
        });
        const toggle = h('button', {
            type: 'button',
            class: 'btn btn-sm btn-outline',
            'aria-expanded': String(!!message),
            'aria-controls': formId,
            onclick: () => {
                form.hidden = !form.hidden;
                toggle.setAttribute('aria-expanded', String(!form.hidden));
                if (!form.hidden) input.focus();
            },
        }, 'Unlock actions');
        replace(box, h('span', { class: 'key-state' }, 'Actions locked'), toggle, form);
        if (message) queueMicrotask(() => input.focus());
    }
    const redraw = () => draw();
    changes.add(redraw);
    openForm = (message) => draw(message);
    signal.addEventListener('abort', () => {
        changes.delete(redraw);
        openForm = null;
    }, { once: true });
    draw();
    return box;
}

// fn(key) whenever the key changes, until signal aborts.
export function onKey(fn, signal) {
    changes.add(fn);
    signal.addEventListener('abort', () => changes.delete(fn), { once: true });
}

// Asks for the key (opens the form) when there is none; true when there is one.
export function needKey() {
    if (getKey()) return true;
    openForm?.('Actions need the console key.');
    return false;
}
