// map.js: the live map of the system, drawn from the status's map (services/console/graph.c):
// what flows, not a hand-made diagram. Layered, left to right:
//
//   gateway  ->  services (and other publishers)  ->  topics  ->  consumer groups
//
// routes go from the gateway to the services that answered its requests, publishes from a service
// to the topics its events went to, subscriptions from a topic to the groups that consume it; a
// call between services is an arc beside the services' column. An arrow's width grows with its
// rate (log scale), an arrow that carries nothing now is thin and dashed; nodes that are down are
// marked. Within a layer, topics sit near their publishers and groups near their topics
// (barycentres), to keep crossings few. SVG built element by element (no markup strings), with a
// text alternative: the same arrows as a table.
import { h } from '../dom.js';
import { rate } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 150; // node width
const H = 40; // node height
const GAP = 14; // between nodes of a column
const COL = 240; // column pitch
const PAD = 24;

function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, String(v));
    for (const k of kids.flat()) if (k != null) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return el;
}

const LAYER = { gateway: 0, service: 1, external: 1, topic: 2, group: 3 };
const VERB = { route: 'requests', call: 'calls', publish: 'events published', subscribe: 'events consumed' };

// Node order within each layer.
function layout(map) {
    const cols = [[], [], [], []];
    for (const n of map.nodes) cols[LAYER[n.kind] ?? 1].push(n);
    cols[1].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'external' ? 1 : -1));
    const index = new Map();
    const place = (col) => col.forEach((n, i) => index.set(n.id, i));
    place(cols[0]);
    place(cols[1]);
    const bary = (n, kind, end) => {
        const near = map.edges.filter((e) => e.kind === kind && e[end] === n.id).map((e) => index.get(e[end === 'to' ? 'from' : 'to']));
        const known = near.filter((i) => i != null);
        return known.length ? known.reduce((a, b) => a + b, 0) / known.length : Infinity;
    };
    for (const [c, kind] of [[2, 'publish'], [3, 'subscribe']]) {
        const keyed = cols[c].map((n) => ({ n, k: bary(n, kind, 'to') }));
        keyed.sort((a, b) => a.k - b.k || a.n.name.localeCompare(b.n.name));
        cols[c] = keyed.map((x) => x.n);
        place(cols[c]);
    }
    const tallest = Math.max(1, ...cols.map((c) => c.length));
    const height = PAD * 2 + tallest * H + (tallest - 1) * GAP;
    const pos = new Map();
    cols.forEach((col, c) => {
        const colHeight = col.length * H + Math.max(0, col.length - 1) * GAP;
        const top = (height - colHeight) / 2;
        col.forEach((n, i) => pos.set(n.id, { x: PAD + c * COL, y: top + i * (H + GAP) }));
    });
    return { pos, width: PAD * 2 + 3 * COL + W + 70, height };
}

// The line under a node's name: what it is doing.
function subtitle(n, status) {
    if (n.kind === 'service') {
        const svc = status.services.find((x) => x.name === n.name);
        if (!svc) return '';
        const ready = svc.instances.filter((i) => i.ready).length;
        return `${ready}/${svc.instances.length} ready · ${rate(svc.http.rate)}/s`;
    }
    if (n.kind === 'gateway') return `${rate(status.gateway.rate)} req/s`;
    if (n.kind === 'topic') {
        const t = status.topics.find((x) => x.name === n.name);
        return t ? `${rate(t.rate)}/s · ${t.records} records` : '';
    }
    if (n.kind === 'group') {
        const g = status.groups.find((x) => x.group === n.name);
        return g ? `group${n.service && n.service !== n.name ? ` ${n.name}` : ''} · lag ${g.lag}` : 'group';
    }
    return 'publisher';
}

function width(r) {
    return r > 0 ? 1.5 + Math.min(6, 2 * Math.log10(1 + r)) : 1.2;
}

