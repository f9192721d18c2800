// tests/blog/web.mjs: what the web tests share: the whole blog behind a gateway, and pages that
// record everything that must not happen in a browser.
//
// blog(name, {demo}) starts a System (lib.mjs) with the broker (its four topics made first) and
// the users, articles, comments, activity and web services, and a Gateway (gateway.mjs) in front; it resolves {sys, gw, url,
// services, restart(name)}. watch(page, url) records on page.problems every page error (an
// uncaught exception), console error (other than the browser's own "Failed to load resource"
// line for an API answer the page handled), dialog (alert, confirm: what an XSS payload would
// open) and request to another origin.
import fs from 'node:fs';
import path from 'node:path';
import { BIN, freePort, ROOT, System } from './lib.mjs';
import { Gateway } from './gateway.mjs';
import kafkajs from 'kafkajs';

export const { launchChromium, AXE } = await import(path.join(ROOT, 'web', 'chromium.mjs'));

export const SCREENSHOTS = path.join(BIN, '..', 'screenshots');

export async function blog(name, { demo = false, services = ['users', 'articles', 'comments', 'activity'] } = {}) {
    const sys = new System(name);
    const gw = new Gateway();
    const url = await gw.listen(freePort());
    await sys.broker();
    // The topics first: a consumer that subscribes to a topic not made yet only sees it at its
    // next metadata refresh (librdkafka: 5 minutes), and would miss what is published meanwhile.
    const kafka = new kafkajs.Kafka({ brokers: [sys.brokers], logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: ['users', 'articles', 'comments', 'activity'].map((topic) => ({ topic, numPartitions: 1 })), waitForLeaders: true });
    await admin.disconnect();
    const running = {};
    const envOf = (s) => (s === 'comments' && running.articles ? { TANDEM_ARTICLES_URL: running.articles.url } : {});
    for (const s of services) {
        running[s] = await sys.service(s, { env: envOf(s) });
        gw.setUpstream(s, running[s].port);
    }
    const webEnv = { TANDEM_DEMO_DATA: demo ? 'on' : 'off', TANDEM_GATEWAY: url };
    running.web = await sys.service('web', { env: webEnv });
    gw.setUpstream('web', running.web.port);
    let serial = 0;
    return {
        sys,
        gw,
        url,
        running,
        // Stops a service (the gateway answers 503 for it meanwhile).
        async stop(svc) {
            await sys.stop(running[svc].entry);
            gw.setUpstream(svc, null);
        },
        // Starts it again on the same port (as a new instance number, so its log is a new file).
        async start(svc, env = svc === 'web' ? webEnv : envOf(svc)) {
            const port = running[svc].port;
            const started = await sys.service(svc, { instance: ++serial, env: { ...env, TANDEM_LISTEN: `127.0.0.1:${port}` } });
            running[svc] = { ...started, port, url: `http://127.0.0.1:${port}` };
            gw.setUpstream(svc, running[svc].port);
            return running[svc];
        },
        async close() {
            await gw.close();
            await sys.close();
        },
    };
}

export function watch(page, origin) {
    page.problems = [];
    page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
        if (m.type() !== 'error') return;
        const loc = m.location()?.url || '';
        // The browser's own line for an answer that was an error status: expected for an API
        // error the page handled, or a page address that does not exist (404 + the app's page);
        // never for the app's own files.
        if (/^Failed to load resource: the server responded with a status of \d+/.test(m.text()) && loc.startsWith(origin) && !loc.startsWith(`${origin}/assets/`)) return;
        page.problems.push(`console error: ${m.text()} (${loc})`);
    });
    page.on('dialog', (d) => {
        page.problems.push(`dialog: ${d.type()} ${d.message()}`);
        d.dismiss().catch(() => {});
    });
    page.on('request', (r) => {
        const u = r.url();
        if (!u.startsWith(origin) && !u.startsWith('data:')) page.problems.push(`request to another origin: ${u}`);
    });
    return page;
}

export function saveScreenshot(name) {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    return path.join(SCREENSHOTS, `${name}.png`);
}

// The serious and critical axe-core violations on a loaded page, each as one readable line
// prefixed by label (the page's name).
export async function axeViolations(page, label) {
    await page.addScriptTag({ path: AXE });
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    return result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${label}: ${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 4).join(', ')}`);
}
