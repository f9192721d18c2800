// The blog in a browser (Debian's chromium driven by playwright-core) against the real services
// behind the test gateway (web.mjs): the whole journey of two users, validation errors by field,
// what other users may not see, XSS payloads that must run nothing, and the comments service
// stopped and started under an open article page.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, register, sleep, waitFor } from './lib.mjs';
import { blog, launchChromium, watch } from './web.mjs';

let b, browser;

before(async () => {
    b = await blog('web-ui');
    browser = await launchChromium();
});

after(async () => {
    await browser?.close();
    await b?.close();
});

// A new browser context (own storage: a signed-out visitor) and a watched page in it.
async function visitor() {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = watch(await context.newPage(), b.url);
    page.setDefaultTimeout(15000);
    return page;
}

function noProblems(page) {
    assert.deepEqual(page.problems, [], 'page errors, console errors, dialogs or foreign requests');
}

const uniq = (p) => `${p}${process.pid}x${Math.floor(Math.random() * 1e6)}`;

async function signUp(page, name) {
    await page.goto(`${b.url}/register`);
    await page.getByLabel('Username').fill(name);
    await page.getByLabel('Email').fill(`${name}@example.com`);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).waitFor();
}

// Signs user ({email, password}) in through the form.
async function signIn(page, user) {
    await page.goto(`${b.url}/login`);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'New article' }).waitFor();
}

// Reloads until the locator shows (for what the services learn from events, a moment later).
async function eventually(page, locator, what) {
    await waitFor(async () => {
        if (await locator.count()) return true;
        await page.reload();
        await page.waitForLoadState('networkidle');
        return (await locator.count()) > 0;
    }, what, { timeout: 20000, interval: 300 });
}

