// Every page of the blog, on a system that the web service filled with its demo data: axe-core
// finds no serious or critical accessibility violation in the light and the dark scheme, no page
// is wider than a phone's screen, and a screenshot of each page at desktop (1280x800) and phone
// (390x844) size (and desktop in the dark scheme) is saved under <build>/screenshots/. The
// desktop sets bypass the pages' Content-Security-Policy so that axe-core can be injected; the
// phone set keeps it, so a page that breaks its own policy fails there (a console error).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { api, waitFor } from './lib.mjs';
import { axeViolations, blog, launchChromium, saveScreenshot, SCREENSHOTS, watch } from './web.mjs';

let b, browser, maya;

before(async () => {
    b = await blog('web-pages', { demo: true });
    browser = await launchChromium();
    // The demo data, through the gateway, as the loader made it.
    await waitFor(async () => fs.existsSync(`${b.sys.dir}/web/demo-data.done`), 'the demo data', { timeout: 150000, interval: 500 });
    assert.equal(fs.readFileSync(`${b.sys.dir}/web/demo-data.done`, 'utf8'), 'loaded\n');
    const login = await api(b.url, 'POST', '/api/users/login', { body: { user: { email: 'maya@example.com', password: 'conduit-demo' } } });
    assert.equal(login.status, 200);
    maya = login.json.user;
    fs.rmSync(SCREENSHOTS, { recursive: true, force: true });
});

after(async () => {
    await browser?.close();
    await b?.close();
});

// The pages: [name, path, signed in as maya?, what shows once it is drawn, what to do first].
const PAGES = [
    ['home', '/', false, '.preview'],
    ['home-tag', '/?tag=cooking', false, '.preview'],
    ['home-page-2', '/?page=2', false, '.preview'],
    ['article', '/article/why-we-split-the-blog-into-four-services', false, '.comment'],
    ['article-code', '/article/the-outbox-pattern-in-forty-lines-of-sql', false, '.comment'],
    ['profile', '/profile/amara', false, '.preview'],
    ['profile-favorites', '/profile/amara/favorites', false, '.preview'],
    ['login', '/login', false, 'form'],
    ['register-errors', '/register', false, '.field-error:not([hidden])', async (page) => page.getByRole('button', { name: 'Sign up' }).click()],
    ['not-found', '/no/such/page', false, 'h1'],
    ['your-feed', '/?feed=yours', true, '.preview'],
    ['article-own', '/article/idempotent-consumers-or-how-to-survive-redelivery', true, '.comment-form'],
    ['editor-new', '/editor', true, 'form'],
    ['editor-edit', '/editor/idempotent-consumers-or-how-to-survive-redelivery', true, '.editable .tag'],
    ['settings', '/settings', true, 'form'],
    ['profile-own', '/profile/maya', true, '.preview'],
];

// Two browser contexts with opts (viewport, colour scheme): a visitor's, and maya's (her token in
// localStorage, as the app keeps it after signing in).
async function contexts(opts) {
    const { token, ...rest } = maya;
    const storage = { origins: [{ origin: b.url, localStorage: [{ name: 'jwtToken', value: token }, { name: 'user', value: JSON.stringify(rest) }] }] };
    return { guest: await browser.newContext(opts), member: await browser.newContext({ ...opts, storageState: storage }) };
}

async function open(ctx, [, path, signedIn, ready, action]) {
    const page = watch(await (signedIn ? ctx.member : ctx.guest).newPage(), b.url);
    page.setDefaultTimeout(20000);
    await page.goto(`${b.url}${path}`);
    if (action) await action(page);
    await page.locator(ready).first().waitFor();
    await waitFor(async () => (await page.locator('[aria-busy="true"], .loading').count()) === 0, `${path} drawn`);
    return page;
}

// Each page is opened once per set: its screenshot is taken first, then axe-core runs on the
// desktop sets (the phone set has the same markup).
const SETS = [
    ['desktop', { width: 1280, height: 800 }, 'light', true],
    ['desktop', { width: 1280, height: 800 }, 'dark', true],
    ['phone', { width: 390, height: 844 }, 'light', false],
];

for (const [size, viewport, scheme, axe] of SETS) {
    test(`every page at ${size} size, ${scheme} scheme: a screenshot, no wider than the screen${axe ? ', no serious or critical axe-core violation' : ''}`, async () => {
        const ctx = await contexts({ viewport, colorScheme: scheme, bypassCSP: axe });
        const found = [];
        for (const p of PAGES) {
            const page = await open(ctx, p);
            // Nothing wider than the screen: no sideways scrolling on a phone.
            const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
            assert.ok(overflow <= 0, `${p[0]} at ${size}: ${overflow}px wider than the screen`);
            await page.screenshot({ path: saveScreenshot(`${p[0]}-${size}-${scheme}`), fullPage: true });
            if (axe) found.push(...(await axeViolations(page, `${p[0]} (${scheme})`)));
            assert.deepEqual(page.problems, [], `${p[0]}: page problems`);
            await page.close();
        }
        await ctx.guest.close();
        await ctx.member.close();
        assert.deepEqual(found, []);
    });
}

test('a screenshot of every page in every set', () => {
    assert.equal(fs.readdirSync(SCREENSHOTS).length, PAGES.length * SETS.length);
});
