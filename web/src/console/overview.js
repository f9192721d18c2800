// overview.js: /console, the system at a glance, redrawn from every status (once a second):
// the map, every process with its figures and the actions on it, and the events flowing.
//
// The services' table is updated in place (a row per service, kept by name; cells rewritten),
// so a control being used (the scale field, a focused button) is never replaced under the
// user's hands. The events panel keeps the last events of each topic as the stream brings them.
import { h, replace } from '../dom.js';
import { notify } from '../notice.js';
import { count, ms, percent, rate, time, uptime } from './format.js';
import { act, needKey, onKey } from './key.js';
import { drawMap, legend, mapTable } from './map.js';
import { listen } from './stream.js';

const EVENTS_SHOWN = 6;

// A process's state as a small labelled chip.
function chip(inst) {
    const tip = inst.pid ? `pid ${inst.pid}, port ${inst.port}, up ${uptime(inst.uptime_ms)}, ${inst.restarts} restart(s)` : `port ${inst.port}`;
    return h('span', { class: `chip state-${inst.state}`, title: `instance ${inst.instance}: ${tip}` }, `#${inst.instance} ${inst.state}`);
}

const stopped = (svc) => svc.instances.length > 0 && svc.instances.every((i) => i.state === 'stopped');

// Running actions by service name ({id} once the console took it), so their buttons wait for
// the end; and the ids of actions that ended (their "action" event may come before the answer to
// the POST, or be missed while the stream reconnects: the "actions" list at reconnection has it).
const busy = new Map();
const ended = new Set();

function runAction(svc, verb, body) {
    if (!needKey()) return;
    const label = verb === 'scale' ? `Scaling ${svc} to ${body.instances}` : `${verb === 'stop' ? 'Stopping' : 'Starting'} ${svc}`;
    busy.set(svc, { id: null });
    notify(`${label}…`, 'info');
    act('POST', `/api/console/services/${encodeURIComponent(svc)}/${verb}`, body)
        .then((a) => {
            if (ended.has(a.id)) busy.delete(svc);
            else busy.set(svc, { id: a.id });
        })
        .catch((e) => {
            busy.delete(svc);
            notify(e.message);
        });
}

// An action that ended: its service's buttons come back; told when it was one of ours.
function actionEnded(a) {
    if (a.state === 'running') return false;
    ended.add(a.id);
    for (const [svc, v] of busy) {
        if (v.id === a.id) {
            busy.delete(svc);
            return true;
        }
    }
    return false;
}

function serviceRow(name, self) {
    // data-label: the column's name, shown beside the value where the table becomes cards
    const cells = {
        instances: h('td', { 'data-label': 'Instances' }),
        restarts: h('td', { class: 'num', 'data-label': 'Restarts' }),
        rate: h('td', { class: 'num', 'data-label': 'Req/s' }),
        errors: h('td', { class: 'num', 'data-label': '5xx/s' }),
        p99: h('td', { class: 'num', 'data-label': 'p99' }),
        events: h('td', { class: 'num', 'data-label': 'Events out/in' }),
        lag: h('td', { class: 'num', 'data-label': 'Lag' }),
        actions: h('td', { class: 'actions-cell', 'data-label': 'Actions' }),
    };
    const row = h('tr', { 'data-service': name }, h('th', { scope: 'row' }, name), Object.values(cells));
    let controls = null;
    if (self) {
        replace(cells.actions, h('span', { class: 'muted' }, 'this console'));
    } else if (name !== 'broker' && name !== 'gateway') {
        const toggle = h('button', { type: 'button', class: 'btn btn-sm btn-outline' });
        const n = h('input', { type: 'number', class: 'input input-sm input-num', min: 0, max: 64, step: 1, 'aria-label': `Instances of ${name}` });
        const scale = h('button', { type: 'submit', class: 'btn btn-sm btn-outline', 'aria-label': `Scale ${name}` }, 'Scale');
        const form = h('form', { class: 'scale-form' }, n, scale);
        form.addEventListener('submit', (e) => {
            e.preventDefault();
            const v = Number(n.value);
            if (!Number.isInteger(v) || v < 0 || v > 64) {
                notify(`The instances of ${name} must be a whole number from 0 to 64.`);
                return;
            }
            n.dataset.dirty = '';
            runAction(name, 'scale', { instances: v });
        });
        n.addEventListener('input', () => (n.dataset.dirty = '1'));
        toggle.addEventListener('click', () => runAction(name, toggle.dataset.verb));
        replace(cells.actions, toggle, form);
        controls = { toggle, n, scale };
    }
    return { row, cells, controls };
}