// The map as an SVG element; its text alternative is mapTable().
export function drawMap(status) {
    const map = status.map;
    const { pos, width: vw, height: vh } = layout(map);
    const defs = s(
        'defs',
        null,
        ['route', 'call', 'publish', 'subscribe'].map((k) =>
            s('marker', { id: `arrow-${k}`, class: `arrow arrow-${k}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
                s('path', { d: 'M0,0 L10,5 L0,10 z' }))),
    );
    const edges = s('g', { class: 'edges' });
    const labels = s('g', { class: 'edge-labels' });
    for (const e of map.edges) {
        const a = pos.get(e.from);
        const b = pos.get(e.to);
        if (!a || !b) continue;
        let d;
        let mid;
        if (e.kind === 'call') { // beside the services' column
            const x = a.x + W;
            const y1 = a.y + H * 0.7;
            const y2 = b.y + H * 0.3;
            d = `M${x},${y1} C${x + 70},${y1} ${x + 70},${y2} ${x + 2},${y2}`;
            mid = { x: x + 52, y: (y1 + y2) / 2 };
        } else {
            const x1 = a.x + W;
            const y1 = a.y + H / 2;
            const x2 = b.x - 2;
            const y2 = b.y + H / 2;
            const c = Math.max(40, (x2 - x1) / 2);
            d = `M${x1},${y1} C${x1 + c},${y1} ${x2 - c},${y2} ${x2},${y2}`;
            // the label two thirds along, where arrows leaving one node have spread apart
            const t = 0.68;
            const u = 1 - t;
            mid = {
                x: u * u * u * x1 + 3 * u * u * t * (x1 + c) + 3 * u * t * t * (x2 - c) + t * t * t * x2,
                y: u * u * u * y1 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t * t * t * y2,
            };
        }
        const name = (id) => map.nodes.find((n) => n.id === id)?.name || id;
        edges.append(
            s('path', {
                d,
                class: `edge edge-${e.kind}${e.rate > 0 ? '' : ' idle'}`,
                'stroke-width': width(e.rate).toFixed(2),
                'marker-end': `url(#arrow-${e.kind})`,
                'data-from': e.from,
                'data-to': e.to,
                'data-kind': e.kind,
            }, s('title', null, `${name(e.from)} → ${name(e.to)}: ${rate(e.rate)} ${VERB[e.kind]}/s`)),
        );
        if (e.rate > 0) labels.append(s('text', { x: mid.x, y: mid.y - 4, class: 'edge-label', 'text-anchor': 'middle' }, `${rate(e.rate)}/s`));
    }
    const nodes = s('g', { class: 'nodes' });
    for (const n of map.nodes) {
        const p = pos.get(n.id);
        const label = n.kind === 'group' && n.service ? n.service : n.name;
        nodes.append(
            s('g', { class: `node node-${n.kind}${n.up ? '' : ' down'}`, transform: `translate(${p.x},${p.y})`, 'data-id': n.id },
                s('rect', { width: W, height: H, rx: 8 }),
                s('text', { x: 10, y: 16, class: 'node-name' }, label.length > 18 ? `${label.slice(0, 17)}…` : label),
                s('text', { x: 10, y: 31, class: 'node-sub' }, n.up ? subtitle(n, status) : 'down'),
                s('title', null, `${n.kind} ${n.name}${n.up ? '' : ' (down)'}`)),
        );
    }
    const counts = map.nodes.reduce((c, n) => ({ ...c, [n.kind]: (c[n.kind] || 0) + 1 }), {});
    const svg = s(
        'svg',
        {
            class: 'map',
            viewBox: `0 0 ${vw} ${vh}`,
            role: 'img',
            'aria-labelledby': 'map-title map-desc',
            preserveAspectRatio: 'xMidYMin meet',
        },
        s('title', { id: 'map-title' }, 'Map of the running system'),
        s('desc', { id: 'map-desc' },
            `${counts.service || 0} services, ${counts.topic || 0} topics, ${counts.group || 0} consumer groups and ${map.edges.length} arrows; the table below lists them.`),
        defs, edges, labels, nodes,
    );
    return svg;
}

// The map's arrows as a table (its text alternative).
export function mapTable(status) {
    const map = status.map;
    const name = (id) => {
        const n = map.nodes.find((x) => x.id === id);
        return n ? `${n.kind} ${n.name}` : id;
    };
    return h(
        'table',
        { class: 'data' },
        h('caption', { class: 'sr-only' }, 'Arrows of the map'),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'From'), h('th', { scope: 'col' }, 'To'), h('th', { scope: 'col' }, 'What'), h('th', { scope: 'col', class: 'num' }, 'Per second'))),
        h('tbody', null, map.edges.map((e) =>
            h('tr', null, h('td', null, name(e.from)), h('td', null, name(e.to)), h('td', null, VERB[e.kind]), h('td', { class: 'num' }, rate(e.rate))))),
    );
}

export function legend() {
    const item = (k, text) => h('li', null, h('span', { class: `swatch swatch-${k}`, 'aria-hidden': 'true' }), text);
    return h('ul', { class: 'legend' },
        item('route', 'requests through the gateway'),
        item('call', 'calls between services'),
        item('publish', 'events published'),
        item('subscribe', 'events consumed (a group)'),
        h('li', null, h('span', { class: 'swatch swatch-idle', 'aria-hidden': 'true' }), 'dashed: nothing flowing now'));
}