test('the journey: sign up, write, tags, favorite, follow, feed, comment, settings, log out, log in', async () => {
    const alice = uniq('alice');
    const bob = uniq('bob');
    const tag = uniq('tag');
    const title = `Tandem rides ${process.pid}`;
    const a = await visitor();

    await a.goto(b.url);
    await a.getByRole('link', { name: 'Global Feed' }).waitFor();
    await signUp(a, alice);

    // The editor: tags as pills (Enter and comma), one removed again.
    await a.getByRole('link', { name: 'New article' }).click();
    await a.getByLabel('Title').fill(title);
    await a.getByLabel("What's this article about?").fill('Two riders, one bicycle');
    await a.getByLabel('Article (Markdown)').fill('## Who steers\n\nThe **captain** steers.\n\n- say stopping\n- say coasting\n');
    const tags = a.getByLabel('Tags', { exact: true });
    await tags.fill(tag);
    await tags.press('Enter');
    await tags.fill('cycling,');
    await tags.type('mistake');
    await tags.press('Enter');
    await a.getByRole('button', { name: 'Remove tag mistake' }).click();
    assert.deepEqual(await a.locator('.editable .tag').allTextContents(), [tag, 'cycling']);
    await a.getByRole('button', { name: 'Publish article' }).click();

    await a.waitForURL(/\/article\/tandem-rides/);
    await a.getByRole('heading', { level: 1, name: title }).waitFor();
    assert.equal(await a.locator('.article-body h2').textContent(), 'Who steers');
    assert.equal(await a.locator('.article-body strong').textContent(), 'captain');
    assert.equal(await a.locator('.article-body li').count(), 2);
    assert.deepEqual(await a.locator('.article-end .tag').allTextContents(), ['cycling', tag]);
    await a.getByRole('link', { name: 'Edit article' }).waitFor();
    const slug = a.url().split('/article/')[1];

    // In the global feed, and under its tag (from the popular tags).
    await a.getByRole('link', { name: 'Home' }).click();
    await a.getByRole('link', { name: 'Global Feed' }).click();
    const preview = a.locator('.preview', { hasText: title });
    await preview.waitFor();
    await a.locator('.sidebar').getByRole('link', { name: tag }).click();
    await a.getByRole('link', { name: `#${tag}` }).waitFor();
    await preview.waitFor();
    assert.equal(await a.locator('.preview').count(), 1);

    // Favorite it from the preview.
    const fav = preview.getByRole('button', { name: /Favorite/ });
    assert.equal(await fav.getAttribute('aria-pressed'), 'false');
    await fav.click();
    await waitFor(async () => (await fav.getAttribute('aria-pressed')) === 'true', 'favorited');
    assert.equal(await fav.locator('.count').textContent(), '1');
    noProblems(a);

    // Bob: follows alice from her article, finds it in Your Feed.
    const p = await visitor();
    await signUp(p, bob);
    await p.goto(`${b.url}/article/${slug}`);
    await p.getByRole('heading', { level: 1, name: title }).waitFor();
    await p.getByRole('button', { name: `Follow ${alice}` }).click();
    await p.getByRole('button', { name: `Unfollow ${alice}` }).waitFor();
    await p.goto(`${b.url}/?feed=yours`);
    await p.getByRole('link', { name: 'Your Feed', exact: true }).waitFor();
    await eventually(p, p.locator('.preview', { hasText: title }), 'the article in bob\'s feed');

    // Bob comments, then deletes his comment.
    await p.goto(`${b.url}/article/${slug}`);
    const text = `A fine ride, ${bob}!`;
    await p.getByLabel('Write a comment').fill(text);
    await p.getByRole('button', { name: 'Post comment' }).click();
    const comment = p.locator('.comment', { hasText: text });
    await comment.waitFor();
    await comment.getByRole('button', { name: 'Delete comment' }).click();
    await comment.waitFor({ state: 'detached' });
    await p.getByText('No comments yet.').waitFor();
    const r = await api(b.url, 'GET', `/api/articles/${slug}/comments`);
    assert.deepEqual(r.json.comments, []);

    // The beacons reached the activity service: page views counted, bob's read of the article
    // in his recent activity (sent once its end had been on screen for 3 s).
    await waitFor(async () => {
        const t = await api(b.url, 'GET', '/api/activity/totals', { unchecked: true });
        return t.status === 200 && t.json.events['activity.page_viewed'] >= 10;
    }, 'page views counted', { timeout: 20000, interval: 500 });
    await waitFor(async () => {
        const ans = await api(b.url, 'GET', `/api/activity/users/${bob}`, { unchecked: true });
        return ans.status === 200 && ans.json.activity.some((x) => x.type === 'activity.article_read' && x.article?.slug === slug);
    }, 'bob\'s read of the article', { timeout: 20000, interval: 500 });

    // Bob favorites the article; his profile's favorites list has it.
    await p.getByRole('button', { name: 'Favorite' }).click();
    await p.getByRole('button', { name: 'Unfavorite' }).waitFor();
    await p.goto(`${b.url}/profile/${bob}/favorites`);
    await p.locator('.preview', { hasText: title }).waitFor();
    await p.goto(`${b.url}/profile/${alice}`);
    await p.locator('.preview', { hasText: title }).waitFor();
    await p.getByRole('button', { name: `Unfollow ${alice}` }).waitFor();

    // Settings: a bio, shown on the profile; then log out, and in again.
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await p.getByLabel('Bio').fill('Stoker at the back.');
    await p.getByRole('button', { name: 'Update settings' }).click();
    await p.waitForURL(new RegExp(`/profile/${bob}$`));
    await p.locator('.bio', { hasText: 'Stoker at the back.' }).waitFor();
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    assert.equal(await p.getByLabel('Bio').inputValue(), 'Stoker at the back.');
    await p.getByRole('button', { name: 'Log out' }).click();
    await p.getByRole('link', { name: 'Sign in' }).waitFor();
    assert.equal(await p.evaluate(() => localStorage.getItem('jwtToken')), null);
    await p.getByRole('link', { name: 'Sign in' }).click();
    await p.getByLabel('Email').fill(`${bob}@example.com`);
    await p.getByLabel('Password').fill('correct horse battery');
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: bob }).waitFor();
    assert.match(await p.evaluate(() => localStorage.getItem('jwtToken')), /^ey/);
    noProblems(p);

    await a.context().close();
    await p.context().close();
});

test('validation errors are shown beside their fields; a refused login above the form', async () => {
    const page = await visitor();
    const taken = await register(b.url, 'taken');
    await page.goto(`${b.url}/register`);
    await page.getByRole('button', { name: 'Sign up' }).click();
    for (const label of ['Username', 'Email', 'Password']) {
        const input = page.getByLabel(label, { exact: true });
        await waitFor(async () => (await input.getAttribute('aria-invalid')) === 'true', `${label} invalid`);
        const id = (await input.getAttribute('aria-describedby')).split(' ').find((x) => x.endsWith('-err'));
        // (users answers an empty password "is too short": it has a minimum, not a blank rule)
        assert.match(await page.locator(`#${id}`).textContent(), new RegExp(`^${label} (can't be blank|is too short)`));
    }
    // Taken username and e-mail, a short password.
    await page.getByLabel('Username').fill(taken.username);
    await page.getByLabel('Email').fill(taken.email);
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.locator('.field-error', { hasText: 'is too short' }).waitFor();
    const errors = await page.locator('.field-error:not([hidden])').allTextContents();
    assert.ok(errors.some((e) => /^Password is too short \(minimum is 8 characters\)/.test(e)), errors.join(' | '));
    // (the service checks the password before the uniqueness, as one request: now a good password)
    await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.locator('.field-error', { hasText: 'has already been taken' }).first().waitFor();
    const taken2 = await page.locator('.field-error:not([hidden])').allTextContents();
    assert.ok(taken2.some((e) => /^(Username|Email) has already been taken/.test(e)), taken2.join(' | '));

    // A refused login: 401 with errors {"email or password": ["is invalid"]}, above the form.
    await page.goto(`${b.url}/login`);
    await page.getByLabel('Email').fill(taken.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.error-messages', { hasText: 'email or password is invalid' }).waitFor();

    // The editor's fields.
    await page.getByLabel('Password').fill(taken.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'New article' }).click();
    await page.getByRole('button', { name: 'Publish article' }).click();
    for (const label of ['Title', "What's this article about?", 'Article (Markdown)']) {
        const input = page.getByLabel(label, { exact: true });
        await waitFor(async () => (await input.getAttribute('aria-invalid')) === 'true', `${label} invalid`);
    }
    noProblems(page);
    await page.context().close();
});