function chips(insts, none) {
    return insts.length ? h('div', { class: 'instances' }, insts.map(chip)) : h('span', { class: 'muted' }, none);
}

function updateService(r, svc, groups) {
    replace(r.cells.instances, chips(svc.instances, 'none'));
    r.cells.restarts.textContent = svc.instances.reduce((a, i) => a + i.restarts, 0);
    r.cells.rate.textContent = rate(svc.http.rate);
    r.cells.errors.textContent = svc.http.rate > 0 ? `${rate(svc.http.errors)} (${percent(svc.http.error_ratio)})` : rate(svc.http.errors);
    r.cells.p99.textContent = ms(svc.http.p99_ms);
    r.cells.events.textContent = `${rate(svc.events.produced)} / ${rate(svc.events.consumed)}`;
    const lagged = groups.filter((g) => g.service === svc.name);
    r.cells.lag.textContent = lagged.length ? lagged.map((g) => `${g.lag}`).join(' + ') : '—';
    r.cells.lag.title = lagged.map((g) => `group ${g.group}: ${g.lag}`).join(', ');
    r.row.classList.toggle('lagging', svc.lag > 0);
    r.row.classList.toggle('is-down', !svc.up);
    const c = r.controls;
    if (!c) return;
    const isStopped = stopped(svc);
    const verb = isStopped ? 'start' : 'stop';
    c.toggle.dataset.verb = verb;
    c.toggle.textContent = isStopped ? 'Start' : 'Stop';
    c.toggle.setAttribute('aria-label', `${isStopped ? 'Start' : 'Stop'} ${svc.name}`);
    c.toggle.classList.toggle('btn-danger', !isStopped);
    const wait = busy.has(svc.name);
    c.toggle.disabled = wait;
    c.scale.disabled = wait;
    if (document.activeElement !== c.n && !c.n.dataset.dirty) c.n.value = String(svc.instances.filter((i) => i.state !== 'stopped').length);
}

function updateFixed(r, part, kind) {
    const insts = part.instances;
    replace(r.cells.instances, chips(insts, 'not run'));
    r.cells.restarts.textContent = insts.reduce((a, i) => a + i.restarts, 0);
    r.cells.rate.textContent = kind === 'gateway' ? rate(part.rate) : '—';
    r.cells.errors.textContent = '—';
    r.cells.p99.textContent = '—';
    r.cells.events.textContent = kind === 'broker' ? `${rate(part.rate)} in` : '—';
    r.cells.lag.textContent = kind === 'broker' ? `${part.groups} groups` : '—';
    r.row.classList.toggle('is-down', insts.length > 0 && !insts[0].ready);
}

function servicesTable(signal) {
    const rows = new Map();
    const tbody = h('tbody');
    const table = h(
        'table',
        { class: 'data services' },
        h('caption', { class: 'sr-only' }, 'Processes: their instances, figures and actions'),
        h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, 'Service'),
            h('th', { scope: 'col' }, 'Instances'),
            h('th', { scope: 'col', class: 'num' }, 'Restarts'),
            h('th', { scope: 'col', class: 'num' }, h('abbr', { title: 'HTTP requests per second' }, 'Req/s')),
            h('th', { scope: 'col', class: 'num' }, h('abbr', { title: '5xx answers per second (share of requests)' }, '5xx/s')),
            h('th', { scope: 'col', class: 'num' }, h('abbr', { title: '99th percentile of request durations' }, 'p99')),
            h('th', { scope: 'col', class: 'num' }, h('abbr', { title: 'events published / consumed per second' }, 'Events out/in')),
            h('th', { scope: 'col', class: 'num' }, h('abbr', { title: 'records its consumer groups have not committed yet' }, 'Lag')),
            h('th', { scope: 'col' }, 'Actions'))),
        tbody,
    );
    const ensure = (name, self) => {
        if (!rows.has(name)) rows.set(name, serviceRow(name, self));
        return rows.get(name);
    };
    let last = null;
    const update = (st) => {
        last = st;
        const order = [];
        const b = ensure('broker');
        updateFixed(b, st.broker, 'broker');
        order.push(b.row);
        for (const svc of st.services) {
            const r = ensure(svc.name, svc.self);
            updateService(r, svc, st.groups);
            order.push(r.row);
        }
        const g = ensure('gateway');
        updateFixed(g, st.gateway, 'gateway');
        order.push(g.row);
        for (const [name, r] of rows) if (!order.includes(r.row)) rows.delete(name);
        // re-append only when the order changed, so focus stays where it is
        if (order.some((row, i) => tbody.children[i] !== row) || tbody.children.length !== order.length) replace(tbody, order);
    };
    listen('status', update, signal);
    const told = (a) => notify(a.state === 'done' ? a.output || `${a.request}: done` : `${a.request} failed: ${a.output}`, a.state === 'done' ? 'info' : 'error');
    listen('action', (a) => {
        if (actionEnded(a)) told(a);
        if (last) update(last);
    }, signal);
    listen('actions', (m) => {
        for (const a of m.actions) if (actionEnded(a)) told(a);
        if (last) update(last);
    }, signal);
    onKey(() => last && update(last), signal);
    return h('div', { class: 'table-wrap' }, table);
}

