// beacon.js: what readers do, sent to the activity service (POST /api/activity/events).
//
// Fire-and-forget: events wait in a queue for at most a second, then leave in one batch (at
// most 50) with fetch's keepalive, which lets the request outlive the page and carries the
// token (navigator.sendBeacon cannot send an Authorization header); the queue is also flushed
// when the page is hidden or left. Nothing awaits the answer, and a failure (the activity
// service down, the network gone) is dropped without a trace: activity is never worth an
// error in front of the reader, nor a delay of a navigation.
import { session } from './api.js';

const MAX_BATCH = 50;
const queue = [];
let timer = 0;

// One identifier per browser for visitors who are not signed in (the service keys their events
// by it). Letters, digits and '-': what the service accepts.
function anonymousId() {
    try {
        let id = localStorage.getItem('anonymousId');
        if (!id) {
            id = crypto.randomUUID();
            localStorage.setItem('anonymousId', id);
        }
        return id;
    } catch {
        return 'anonymous';
    }
}

// type: "page_view", "click" or "article_read"; slug: the article concerned, if any.
export function track(type, slug) {
    const ev = { type, path: location.pathname, at: new Date().toISOString() };
    if (slug) ev.slug = slug;
    queue.push(ev);
    if (queue.length >= MAX_BATCH) flush();
    else if (!timer) timer = setTimeout(flush, 1000);
}

export function flush() {
    clearTimeout(timer);
    timer = 0;
    while (queue.length) {
        const events = queue.splice(0, MAX_BATCH);
        const headers = { 'content-type': 'application/json' };
        if (session.user?.token) headers.authorization = `Token ${session.user.token}`;
        try {
            fetch('/api/activity/events', {
                method: 'POST',
                keepalive: true,
                headers,
                body: JSON.stringify({ anonymousId: anonymousId(), events }),
            }).catch(() => {});
        } catch {
            /* a browser that refuses the request outright: dropped, like any failed beacon */
        }
    }
}

addEventListener('pagehide', flush);
document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') flush();
});
