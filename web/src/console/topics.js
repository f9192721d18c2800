// topics.js: /console/topics and /console/topics/<name>: the topics as Kafka UIs show them.
//
// The list: partitions, records, the rate, who publishes and which groups consume. A topic:
// its partitions (low and high offsets), its records read from the newest, the oldest, an
// offset or a time (GET .../records), and a live tail (an EventSource on .../tail) that adds
// records as they are written. Each record opens to its key, headers, CloudEvents attributes and
// value (JSON shown indented).
import { h, replace } from '../dom.js';
import { count, rate, time } from './format.js';
import { listen } from './stream.js';

const enc = encodeURIComponent;

export function topicsPage(signal) {
    const tbody = h('tbody', null, h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'Waiting for the first status…')));
    listen('status', (st) => {
        if (!st.topics.length) return replace(tbody, h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'No topics yet: a topic appears when it is first published to.')));
        const publishers = (t) => st.map.edges.filter((e) => e.kind === 'publish' && e.to === `topic:${t}`).map((e) => e.from.replace(/^(svc|ext):/, ''));
        const groups = (t) => st.groups.filter((g) => g.topics.some((x) => x.topic === t));
        replace(tbody, st.topics.map((t) =>
            h('tr', { 'data-topic': t.name },
                h('th', { scope: 'row' }, h('a', { href: `/console/topics/${enc(t.name)}` }, t.name)),
                h('td', { class: 'num' }, t.partitions.length),
                h('td', { class: 'num' }, count(t.records)),
                h('td', { class: 'num' }, rate(t.rate)),
                h('td', null, publishers(t.name).join(', ') || '—'),
                h('td', null, groups(t.name).map((g, i) => [i ? ', ' : '', h('a', { href: `/console/groups/${enc(g.group)}` }, g.group), ` (lag ${g.topics.find((x) => x.topic === t.name)?.lag ?? 0})`])))));
    }, signal);
    return h('section', { class: 'panel', 'aria-labelledby': 'topics-h' },
        h('h2', { id: 'topics-h' }, 'Topics'),
        h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
            h('caption', { class: 'sr-only' }, 'Topics'),
            h('thead', null, h('tr', null,
                h('th', { scope: 'col' }, 'Topic'), h('th', { scope: 'col', class: 'num' }, 'Partitions'),
                h('th', { scope: 'col', class: 'num' }, 'Records'), h('th', { scope: 'col', class: 'num' }, 'Per second'),
                h('th', { scope: 'col' }, 'Published by'), h('th', { scope: 'col' }, 'Consumer groups (lag)'))),
            tbody)));
}

// The readable form of one record: a <details> whose summary is one line.
export function recordView(r) {
    const ce = r.ce || {};
    const key = r.key ?? (r.key_base64 ? `base64 ${r.key_base64}` : null);
    const summary = h('summary', null,
        h('span', { class: 'rec-pos' }, `p${r.partition} · ${r.offset}`),
        h('time', null, time(r.timestamp)),
        h('span', { class: 'ev-type' }, ce.type || '(not a CloudEvent)'),
        h('span', { class: 'ev-key' }, key != null ? `key ${key}` : 'no key'));
    const value = r.value !== undefined
        ? JSON.stringify(r.value, null, 2)
        : r.value_text !== undefined ? r.value_text : r.value_base64 !== undefined ? `base64 ${r.value_base64}` : '';
    const attrs = Object.entries(ce).filter(([k]) => k !== 'extensions');
    for (const [k, v] of Object.entries(ce.extensions || {})) attrs.push([k, v]);
    return h('details', { class: 'record', 'data-offset': r.offset, 'data-partition': r.partition },
        summary,
        h('div', { class: 'record-body' },
            h('h4', null, 'CloudEvents attributes'),
            attrs.length ? h('dl', { class: 'kv' }, attrs.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])) : h('p', { class: 'muted' }, r.ce_error || 'none'),
            h('h4', null, 'Headers'),
            r.headers.length
                ? h('dl', { class: 'kv' }, r.headers.map((x) => [h('dt', null, x.name), h('dd', null, x.value ?? (x.base64 != null ? `base64 ${x.base64}` : 'null'))]))
                : h('p', { class: 'muted' }, 'none'),
            h('h4', null, `Value (${count(r.size)} bytes${r.value_truncated ? ', cut' : ''})`),
            h('pre', { class: 'value' }, value),
            h('p', { class: 'muted small' }, `Key: ${key ?? 'none'} · timestamp ${r.timestamp_type} ${r.timestamp ?? ''}`)));
}

let formSerial = 0;