function eventsPanel(signal) {
    const recent = new Map(); // topic -> [summary], newest first
    const rates = new Map();
    const box = h('div', { class: 'topic-cards' }, h('p', { class: 'muted' }, 'Waiting for events…'));
    let pending = 0;
    const draw = () => {
        pending = 0;
        const topics = [...new Set([...rates.keys(), ...recent.keys()])].sort();
        if (!topics.length) return replace(box, h('p', { class: 'muted' }, 'No topics yet.'));
        replace(box, topics.map((t) => {
            const evs = recent.get(t) || [];
            const r = rates.get(t);
            return h('section', { class: 'topic-card', 'data-topic': t },
                h('h3', null, h('a', { href: `/console/topics/${encodeURIComponent(t)}` }, t)),
                h('p', { class: 'muted small' }, r ? `${rate(r.rate)}/s · ${count(r.records)} records` : ''),
                evs.length
                    ? h('ol', { class: 'event-list' }, evs.slice(0, EVENTS_SHOWN).map((e) =>
                        h('li', null, h('time', null, time(e.time)), h('span', { class: 'ev-type' }, e.type || '(no type)'), h('span', { class: 'ev-key' }, e.key ? `key ${e.key}` : ''))))
                    : h('p', { class: 'muted small' }, 'No events seen yet.'));
        }));
    };
    const later = () => {
        if (!pending) pending = setTimeout(draw, 300);
    };
    signal.addEventListener('abort', () => clearTimeout(pending), { once: true });
    listen('events', (m) => {
        for (const e of m.events) {
            const list = recent.get(e.topic) || [];
            list.unshift(e);
            list.length = Math.min(list.length, 50);
            recent.set(e.topic, list);
        }
        later();
    }, signal);
    listen('status', (st) => {
        rates.clear();
        for (const t of st.topics) rates.set(t.name, t);
        later();
    }, signal);
    return box;
}

export function overview(signal) {
    const mapBox = h('div', { class: 'map-box' }, h('p', { class: 'muted' }, 'Waiting for the first status…'));
    const tableBox = h('div', { class: 'map-table' });
    listen('status', (st) => {
        replace(mapBox, drawMap(st));
        replace(tableBox, mapTable(st));
    }, signal);
    return [
        h('section', { class: 'panel', 'aria-labelledby': 'map-h' },
            h('h2', { id: 'map-h' }, 'Map'),
            mapBox,
            legend(),
            h('details', { class: 'map-details' }, h('summary', null, 'The map as a table'), tableBox)),
        h('section', { class: 'panel', 'aria-labelledby': 'proc-h' },
            h('h2', { id: 'proc-h' }, 'Services'),
            h('p', { class: 'muted small' }, 'Figures per second over the last 5 s; lag is what each consumer group has not committed yet.'),
            servicesTable(signal)),
        h('section', { class: 'panel', 'aria-labelledby': 'events-h' },
            h('h2', { id: 'events-h' }, 'Events'),
            eventsPanel(signal)),
    ];
}