test('edit and delete controls are only the author\'s', async () => {
    const author = await register(b.url, 'owner');
    const other = await register(b.url, 'other');
    const { json } = await api(b.url, 'POST', '/api/articles', {
        token: author.token,
        body: { article: { title: `Mine ${process.pid}`, description: 'd', body: 'b' } },
    });
    const slug = json.article.slug;
    await api(b.url, 'POST', `/api/articles/${slug}/comments`, { token: author.token, body: { comment: { body: 'the author speaks' } } });
    await api(b.url, 'POST', `/api/articles/${slug}/comments`, { token: other.token, body: { comment: { body: 'another speaks' } } });

    const page = await visitor();
    await signIn(page, other);
    await page.goto(`${b.url}/article/${slug}`);
    await page.locator('.comment', { hasText: 'another speaks' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Edit article' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Delete article' }).count(), 0);
    await page.getByRole('button', { name: `Follow ${author.username}` }).waitFor();
    assert.equal(await page.locator('.comment', { hasText: 'the author speaks' }).getByRole('button', { name: 'Delete comment' }).count(), 0);
    assert.equal(await page.locator('.comment', { hasText: 'another speaks' }).getByRole('button', { name: 'Delete comment' }).count(), 1);
    // The editor refuses another's article too.
    await page.goto(`${b.url}/editor/${slug}`);
    await page.getByText('You are not allowed to do that.').waitFor();
    // Signed out: no comment form, an invitation to sign in.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.goto(`${b.url}/article/${slug}`);
    await page.getByText('to add comments on this article.').waitFor();
    assert.equal(await page.getByLabel('Write a comment').count(), 0);

    // The author deletes the article from its page (a confirmation first, no dialog).
    await signIn(page, author);
    await page.goto(`${b.url}/article/${slug}`);
    await page.getByRole('button', { name: 'Delete article' }).click();
    await page.getByRole('button', { name: 'Yes, delete it' }).click();
    await page.waitForURL(`${b.url}/`);
    assert.equal((await api(b.url, 'GET', `/api/articles/${slug}`)).status, 404);
    noProblems(page);
    await page.context().close();
});

