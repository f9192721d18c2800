// groups.js: /console/groups and /console/groups/<name>: the consumer groups, their members and
// assignments, committed offsets and lag per partition, and resetting a group's offsets.
//
// Kafka resets a group's offsets only while the group has no member (a live member would
// overwrite them with its next commit, and the coordinator refuses a commit from outside the
// group): the form says so, and is disabled until the group is Empty (stop its service on the
// overview, reset, start it again: it then reads from the new offsets).
import { h, replace } from '../dom.js';
import { notify } from '../notice.js';
import { count, rate } from './format.js';
import { act, needKey } from './key.js';
import { listen } from './stream.js';

const enc = encodeURIComponent;

export function groupsPage(signal) {
    const tbody = h('tbody', null, h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'Waiting for the first status…')));
    listen('status', (st) => {
        if (!st.groups.length) {
            const why = st.groups_error ? `The broker did not answer: ${st.groups_error}` : 'No consumer groups yet.';
            return replace(tbody, h('tr', null, h('td', { colspan: 7, class: 'muted' }, why)));
        }
        replace(tbody, st.groups.map((g) =>
            h('tr', { 'data-group': g.group, class: g.lag > 0 ? 'lagging' : null },
                h('th', { scope: 'row' }, h('a', { href: `/console/groups/${enc(g.group)}` }, g.group)),
                h('td', null, g.state),
                h('td', { class: 'num' }, g.members.length),
                h('td', null, g.service || '—'),
                h('td', null, g.topics.map((t) => t.topic).join(', ') || '—'),
                h('td', { class: 'num' }, count(g.lag)),
                h('td', { class: 'num' }, rate(g.rate)))));
    }, signal);
    return h('section', { class: 'panel', 'aria-labelledby': 'groups-h' },
        h('h2', { id: 'groups-h' }, 'Consumer groups'),
        h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
            h('caption', { class: 'sr-only' }, 'Consumer groups'),
            h('thead', null, h('tr', null,
                h('th', { scope: 'col' }, 'Group'), h('th', { scope: 'col' }, 'State'),
                h('th', { scope: 'col', class: 'num' }, 'Members'), h('th', { scope: 'col' }, 'Service'),
                h('th', { scope: 'col' }, 'Topics'), h('th', { scope: 'col', class: 'num' }, 'Lag'),
                h('th', { scope: 'col', class: 'num' }, 'Consumed/s'))),
            tbody)));
}

let serial = 0;

function resetForm(name) {
    const id = ++serial;
    const to = h('select', { id: `gr${id}-to`, class: 'input input-sm', name: 'to' },
        h('option', { value: 'earliest' }, 'the earliest offset (read everything again)'),
        h('option', { value: 'latest' }, 'the latest offset (skip what is waiting)'),
        h('option', { value: 'offset' }, 'an offset'),
        h('option', { value: 'time' }, 'a time'));
    const topic = h('select', { id: `gr${id}-topic`, class: 'input input-sm', name: 'topic' }, h('option', { value: '' }, 'every topic it has offsets for'));
    const offset = h('input', { id: `gr${id}-offset`, class: 'input input-sm input-num', type: 'number', min: 0, value: 0 });
    const at = h('input', { id: `gr${id}-time`, class: 'input input-sm', type: 'datetime-local', step: 1 });
    const offsetField = h('div', { class: 'field-inline', hidden: true }, h('label', { for: offset.id }, 'Offset'), offset);
    const timeField = h('div', { class: 'field-inline', hidden: true }, h('label', { for: at.id }, 'Time'), at);
    to.addEventListener('change', () => {
        offsetField.hidden = to.value !== 'offset';
        timeField.hidden = to.value !== 'time';
    });
    const note = h('p', { class: 'note', id: `gr${id}-note` });
    const button = h('button', { type: 'submit', class: 'btn btn-sm btn-danger', 'aria-describedby': note.id }, 'Reset offsets');
    const form = h('form', { class: 'reset-form' },
        h('div', { class: 'field-inline' }, h('label', { for: to.id }, 'To'), to),
        h('div', { class: 'field-inline' }, h('label', { for: topic.id }, 'Topic'), topic),
        offsetField, timeField, button);
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        if (!needKey()) return;
        const body = { to: to.value };
        if (topic.value) body.topic = topic.value;
        if (to.value === 'offset') body.offset = Number(offset.value || 0);
        if (to.value === 'time') {
            const t = at.value ? new Date(at.value).getTime() : NaN;
            if (!Number.isFinite(t)) return notify('Choose a time first.');
            body.time = t;
        }
        button.disabled = true;
        try {
            const r = await act('POST', `/api/console/groups/${enc(name)}/reset`, body);
            notify(`Group ${name} reset: ${r.offsets.map((o) => `${o.topic}[${o.partition}] → ${o.offset}`).join(', ')}`, 'info');
        } catch (err) {
            notify(err.message);
        } finally {
            button.disabled = false;
        }
    });
    const update = (g) => {
        const empty = g.state === 'Empty';
        button.disabled = !empty;
        note.textContent = empty
            ? 'The group has no members, so its offsets can be reset. Its consumers read from the new offsets when they start.'
            : `Kafka resets a group's offsets only while the group is empty: it has ${g.members.length} member(s) (${g.state}). Stop ${g.service ? `the service ${g.service}` : 'its consumers'} first.`;
        const topics = [...new Set(g.partitions.map((p) => p.topic))];
        if (topic.options.length !== topics.length + 1) {
            replace(topic, h('option', { value: '' }, 'every topic it has offsets for'), topics.map((t) => h('option', { value: t }, t)));
        }
    };
    return { el: h('div', null, note, form), update };
}

