// fleet.js: /console/fleet, the fleet's vehicles moving on a canvas (docs/fleet.md, docs/console.md).
//
// Drawn from the data alone, no map tiles: the fleet service's stream (GET /api/fleet/stream, one
// "positions" event per interval with the vehicles of the box that moved since the last one) is
// kept as the latest position of each vehicle, and each animation frame draws them as points on a
// plain equirectangular projection of the view (longitudes scaled by the cosine of the middle
// latitude, so a city keeps its shape), over a grid of round degrees. The view follows the
// vehicles (their extent, with a margin) until the reader sets a box of their own; a vehicle not
// heard of for FADE_MS fades out. The stream's box is the view's when set, else the whole world.
import { h } from '../dom.js';
import { count, rate } from './format.js';

const WORLD = [-180, -90, 180, 90];
const INTERVAL_MS = 500;
const LIMIT = 1000;
const FADE_MS = 15000;

// "minLon,minLat,maxLon,maxLat" -> [4 numbers], or null when it is not a box.
export function parseBox(text) {
    const v = String(text || '').split(',').map((x) => Number(x.trim()));
    if (v.length !== 4 || v.some((x) => !Number.isFinite(x))) return null;
    const [x0, y0, x1, y1] = v;
    if (x0 < -180 || x1 > 180 || y0 < -90 || y1 > 90 || x0 >= x1 || y0 >= y1) return null;
    return v;
}

// A round grid step (degrees) giving about 4 to 10 lines across span degrees.
function gridStep(span) {
    const steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 45, 90];
    return steps.find((s) => span / s <= 10) || 90;
}

// The view around the vehicles: their extent with a 10 % margin, at least 0.01 degree wide.
function fitted(vehicles) {
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (const v of vehicles.values()) {
        x0 = Math.min(x0, v.lon);
        x1 = Math.max(x1, v.lon);
        y0 = Math.min(y0, v.lat);
        y1 = Math.max(y1, v.lat);
    }
    if (!Number.isFinite(x0)) return WORLD;
    const mx = Math.max((x1 - x0) * 0.1, 0.005);
    const my = Math.max((y1 - y0) * 0.1, 0.005);
    return [Math.max(-180, x0 - mx), Math.max(-90, y0 - my), Math.min(180, x1 + mx), Math.min(90, y1 + my)];
}

function colors(canvas) {
    const css = getComputedStyle(canvas);
    const get = (name, dflt) => css.getPropertyValue(name).trim() || dflt;
    return { grid: get('--border', '#dde1e7'), text: get('--muted', '#586170'), dot: get('--publish', '#1d5a8a'), fast: get('--call', '#b45309') };
}

function draw(canvas, view, vehicles, now) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const hgt = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
        canvas.width = Math.round(w * dpr);
        canvas.height = Math.round(hgt * dpr);
    }
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    const c = colors(canvas);
    // fit the box in the canvas keeping its shape (x scaled by cos of the middle latitude)
    const [x0, y0, x1, y1] = view;
    const k = Math.cos((((y0 + y1) / 2) * Math.PI) / 180);
    const scale = Math.min(w / ((x1 - x0) * k), hgt / (y1 - y0));
    const ox = (w - (x1 - x0) * k * scale) / 2;
    const oy = (hgt - (y1 - y0) * scale) / 2;
    const px = (lon) => ox + (lon - x0) * k * scale;
    const py = (lat) => hgt - oy - (lat - y0) * scale;
    g.strokeStyle = c.grid;
    g.fillStyle = c.text;
    g.lineWidth = 1;
    g.font = '11px system-ui, sans-serif';
    const step = gridStep(Math.max(x1 - x0, y1 - y0));
    const digits = Math.max(0, -Math.floor(Math.log10(step)));
    for (let lon = Math.ceil(x0 / step) * step; lon <= x1; lon += step) {
        g.beginPath();
        g.moveTo(px(lon), py(y0));
        g.lineTo(px(lon), py(y1));
        g.stroke();
        g.fillText(`${lon.toFixed(digits)}°`, px(lon) + 3, py(y0) - 4);
    }
    for (let lat = Math.ceil(y0 / step) * step; lat <= y1; lat += step) {
        g.beginPath();
        g.moveTo(px(x0), py(lat));
        g.lineTo(px(x1), py(lat));
        g.stroke();
        g.fillText(`${lat.toFixed(digits)}°`, px(x0) + 3, py(lat) - 3);
    }
    let shown = 0;
    for (const v of vehicles.values()) {
        if (v.lon < x0 || v.lon > x1 || v.lat < y0 || v.lat > y1) continue;
        const age = now - v.seen;
        g.globalAlpha = age > FADE_MS ? 0.25 : 1 - (0.75 * age) / FADE_MS;
        g.fillStyle = v.speed > 20 ? c.fast : c.dot;
        const x = px(v.lon);
        const y = py(v.lat);
        g.fillRect(x - 1.5, y - 1.5, 3, 3);
        if (v.speed > 0.5 && vehicles.size <= 2000) {
            // a short stroke where it heads (heading: degrees clockwise from north)
            const a = (v.heading * Math.PI) / 180;
            g.strokeStyle = g.fillStyle;
            g.beginPath();
            g.moveTo(x, y);
            g.lineTo(x + 6 * Math.sin(a), y - 6 * Math.cos(a));
            g.stroke();
        }
        shown++;
    }
    g.globalAlpha = 1;
    return shown;
}