export function topicPage(name, signal) {
    const id = ++formSerial;
    const parts = h('tbody');
    const select = h('select', { id: `tp${id}-part`, class: 'input input-sm', name: 'partition' }, h('option', { value: 'all' }, 'all'));
    const from = h('select', { id: `tp${id}-from`, class: 'input input-sm', name: 'from' },
        h('option', { value: 'newest' }, 'the newest'),
        h('option', { value: 'oldest' }, 'the oldest'),
        h('option', { value: 'offset' }, 'an offset'),
        h('option', { value: 'time' }, 'a time'));
    const offset = h('input', { id: `tp${id}-offset`, class: 'input input-sm input-num', type: 'number', min: 0, name: 'offset', value: 0 });
    const at = h('input', { id: `tp${id}-time`, class: 'input input-sm', type: 'datetime-local', step: 1, name: 'time' });
    const limit = h('input', { id: `tp${id}-limit`, class: 'input input-sm input-num', type: 'number', min: 1, max: 200, name: 'limit', value: 50 });
    const offsetField = h('div', { class: 'field-inline', hidden: true }, h('label', { for: offset.id }, 'Offset'), offset);
    const timeField = h('div', { class: 'field-inline', hidden: true }, h('label', { for: at.id }, 'Time'), at);
    from.addEventListener('change', () => {
        offsetField.hidden = from.value !== 'offset';
        timeField.hidden = from.value !== 'time';
    });
    const status = h('p', { class: 'muted small', role: 'status' });
    const list = h('div', { class: 'records' });
    const form = h('form', { class: 'browse-form' },
        h('div', { class: 'field-inline' }, h('label', { for: select.id }, 'Partition'), select),
        h('div', { class: 'field-inline' }, h('label', { for: from.id }, 'From'), from),
        offsetField, timeField,
        h('div', { class: 'field-inline' }, h('label', { for: limit.id }, 'Records'), limit),
        h('button', { type: 'submit', class: 'btn btn-sm btn-primary' }, 'Read'));

    async function read() {
        const q = new URLSearchParams({ from: from.value, limit: limit.value || '50' });
        if (select.value !== 'all') q.set('partition', select.value);
        if (from.value === 'offset') q.set('offset', offset.value || '0');
        if (from.value === 'time') {
            const t = at.value ? new Date(at.value).getTime() : NaN;
            if (!Number.isFinite(t)) {
                status.textContent = 'Choose a time first.';
                return;
            }
            q.set('time', String(t));
        }
        status.textContent = 'Reading…';
        try {
            const res = await fetch(`/api/console/topics/${enc(name)}/records?${q}`, { signal });
            const body = await res.json();
            if (!res.ok) throw new Error(body.errors ? Object.entries(body.errors).map(([k, v]) => `${k} ${v.join(', ')}`).join('; ') : body.detail);
            replace(list, body.records.length ? body.records.slice().reverse().map(recordView) : h('p', { class: 'muted' }, 'No records there.'));
            status.textContent = `${body.records.length} record(s), newest first${body.complete ? '' : ' (the broker was slow: some may be missing)'}.`;
        } catch (e) {
            if (e?.name === 'AbortError') return;
            status.textContent = `Could not read the records: ${e.message}`;
        }
    }
    form.addEventListener('submit', (e) => {
        e.preventDefault();
        read();
    });

    // the live tail
    let tail = null;
    const tailList = h('div', { class: 'records' });
    const tailNote = h('p', { class: 'muted small', role: 'status' }, 'Off.');
    const tailBtn = h('button', { type: 'button', class: 'btn btn-sm btn-outline', 'aria-pressed': 'false' }, 'Tail live');
    const stopTail = () => {
        tail?.close();
        tail = null;
        tailBtn.setAttribute('aria-pressed', 'false');
        tailBtn.textContent = 'Tail live';
        tailNote.textContent = 'Off.';
    };
    tailBtn.addEventListener('click', () => {
        if (tail) return stopTail();
        const part = select.value === 'all' ? '' : `?partition=${enc(select.value)}`;
        tail = new EventSource(`/api/console/topics/${enc(name)}/tail${part}`);
        tailBtn.setAttribute('aria-pressed', 'true');
        tailBtn.textContent = 'Stop tailing';
        tailNote.textContent = 'Connecting…';
        let seen = 0;
        tail.addEventListener('open', () => (tailNote.textContent = 'Live: new records appear at the top.'));
        tail.addEventListener('error', () => (tailNote.textContent = 'Reconnecting…'));
        tail.addEventListener('record', (e) => {
            const r = JSON.parse(e.data);
            tailList.prepend(recordView(r));
            while (tailList.children.length > 200) tailList.lastElementChild.remove();
            tailNote.textContent = `Live: ${++seen} new record(s).`;
        });
        tail.addEventListener('skipped', (e) => (tailNote.textContent = `Live: ${JSON.parse(e.data).skipped} record(s) skipped (more than 200 a second).`));
    });
    signal.addEventListener('abort', stopTail, { once: true });

    let first = true;
    listen('status', (st) => {
        const t = st.topics.find((x) => x.name === name);
        if (!t) return replace(parts, h('tr', null, h('td', { colspan: 4, class: 'muted' }, 'No such topic (yet).')));
        replace(parts, t.partitions.map((p) => h('tr', null,
            h('th', { scope: 'row' }, p.partition),
            h('td', { class: 'num' }, p.low < 0 ? '—' : count(p.low)),
            h('td', { class: 'num' }, p.high < 0 ? '—' : count(p.high)),
            h('td', { class: 'num' }, p.low < 0 || p.high < 0 ? '—' : count(p.high - p.low)))));
        if (select.options.length !== t.partitions.length + 1) {
            const keep = select.value;
            replace(select, h('option', { value: 'all' }, 'all'), t.partitions.map((p) => h('option', { value: p.partition }, String(p.partition))));
            select.value = [...select.options].some((o) => o.value === keep) ? keep : 'all';
        }
        if (first) {
            first = false;
            read();
        }
    }, signal);

    return [
        h('section', { class: 'panel', 'aria-labelledby': 'parts-h' },
            h('h2', { id: 'parts-h' }, `Topic ${name}`),
            h('div', { class: 'table-wrap narrow-table' }, h('table', { class: 'data' },
                h('caption', null, 'Partitions and offsets'),
                h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Partition'), h('th', { scope: 'col', class: 'num' }, 'Low'), h('th', { scope: 'col', class: 'num' }, 'High'), h('th', { scope: 'col', class: 'num' }, 'Records'))),
                parts))),
        h('section', { class: 'panel', 'aria-labelledby': 'rec-h' },
            h('h2', { id: 'rec-h' }, 'Records'),
            form, status, list),
        h('section', { class: 'panel', 'aria-labelledby': 'tail-h' },
            h('h2', { id: 'tail-h' }, 'Live tail'),
            h('div', { class: 'tail-bar' }, tailBtn, tailNote),
            tailList),
    ];
}
