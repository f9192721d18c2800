// tests/blog/gateway.mjs: a small stand-in for the tandem gateway, for the web tests and bench.
//
// The blog's routes as docs/blog.md lists them (the nginx gateway of `tandem up` routes the same
// way): /api/users, /api/user, /api/profiles -> users; /api/articles/<slug>/comments[/...] ->
// comments; /api/articles, /api/tags -> articles; /api/activity -> activity; anything else ->
// web. Like the real gateway, a service that is not running (unknown, or refusing connections)
// is answered 503 application/problem+json with Retry-After: 2. Upstreams are looked up at each
// request, so a test may stop a service and start it again on another port (setUpstream).
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export function serviceOf(pathname) {
    if (/^\/api\/(users|user|profiles)(\/|$)/.test(pathname)) return 'users';
    if (/^\/api\/articles\/[^/]+\/comments(\/|$)/.test(pathname)) return 'comments';
    if (/^\/api\/(articles|tags)(\/|$)/.test(pathname)) return 'articles';
    if (/^\/api\/activity(\/|$)/.test(pathname)) return 'activity';
    return 'web';
}

function unavailable(res, name) {
    if (res.headersSent) {
        res.destroy();
        return;
    }
    const body = JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: `${name} is unavailable` });
    res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '2', 'content-length': Buffer.byteLength(body) });
    res.end(body);
}

export class Gateway {
    constructor() {
        this.upstreams = new Map(); // name -> port
        this.requests = []; // {method, url, service, status}
    }

    setUpstream(name, port) {
        if (port) this.upstreams.set(name, port);
        else this.upstreams.delete(name);
    }

    // Listens on 127.0.0.1:port; resolves the base URL.
    async listen(port) {
        this.server = http.createServer((req, res) => this.#forward(req, res));
        this.server.keepAliveTimeout = 5000;
        await new Promise((resolve, reject) => {
            this.server.once('error', reject);
            this.server.listen(port, '127.0.0.1', resolve);
        });
        this.url = `http://127.0.0.1:${this.server.address().port}`;
        return this.url;
    }

    #forward(req, res) {
        const pathname = (req.url || '/').split('?')[0];
        const name = serviceOf(pathname);
        const port = this.upstreams.get(name);
        const entry = { method: req.method, url: req.url, service: name, status: 0 };
        this.requests.push(entry);
        res.on('finish', () => (entry.status = res.statusCode));
        if (!port) {
            req.resume();
            unavailable(res, name);
            return;
        }
        const headers = { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress };
        const up = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers, agent }, (ur) => {
            res.writeHead(ur.statusCode, ur.headers);
            ur.pipe(res);
        });
        up.on('error', () => unavailable(res, name));
        req.pipe(up);
    }

    async close() {
        agent.destroy();
        if (!this.server) return;
        this.server.closeAllConnections();
        await new Promise((resolve) => this.server.close(resolve));
    }
}
