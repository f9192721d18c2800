// main.js: the blog's single-page app: the header, the routes, the start.
//
// index.html already holds the header with the brand and an empty <main>, so the first paint
// needs only the stylesheet; this module (deferred, as every module script is) draws the
// navigation for the session kept in localStorage, renders the page of the URL, and refreshes
// the user from GET /api/user in the background (a token the API refuses signs the user out).
import './style.css';
import { api, session } from './api.js';
import { track } from './beacon.js';
import { avatar, h, icon, profilePath, replace } from './dom.js';
import { clear, mountNotices, notify } from './notice.js';
import { article } from './pages/article.js';
import { login, register } from './pages/auth.js';
import { editor } from './pages/editor.js';
import { home } from './pages/home.js';
import { consolePage, notFound } from './pages/other.js';
import { profile } from './pages/profile.js';
import { settings } from './pages/settings.js';
import { match, navigate, onRender, route, start } from './router.js';

route('/', home);
route('/login', login, { guest: true });
route('/register', register, { guest: true });
route('/settings', settings, { auth: true });
route('/editor', editor, { auth: true });
route('/editor/:slug', editor, { auth: true });
route('/article/:slug', article);
route('/profile/:username', profile);
route('/profile/:username/favorites', (ctx) => profile(ctx, { favorites: true }));
route('/console/*', consolePage);

const nav = document.getElementById('nav');
const main = document.getElementById('main');
const notices = h('div', { class: 'notices', 'aria-live': 'assertive' });
main.before(notices);
mountNotices(notices);

function drawNav() {
    const here = location.pathname;
    const link = (href, ...label) =>
        h('li', null, h('a', { href, class: here === href ? 'active' : null, 'aria-current': here === href ? 'page' : null }, label));
    const u = session.user;
    replace(
        nav,
        h(
            'ul',
            null,
            link('/', 'Home'),
            u ? [
                link('/editor', icon('pen'), h('span', { class: 'nav-label' }, 'New article')),
                link('/settings', icon('gear'), h('span', { class: 'nav-label' }, 'Settings')),
                link(profilePath(u.username), avatar(u), h('span', { class: 'nav-user' }, u.username)),
            ] : [link('/login', 'Sign in'), link('/register', 'Sign up')],
        ),
    );
}

let controller = null;

function render({ push, first }) {
    controller?.abort();
    controller = new AbortController();
    const m = match(location.pathname);
    if (m?.opts.auth && !session.user) return navigate('/login', { replace: true });
    if (m?.opts.guest && session.user) return navigate('/', { replace: true });
    const ctx = { params: m?.params || {}, query: new URLSearchParams(location.search), signal: controller.signal };
    if (!first) clear();
    drawNav();
    replace(main, m ? m.page(ctx) : notFound());
    if (push) window.scrollTo(0, 0);
    if (!first) {
        const target = main.querySelector('h1') || main;
        target.tabIndex = -1;
        target.focus({ preventScroll: true });
    }
    track('page_view', m?.params.slug && location.pathname.startsWith('/article/') ? m.params.slug : undefined);
}

// Signed in or out (here, in a form, or by a refused token): redraw; a page that needs the
// other state moves on (the settings page after signing out goes to /login).
session.onChange(() => {
    const m = match(location.pathname);
    if ((m?.opts.auth && !session.user) || (m?.opts.guest && session.user)) render({ push: false });
    else drawNav();
});

// A failure no page handled is still shown as a message, never left in the console.
window.addEventListener('unhandledrejection', (e) => {
    e.preventDefault();
    notify(e.reason instanceof Error ? e.reason.message : 'Something went wrong.');
});

onRender(render);
start();

if (session.user) {
    const token = session.user.token;
    api('GET', '/user')
        .then(({ user }) => {
            if (session.user?.token === token) session.set(user);
        })
        .catch(() => {
            /* a refused token signed the user out (api.js); anything else keeps the cached user */
        });
}
