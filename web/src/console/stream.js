// stream.js: the console's one server-sent event stream (GET /api/console/stream), shared by its
// pages: "status" once a second (processes, services' figures, topics, groups, the map),
// "events" as records flow (summaries), "actions" (the recent ones, at connection) and "action"
// (one that ended). The browser's EventSource reconnects by itself; the pages hear "state"
// ("live", "reconnecting") to say so. The stream stays open while a console page listens, and
// closes a moment after the last one left (moving between console pages keeps it).

const listeners = new Map(); // kind -> Set(fn)
let source = null;
let closing = 0;
let last = null; // the newest status
let state = 'connecting';

function emit(kind, data) {
    for (const fn of listeners.get(kind) || []) {
        try {
            fn(data);
        } catch (e) {
            queueMicrotask(() => {
                throw e;
            });
        }
    }
}

function setState(s) {
    if (s === state) return;
    state = s;
    emit('state', s);
}

function open() {
    clearTimeout(closing);
    if (source) return;
    source = new EventSource('/api/console/stream');
    source.addEventListener('open', () => setState('live'));
    source.addEventListener('error', () => setState(source?.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'));
    for (const kind of ['status', 'events', 'action', 'actions']) {
        source.addEventListener(kind, (e) => {
            let data;
            try {
                data = JSON.parse(e.data);
            } catch {
                return;
            }
            if (kind === 'status') last = data;
            setState('live');
            emit(kind, data);
        });
    }
}

function maybeClose() {
    let n = 0;
    for (const set of listeners.values()) n += set.size;
    if (n > 0 || !source) return;
    clearTimeout(closing);
    closing = setTimeout(() => {
        source?.close();
        source = null;
        state = 'connecting';
    }, 1500);
}

// Calls fn(data) for each message of kind until signal aborts; "status" is also delivered at
// once when one is known, "state" with the current state.
export function listen(kind, fn, signal) {
    if (!listeners.has(kind)) listeners.set(kind, new Set());
    listeners.get(kind).add(fn);
    open();
    if (kind === 'status' && last) queueMicrotask(() => listeners.get(kind)?.has(fn) && fn(last));
    if (kind === 'state') queueMicrotask(() => listeners.get(kind)?.has(fn) && fn(state));
    signal.addEventListener('abort', () => {
        listeners.get(kind)?.delete(fn);
        maybeClose();
    }, { once: true });
}

export const latest = () => last;
