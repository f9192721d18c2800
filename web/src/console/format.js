// format.js: how the console writes its numbers.

// Per second: "0", "0.4", "12", "1.2k".
export function rate(x) {
    if (x == null || !Number.isFinite(x)) return '—';
    if (x === 0) return '0';
    if (x < 10) return x.toFixed(1).replace(/\.0$/, '');
    if (x < 10000) return String(Math.round(x));
    return `${(x / 1000).toFixed(1)}k`;
}

// Milliseconds: "—" (no requests), "0.4 ms", "12 ms", "1.2 s".
export function ms(x) {
    if (x == null || !Number.isFinite(x)) return '—';
    if (x < 1) return `${x.toFixed(2)} ms`;
    if (x < 100) return `${x.toFixed(1)} ms`;
    if (x < 1000) return `${Math.round(x)} ms`;
    return `${(x / 1000).toFixed(1)} s`;
}

export function percent(x) {
    if (x == null || !Number.isFinite(x)) return '—';
    return `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
}

export function count(n) {
    if (n == null || !Number.isFinite(n)) return '—';
    return n.toLocaleString('en');
}

// "4s", "3m12s", "2h05m".
export function uptime(msec) {
    const s = Math.floor((msec || 0) / 1000);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
    return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
}

// A record's time: the time of day, with milliseconds; the date too when not today.
export function time(t) {
    if (t == null || t < 0) return '—';
    const d = new Date(t);
    const clock = d.toLocaleTimeString('en-GB', { hour12: false }) + `.${String(d.getMilliseconds()).padStart(3, '0')}`;
    return d.toDateString() === new Date().toDateString() ? clock : `${d.toISOString().slice(0, 10)} ${clock}`;
}