export function groupPage(name, signal) {
    const head = h('p', { class: 'muted' }, 'Waiting for the first status…');
    const members = h('tbody');
    const parts = h('tbody');
    const reset = resetForm(name);
    listen('status', (st) => {
        const g = st.groups.find((x) => x.group === name);
        if (!g) {
            replace(head, 'No such consumer group (yet).');
            return;
        }
        head.textContent = `${g.state} · ${g.members.length} member(s) · ${g.service ? `service ${g.service}` : 'service not known'} · lag ${g.lag} · ${rate(g.rate)} consumed/s${g.assignor ? ` · assignor ${g.assignor}` : ''}`;
        replace(members, g.members.length ? g.members.map((m) => h('tr', null,
            h('th', { scope: 'row' }, m.client_id),
            h('td', { class: 'mono' }, m.member_id),
            h('td', null, m.host),
            h('td', null, m.assignment.map((a) => `${a.topic}[${a.partition}]`).join(', ') || '—')))
            : h('tr', null, h('td', { colspan: 4, class: 'muted' }, 'No members: nothing consumes with this group now.')));
        replace(parts, g.partitions.length ? g.partitions.map((p) => h('tr', { class: p.lag > 0 ? 'lagging' : null },
            h('th', { scope: 'row' }, `${p.topic}[${p.partition}]`),
            h('td', { class: 'num' }, p.committed ?? '—'),
            h('td', { class: 'num' }, p.end ?? '—'),
            h('td', { class: 'num' }, p.lag ?? '—'),
            h('td', { class: 'nowrap' }, p.member ? `${p.client_id} (…${p.member.slice(-6)})` : '—')))
            : h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No committed offsets yet.')));
        reset.update(g);
    }, signal);
    return [
        h('section', { class: 'panel', 'aria-labelledby': 'group-h' },
            h('h2', { id: 'group-h' }, `Group ${name}`),
            head,
            h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
                h('caption', null, 'Members and their assignments'),
                h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Client'), h('th', { scope: 'col' }, 'Member id'), h('th', { scope: 'col' }, 'Host'), h('th', { scope: 'col' }, 'Partitions'))),
                members)),
            h('div', { class: 'table-wrap narrow-table' }, h('table', { class: 'data' },
                h('caption', null, 'Offsets and lag per partition'),
                h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Partition'), h('th', { scope: 'col', class: 'num' }, 'Committed'), h('th', { scope: 'col', class: 'num' }, 'End'), h('th', { scope: 'col', class: 'num' }, 'Lag'), h('th', { scope: 'col' }, 'Held by'))),
                parts))),
        h('section', { class: 'panel', 'aria-labelledby': 'reset-h' },
            h('h2', { id: 'reset-h' }, 'Reset offsets'),
            reset.el),
    ];
}