test('XSS: scripts, event handlers and javascript: links in an article and a comment run nothing', async () => {
    const evil = await register(b.url, 'evil');
    const payloads = [
        '<script>window.__xss = 1; alert("script")</script>',
        '<img src="x" onerror="window.__xss = 2; alert(\'img\')">',
        '[a markdown link](javascript:window.__xss=3;alert("md"))',
        '<a href="javascript:window.__xss=4;alert(\'a\')">an html link</a>',
        '<a href="JaVaScRiPt&colon;alert(5)">encoded</a>',
        '<svg><g onload="alert(6)"></g></svg><iframe src="javascript:alert(7)"></iframe>',
        '<div onmouseover="alert(8)" style="position:fixed;inset:0">hover</div>',
        '<form action="javascript:alert(9)"><button>go</button></form>',
        '![img](javascript:alert(10))',
        '![plain http, another origin](http://198.51.100.7/x.png)',
    ].join('\n\n');
    // A picture that is a script: shown as the initial, never as an image.
    const put = await api(b.url, 'PUT', '/api/user', { token: evil.token, body: { user: { image: 'javascript:alert(14)' } } });
    assert.equal(put.status, 200);
    const title = `<img src=x onerror=alert(11)> Evil ${process.pid}`;
    const { json } = await api(b.url, 'POST', '/api/articles', {
        token: evil.token,
        body: { article: { title, description: '<script>alert(12)</script>', body: payloads, tagList: ['<b onmouseover=alert(13)>x</b>'] } },
    });
    const slug = json.article.slug;
    const c = await api(b.url, 'POST', `/api/articles/${slug}/comments`, { token: evil.token, body: { comment: { body: payloads } } });
    assert.equal(c.status, 200);

    const page = await visitor();
    await page.goto(`${b.url}/article/${slug}`);
    await page.getByRole('heading', { level: 1, name: title }).waitFor();
    await page.locator('.comment').waitFor();
    await page.locator('.article-body').hover();
    for (const link of await page.locator('.article-body a').all()) await link.click({ force: true }).catch(() => {});
    await sleep(300);
    const found = await page.evaluate(() => ({
        xss: window.__xss,
        scripts: document.querySelectorAll('main script, main iframe, main form, main svg g[onload]').length,
        handlers: [...document.querySelectorAll('main *')].filter((el) => [...el.attributes].some((a) => /^on/i.test(a.name))).length,
        jsLinks: [...document.querySelectorAll('main [href], main [src], main [action]')].filter((el) =>
            /^\s*javascript:/i.test(el.getAttribute('href') || el.getAttribute('src') || el.getAttribute('action') || '')).length,
        styles: document.querySelectorAll('.article-body [style]').length,
        comment: document.querySelector('.comment-body').textContent,
        body: document.querySelector('.article-body').textContent,
        images: document.querySelectorAll('main img').length,
    }));
    assert.equal(found.xss, undefined);
    assert.equal(found.scripts, 0);
    assert.equal(found.handlers, 0);
    assert.equal(found.jsLinks, 0);
    assert.equal(found.styles, 0);
    assert.ok(found.comment.includes('<script>window.__xss = 1;'), 'the comment is shown as text');
    assert.ok(found.body.includes('<img src="x" onerror='), 'HTML in the Markdown is shown as text');
    assert.ok(found.body.includes('plain http, another origin'), 'an image the page may not load is its text');
    assert.equal(found.images, 0);
    // The previews: title, description and tag as text.
    await page.goto(`${b.url}/profile/${evil.username}`);
    await page.locator('.preview h2', { hasText: 'Evil' }).waitFor();
    assert.equal(await page.locator('.preview img').count(), 0);
    assert.equal(await page.locator('.preview .tag').first().textContent(), '<b onmouseover=alert(13)>x</b>');
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    noProblems(page);
    await page.context().close();
});

test('comments down: the article shows with a notice; back up: the list returns without a reload', async () => {
    const u = await register(b.url, 'resilient');
    const { json } = await api(b.url, 'POST', '/api/articles', {
        token: u.token,
        body: { article: { title: `Still here ${process.pid}`, description: 'd', body: 'The **body** stays.' } },
    });
    const slug = json.article.slug;
    await api(b.url, 'POST', `/api/articles/${slug}/comments`, { token: u.token, body: { comment: { body: 'survives the outage' } } });

    await b.stop('comments');
    const page = await visitor();
    await signIn(page, u);
    await page.goto(`${b.url}/article/${slug}`);
    await page.getByRole('heading', { level: 1, name: `Still here ${process.pid}` }).waitFor();
    assert.equal(await page.locator('.article-body strong').textContent(), 'body');
    await page.getByText('Comments are unavailable right now.').waitFor();
    assert.equal(await page.getByLabel('Write a comment').count(), 0, 'no form while comments are down');
    const navigations = [];
    page.on('framenavigated', (f) => f === page.mainFrame() && navigations.push(f.url()));

    await b.start('comments');
    await page.locator('.comment', { hasText: 'survives the outage' }).waitFor({ timeout: 40000 });
    await page.getByLabel('Write a comment').waitFor();
    assert.equal(await page.getByText('Comments are unavailable right now.').count(), 0);
    assert.deepEqual(navigations, [], 'no reload');
    noProblems(page);
    await page.context().close();
});

test('a token the API refuses: signed out with a notice, the page shown as to a visitor', async () => {
    const page = await visitor();
    await page.goto(`${b.url}/login`);
    await page.evaluate(() => {
        localStorage.setItem('jwtToken', 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl');
        localStorage.setItem('user', JSON.stringify({ username: 'ghost', email: 'ghost@example.com', bio: '', image: '' }));
    });
    await page.goto(`${b.url}/`);
    await page.getByText('Your session has ended.').waitFor();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();
    await page.locator('.preview').first().waitFor();
    assert.equal(await page.locator('.error-box').count(), 0);
    assert.equal(await page.evaluate(() => localStorage.getItem('jwtToken')), null);
    noProblems(page);
    await page.context().close();
});

test('an API that fails is a message, never a blank page', async () => {
    const page = await visitor();
    await b.stop('articles');
    await page.goto(b.url);
    await page.locator('.article-list .error-box', { hasText: 'unavailable right now' }).waitFor();
    await page.locator('.sidebar .error-box').waitFor();
    await page.goto(`${b.url}/article/nothing-here`);
    await page.getByRole('heading', { name: 'The article could not be loaded' }).waitFor();
    await b.start('articles');
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.getByRole('heading', { name: 'Article not found' }).waitFor();
    await page.goto(`${b.url}/no/such/page`);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    noProblems(page);
    await page.context().close();
});
