// Sign in (/login) and sign up (/register). The API's refusals are shown by field (422) or
// above the form (a refused login: 401 {"errors":{"email or password":["is invalid"]}}).
import { api, session } from '../api.js';
import { makeForm } from '../components.js';
import { h } from '../dom.js';
import { navigate } from '../router.js';

function page(title, other, form) {
    document.title = `${title} — conduit`;
    return h(
        'div',
        { class: 'container narrow auth-page' },
        h('h1', null, title),
        h('p', { class: 'center' }, other),
        form,
    );
}

export function login() {
    const { form } = makeForm({
        fields: [
            { name: 'email', label: 'Email', type: 'email', autocomplete: 'email', required: true },
            { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', required: true },
        ],
        submitLabel: 'Sign in',
        onSubmit: async ({ email, password }) => {
            const { user } = await api('POST', '/users/login', { user: { email, password } });
            session.set(user);
            navigate('/');
        },
    });
    return page('Sign in', h('a', { href: '/register' }, 'Need an account?'), form);
}

export function register() {
    const { form } = makeForm({
        fields: [
            { name: 'username', label: 'Username', autocomplete: 'username', required: true },
            { name: 'email', label: 'Email', type: 'email', autocomplete: 'email', required: true },
            { name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', required: true, hint: 'At least 8 characters.' },
        ],
        submitLabel: 'Sign up',
        onSubmit: async ({ username, email, password }) => {
            const { user } = await api('POST', '/users', { user: { username, email, password } });
            session.set(user);
            navigate('/');
        },
    });
    return page('Sign up', h('a', { href: '/login' }, 'Have an account?'), form);
}
