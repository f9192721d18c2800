// Your settings (/settings): picture, username, bio, e-mail, a new password; and signing out.
import { api, session } from '../api.js';
import { makeForm } from '../components.js';
import { h } from '../dom.js';
import { notify } from '../notice.js';
import { navigate } from '../router.js';
import { profilePath } from '../dom.js';

export function settings() {
    document.title = 'Settings — conduit';
    const u = session.user;
    const { form } = makeForm({
        className: 'settings-form',
        fields: [
            { name: 'image', label: 'Picture (URL)', type: 'url', autocomplete: 'photo', value: u.image, hint: 'An https:// address of an image; empty for none.' },
            { name: 'username', label: 'Username', autocomplete: 'username', value: u.username, required: true },
            { name: 'bio', label: 'Bio', rows: 6, value: u.bio },
            { name: 'email', label: 'Email', type: 'email', autocomplete: 'email', value: u.email, required: true },
            { name: 'password', label: 'New password', type: 'password', autocomplete: 'new-password', hint: 'Leave empty to keep your password.' },
        ],
        submitLabel: 'Update settings',
        onSubmit: async (v) => {
            const change = {};
            for (const k of ['image', 'username', 'bio', 'email']) if (v[k] !== (session.user[k] ?? '')) change[k] = v[k];
            if (v.password) change.password = v.password;
            if (!Object.keys(change).length) {
                notify('Nothing to update.', 'info');
                return;
            }
            const { user } = await api('PUT', '/user', { user: change });
            session.set(user);
            notify('Your settings are saved.', 'info');
            navigate(profilePath(user.username));
        },
    });
    const logout = h(
        'button',
        {
            type: 'button',
            class: 'btn btn-outline btn-danger',
            onclick: () => {
                session.set(null);
                navigate('/');
            },
        },
        'Log out',
    );
    return h('div', { class: 'container narrow settings-page' }, h('h1', null, 'Your settings'), form, h('hr'), logout);
}
