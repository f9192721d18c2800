// bench/web/fcp.mjs: how fast the blog's home page paints, and how many bytes it costs.
//
//   node bench/web/fcp.mjs          (BUILD=build: a release build; RUNS=9 page loads; waits up to
//                                    WAIT_QUIET=600 s for a 1-minute load average below 0.5)
//
// Starts the blog from $BUILD/bin (broker, users, articles, comments, activity, web with its demo
// data) behind the tests' stand-in gateway (tests/blog/gateway.mjs: a Node reverse proxy on
// 127.0.0.1), then loads the home page RUNS times in headless chromium (Debian's, through
// playwright-core: web/chromium.mjs), each time in a new browser context: an empty cache, no
// cookies, no storage (a first visit). For each load it reads first-contentful-paint from the
// Paint Timing API, the time the first article preview was in the page (a MutationObserver
// installed before the page's scripts), and the bytes of JavaScript and CSS transferred
// (Resource Timing's encodedBodySize: gzip as sent). Prints medians and writes the rows to
// bench/results/web-<UTC time>.csv and the table to .md. Targets: FCP <= 300 ms; the app's
// JavaScript + CSS, gzip, <= 80 KiB (all of it, the article page's Markdown chunk included).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD = path.resolve(ROOT, process.env.BUILD || 'build');
const RUNS = Number(process.env.RUNS || 9);
process.env.TANDEM_TEST_BIN = path.join(BUILD, 'bin');
for (const b of ['broker', 'users', 'articles', 'comments', 'activity', 'web']) {
    if (!fs.existsSync(path.join(BUILD, 'bin', `tandem-${b}`))) {
        console.error(`bench/web: ${BUILD}/bin/tandem-${b} is missing (make build first)`);
        process.exit(2);
    }
}
const { waitFor } = await import(path.join(ROOT, 'tests', 'blog', 'lib.mjs'));
const { blog, launchChromium } = await import(path.join(ROOT, 'tests', 'blog', 'web.mjs'));

const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// The whole app's JavaScript and CSS, gzip, as built (what the service sends to a browser).
function appBytes() {
    const dir = path.join(BUILD, 'share', 'tandem', 'web', 'assets');
    let total = 0;
    for (const f of fs.readdirSync(dir)) {
        if (!/\.(js|css)$/.test(f)) continue;
        const gz = path.join(dir, `${f}.gz`);
        total += fs.statSync(fs.existsSync(gz) ? gz : path.join(dir, f)).size;
    }
    return total;
}

// Like bench/quiet.sh: wait (up to WAIT_QUIET seconds, 600) for a 1-minute load average below
// 0.5, so that a build or another benchmark does not slow the browser down; then measure anyway.
const quietFor = Number(process.env.WAIT_QUIET ?? 600);
for (let waited = 0; os.loadavg()[0] >= 0.5; waited += 10) {
    if (waited >= quietFor) {
        console.error(`bench/web: WARNING load ${os.loadavg()[0].toFixed(2)} still >= 0.5 after ${waited} s; measuring anyway`);
        break;
    }
    if (waited % 60 === 0) console.error(`bench/web: waiting for a quiet machine (load ${os.loadavg()[0].toFixed(2)})`);
    await new Promise((r) => setTimeout(r, 10000));
}

const b = await blog('bench-web', { demo: true });
let browser;
const rows = [];
try {
    await waitFor(() => fs.existsSync(path.join(b.sys.dir, 'web', 'demo-data.done')), 'the demo data', { timeout: 180000, interval: 250 });
    browser = await launchChromium();
    for (let i = 0; i < RUNS + 1; i++) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const page = await context.newPage();
        await page.addInitScript(() => {
            new MutationObserver((_, obs) => {
                if (document.querySelector('.preview')) {
                    window.__previewAt = performance.now();
                    obs.disconnect();
                }
            }).observe(document, { childList: true, subtree: true });
        });
        await page.goto(`${b.url}/`, { waitUntil: 'load' });
        await page.waitForSelector('.preview');
        await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0);
        const m = await page.evaluate(() => {
            const fcp = performance.getEntriesByName('first-contentful-paint')[0].startTime;
            const res = performance.getEntriesByType('resource').filter((r) => /\/assets\/.*\.(js|css)$/.test(r.name));
            const nav = performance.getEntriesByType('navigation')[0];
            return { fcp, preview: window.__previewAt, bytes: res.reduce((a, r) => a + r.encodedBodySize, 0), files: res.length, ttfb: nav.responseStart };
        });
        await context.close();
        if (i > 0) rows.push(m); // the first load warms the services and the OS, not the browser
    }
} finally {
    await browser?.close();
    await b.close();
}

const load = os.loadavg()[0].toFixed(2);
const table = [
    '| measure | median | min | max |',
    '|---|---|---|---|',
    ...[
        ['first contentful paint (ms)', 'fcp'],
        ['first article preview in the page (ms)', 'preview'],
        ['index.html first byte (ms)', 'ttfb'],
    ].map(([name, k]) => {
        const v = rows.map((r) => r[k]);
        return `| ${name} | ${median(v).toFixed(1)} | ${Math.min(...v).toFixed(1)} | ${Math.max(...v).toFixed(1)} |`;
    }),
    `| home page JS + CSS transferred (gzip bytes, ${rows[0].files} files) | ${median(rows.map((r) => r.bytes))} | | |`,
    `| the whole app's JS + CSS (gzip bytes, Markdown chunk included) | ${appBytes()} | | |`,
];
const head = `bench/web/fcp.mjs: ${RUNS} cold loads of the home page (demo data), headless chromium ${os.cpus().length} CPUs, load average ${load}, ${new Date().toISOString()}`;
console.log(`${head}\n\n${table.join('\n')}`);
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const out = path.join(ROOT, 'bench', 'results', `web-${stamp}`);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(`${out}.csv`, ['run,fcp_ms,preview_ms,ttfb_ms,js_css_bytes', ...rows.map((r, i) => `${i + 1},${r.fcp.toFixed(1)},${r.preview.toFixed(1)},${r.ttfb.toFixed(1)},${r.bytes}`)].join('\n') + '\n');
fs.writeFileSync(`${out}.md`, `${head}\n\n${table.join('\n')}\n`);
console.log(`\nraw: ${path.relative(ROOT, out)}.csv`);
const fcp = median(rows.map((r) => r.fcp));
process.exitCode = fcp <= 300 && appBytes() <= 80 * 1024 ? 0 : 1;