export function fleetPage(signal) {
    const vehicles = new Map(); // id -> {lat, lon, speed, heading, ts, seen}
    const params = new URLSearchParams(location.search);
    let box = parseBox(params.get('bbox')); // the reader's box, else null: follow the vehicles
    const canvas = h('canvas', { class: 'fleet-canvas', role: 'img', 'aria-label': 'The fleet: no vehicle yet' });
    const summary = h('p', { class: 'muted small', 'aria-live': 'polite' }, 'Waiting for the fleet’s stream…');
    const problem = h('p', { class: 'notice notice-info', hidden: true });
    const input = h('input', { id: 'fleet-box', class: 'input', type: 'text', inputmode: 'decimal', placeholder: 'minLon,minLat,maxLon,maxLat', value: box ? box.join(',') : '', spellcheck: 'false' });
    const form = h('form', { class: 'fleet-controls' },
        h('label', { for: 'fleet-box' }, 'Box'),
        input,
        h('button', { type: 'submit', class: 'btn btn-sm btn-primary' }, 'Show'),
        h('button', { type: 'button', class: 'btn btn-sm btn-outline', onclick: () => setBox(null) }, 'Follow the vehicles'));
    form.addEventListener('submit', (e) => {
        e.preventDefault();
        const b = parseBox(input.value);
        if (!b) {
            problem.hidden = false;
            problem.textContent = 'A box is four numbers: minLon,minLat,maxLon,maxLat, each in range, min below max.';
            return;
        }
        setBox(b);
    });

    let source = null;
    let updates = 0;
    let events = 0;
    let truncated = false;
    const rates = []; // [time, updates] of the last few seconds
    function connect() {
        source?.close();
        vehicles.clear();
        const b = (box || WORLD).join(',');
        source = new EventSource(`/api/fleet/stream?bbox=${encodeURIComponent(b)}&interval=${INTERVAL_MS}&limit=${LIMIT}`);
        source.addEventListener('open', () => (problem.hidden = true));
        source.addEventListener('error', () => {
            problem.hidden = false;
            problem.textContent = 'The fleet service is not answering right now (is it running? tandem ps); retrying.';
        });
        source.addEventListener('positions', (e) => {
            let data;
            try {
                data = JSON.parse(e.data);
            } catch {
                return;
            }
            const now = performance.now();
            for (const v of data.vehicles || []) vehicles.set(v.id, { ...v, seen: now });
            updates += (data.vehicles || []).length;
            events++;
            canvas.dataset.updates = String(updates); // what the stream brought (the tests read it)
            truncated = !!data.truncated;
        });
    }
    function setBox(b) {
        box = b;
        input.value = b ? b.join(',') : '';
        problem.hidden = true;
        const url = new URL(location.href);
        if (b) url.searchParams.set('bbox', b.join(','));
        else url.searchParams.delete('bbox');
        history.replaceState(history.state, '', url);
        connect();
    }
    connect();

    let frame = 0;
    let lastText = 0;
    const tick = () => {
        frame = requestAnimationFrame(tick);
        const now = performance.now();
        const view = box || fitted(vehicles);
        const shown = draw(canvas, view, vehicles, now);
        if (now - lastText >= 1000) {
            lastText = now;
            rates.push([now, updates]);
            while (rates.length > 6) rates.shift();
            const [t0, u0] = rates[0];
            const perSecond = now > t0 ? ((updates - u0) * 1000) / (now - t0) : 0;
            const text = events === 0 ? 'Waiting for the fleet’s first positions…'
                : `${count(shown)} vehicles in view, ${count(vehicles.size)} heard of; ${rate(perSecond)} position updates/s drawn` +
                  (truncated ? ` (the stream sends at most ${LIMIT} per ${INTERVAL_MS} ms: set a smaller box to see every one)` : '');
            summary.textContent = text;
            canvas.setAttribute('aria-label', `The fleet: ${text}`);
        }
    };
    frame = requestAnimationFrame(tick);
    signal.addEventListener('abort', () => {
        cancelAnimationFrame(frame);
        source?.close();
    });

    const page = h('section', { class: 'fleet' },
        h('h2', null, 'Fleet'),
        h('p', { class: 'muted small' }, 'The vehicles of the fleet service as its stream sends them (the newest position of each, every ',
            `${INTERVAL_MS} ms), drawn from the data alone. Orange: faster than 20 m/s. A vehicle not heard of for 15 s fades.`),
        form, problem, canvas, summary);
    return page;
}

