/*
 * report.c: tandem-ingest's results, three ways.
 *
 *   table  stdout, one column per mode: rates, visible latency, CPU and bytes per update,
 *          failures, the final state's check, the outage;
 *   JSON   the configuration, and per mode every counter, the derived figures, the histogram
 *          and the per-second series, for scripts and for docs/benchmarks.md;
 *   SVG    a chart a browser shows as it is: updates applied per second (top) and the visible
 *          latency's p99 per second on a log scale (bottom), one colour per mode, the outage
 *          shaded. Hand-written SVG 1.1: rects, polylines, text.
 *
 * Per update means per update the transport acknowledged (a 2xx, a delivery report): the figures
 * divide what the whole run used (the window, the drain and the wait for the service to apply)
 * by the updates that reached the service.
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "report.h"

#define HDR_BYTES 66.0 /* a packet on lo: 14 (Ethernet) + 20 (IPv4) + 32 (TCP, timestamps) */

void report_derive(struct result *r)
{
    double ok = r->acked > 0 ? (double)r->acked : NAN;
    r->sent_rate = (double)r->sent / r->window_s;
    double applied = 0, until = 0;
    for (size_t i = 0; i < r->series.n; i++) {
        const struct sample *x = &r->series.s[i];
        if (x->t <= r->window_s + 0.5) {
            applied += x->applied;
            until = x->t;
        }
    }
    r->applied_rate = until > 0 ? applied / until : NAN;
    double total = hist_total(&r->tot.latency);
    double (*quantile)(const struct hist *, double) =
        r->coarse ? hist_quantile_bound : hist_quantile;
    r->p50 = total > 0 ? quantile(&r->tot.latency, 0.50) * 1e3 : NAN;
    r->p99 = total > 0 ? quantile(&r->tot.latency, 0.99) * 1e3 : NAN;
    r->p999 = total > 0 ? quantile(&r->tot.latency, 0.999) * 1e3 : NAN;
    r->cpu_client_pm = r->tot.cpu_client / ok * 1e6;
    r->cpu_service_pm = r->tot.cpu_service / ok * 1e6;
    r->cpu_broker_pm = r->tot.cpu_broker / ok * 1e6;
    r->cpu_gateway_pm = r->tot.cpu_gateway / ok * 1e6;
    r->cpu_total_pm = r->cpu_client_pm + r->cpu_service_pm + r->cpu_broker_pm + r->cpu_gateway_pm;
    r->wire_per_update = r->tot.wire_bytes / ok;
    r->segs_per_update = r->tot.wire_segs / ok;
    r->wire_hdr_per_update = (r->tot.wire_bytes + HDR_BYTES * r->tot.wire_segs) / ok;
    r->lo_per_update = r->tot.lo_bytes / ok;
}

/* ---- the table ------------------------------------------------------------------------------ */

static void cell_num(FILE *f, double v, int decimals)
{
    char buf[64];
    if (!isfinite(v)) {
        fprintf(f, " %16s", "-");
        return;
    }
    if (decimals > 0 || fabs(v) < 999.5) {
        snprintf(buf, sizeof(buf), "%.*f", decimals, v);
        fprintf(f, " %16s", buf);
        return;
    }
    /* thousands separated, as the docs write them */
    char digits[32], out[48];
    snprintf(digits, sizeof(digits), "%.0f", fabs(v));
    size_t n = strlen(digits), k = 0;
    if (v < 0) {
        out[k++] = '-';
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) {
            out[k++] = ',';
        }
        out[k++] = digits[i];
    }
    out[k] = '\0';
    fprintf(f, " %16s", out);
}

typedef double (*getter)(const struct result *r);

static void row(FILE *f, const char *label, const struct result *r, int n, getter g, int dec)
{
    fprintf(f, "%-34s", label);
    for (int i = 0; i < n; i++) {
        cell_num(f, g(&r[i]), dec);
    }
    fputc('\n', f);
}

#define G(name, expr)                          \
    static double name(const struct result *r) \
    {                                          \
        return (expr);                         \
    }
G(g_gen, (double)r->generated)
G(g_sent_rate, r->sent_rate)
G(g_applied_rate, r->applied_rate)
G(g_settled, r->settled ? r->settled_s : NAN)
G(g_p50, r->p50)
G(g_p99, r->p99)
G(g_p999, r->p999)
G(g_ans50, r->answer_p50)
G(g_ans99, r->answer_p99)
G(g_cpu_c, r->cpu_client_pm)
G(g_cpu_s, r->cpu_service_pm)
G(g_cpu_b, r->cpu_broker_pm)
G(g_cpu_g, r->cpu_gateway_pm)
G(g_cpu_t, r->cpu_total_pm)
G(g_wire, r->wire_per_update)
G(g_segs, r->segs_per_update)
G(g_wire_h, r->wire_hdr_per_update)
G(g_lo, r->lo_per_update)
G(g_req, (double)r->requests)
G(g_failed, (double)r->failed)
G(g_retried, (double)r->retried)
G(g_lost, (double)r->lost)
G(g_dropped, (double)r->dropped)
G(g_rejected, (double)r->rejected)
G(g_left, (double)r->left)
G(g_unknown, (double)r->unknown)
G(g_backlog, (double)r->backlog_max)
G(g_stalls, (double)r->stalls)
G(g_lag, r->tot.lag_peak >= 0 ? r->tot.lag_peak : NAN)
G(g_glag, r->tot.glag_peak >= 0 ? r->tot.glag_peak : NAN)
G(g_acked, (double)r->acked)
G(g_applied, r->tot.applied + r->tot.stale)
G(g_v_checked, r->v.done ? (double)r->v.checked : NAN)
G(g_v_match, r->v.done ? (double)r->v.match : NAN)
G(g_v_unknown, r->v.done ? (double)r->v.newer_unknown : NAN)
G(g_v_behind, r->v.done ? (double)r->v.behind : NAN)
G(g_v_other, r->v.done ? (double)(r->v.ahead + r->v.differ + r->v.missing) : NAN)
G(g_v_lost_last, r->v.done ? (double)r->v.lost_last : NAN)
G(g_v_behind_made, r->v.done ? (double)r->v.behind_made : NAN)
G(g_v_expected, r->v.done ? r->v.expected : NAN)
G(g_v_seen, r->v.done ? r->v.seen : NAN)
G(g_out_stop, r->had_outage ? r->outage.stop_begin : NAN)
G(g_out_down, r->had_outage ? r->outage.start_end - r->outage.stop_end : NAN)
G(g_out_start, r->had_outage ? r->outage.start_end - r->outage.start_begin : NAN)
G(g_catchup, r->catchup_s)

void report_table(FILE *f, const struct report_config *c, const struct result *r, int n)
{
    bool fleet = c->workload == WL_FLEET;
    fprintf(f, "\ntandem bench ingest: %s, %llu %s, %.0f updates/s offered, %.1f s a mode",
            fleet ? "fleet positions" : "activity beacons", (unsigned long long)c->vehicles,
            fleet ? "vehicles" : "visitors", c->rate, c->duration_s);
    if (c->outage_s > 0) {
        fprintf(f, ", service stopped %.1f s at %.1f s", c->outage_s, c->outage_at_s);
    }
    fprintf(f, "\n\n%-34s", "");
    for (int i = 0; i < n; i++) {
        fprintf(f, " %16s", r[i].name);
    }
    fputc('\n', f);
    row(f, "updates made", r, n, g_gen, 0);
    row(f, "  acknowledged (2xx / delivered)", r, n, g_acked, 0);
    row(f, "first tries / window seconds", r, n, g_sent_rate, 0);
    row(f, "applied/s during the window", r, n, g_applied_rate, 0);
    row(f, "all applied after (s)", r, n, g_settled, 2);
    row(f, fleet ? "visible latency p50 (ms)" : "visible latency p50 (ms, at most)", r, n, g_p50,
        2);
    row(f, fleet ? "visible latency p99 (ms)" : "visible latency p99 (ms, at most)", r, n, g_p99,
        2);
    row(f, fleet ? "visible latency p99.9 (ms)" : "visible latency p99.9 (ms, at most)", r, n,
        g_p999, 2);
    row(f, "REST answer p50 (ms)", r, n, g_ans50, 2);
    row(f, "REST answer p99 (ms)", r, n, g_ans99, 2);
    row(f, "CPU s / M updates: client", r, n, g_cpu_c, 1);
    row(f, fleet ? "  fleet" : "  activity", r, n, g_cpu_s, 1);
    row(f, "  broker", r, n, g_cpu_b, 1);
    row(f, "  gateway (nginx)", r, n, g_cpu_g, 1);
    row(f, "  total", r, n, g_cpu_t, 1);
    row(f, "wire bytes / update (TCP payload)", r, n, g_wire, 1);
    row(f, "  TCP segments / update", r, n, g_segs, 3);
    row(f, "  bytes with TCP/IP headers", r, n, g_wire_h, 1);
    row(f, "  lo, whole machine", r, n, g_lo, 1);
    row(f, "requests (REST)", r, n, g_req, 0);
    row(f, "failed requests / reports", r, n, g_failed, 0);
    row(f, "retried updates", r, n, g_retried, 0);
    row(f, "lost updates", r, n, g_lost, 0);
    row(f, "  of which backlog full", r, n, g_dropped, 0);
    row(f, "  of which refused (4xx)", r, n, g_rejected, 0);
    row(f, "left unsent after the drain", r, n, g_left, 0);
    row(f, "unknown (sent, no answer)", r, n, g_unknown, 0);
    row(f, "peak client backlog", r, n, g_backlog, 0);
    row(f, "producer queue-full stalls", r, n, g_stalls, 0);
    if (fleet) {
        row(f, "peak consumer lag (broker)", r, n, g_glag, 0);
        row(f, "  (the fleet's metric, 1 s stats)", r, n, g_lag, 0);
    }
    if (fleet) {
        row(f, "fleet applied+stale (metrics)", r, n, g_applied, 0);
        row(f, "final state: vehicles read", r, n, g_v_checked, 0);
        row(f, "  = last acknowledged update", r, n, g_v_match, 0);
        row(f, "  newer, unknown answer (ok)", r, n, g_v_unknown, 0);
        row(f, "  BEHIND: acknowledged, lost", r, n, g_v_behind, 0);
        row(f, "  wrong/missing/unexplained", r, n, g_v_other, 0);
        row(f, "last update made: lost (ledger)", r, n, g_v_lost_last, 0);
        row(f, "  not in the state (fleet)", r, n, g_v_behind_made, 0);
    } else {
        row(f, "beacons accepted (2xx)", r, n, g_v_expected, 0);
        row(f, "  counted by the totals", r, n, g_v_seen, 0);
    }
    if (c->outage_s > 0) {
        row(f, "outage: stop asked at (s)", r, n, g_out_stop, 2);
        row(f, "  down for (s)", r, n, g_out_down, 2);
        row(f, "  start took (s)", r, n, g_out_start, 2);
        row(f, "  caught up after start (s)", r, n, g_catchup, 1);
    }
    fputc('\n', f);
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *series_json(const struct series *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n; i++) {
        const struct sample *x = &s->s[i];
        json_array_append_new(
            a, json_pack(
                   "{s:o,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:o,s:o,s:o,s:o,s:o,s:f,s:f,s:f,s:f,"
                   "s:f,s:f,s:f,s:i}",
                   "t", json_real(x->t), "sent", x->sent, "acked", x->acked, "failed", x->failed,
                   "retried", x->retried, "lost", x->lost, "applied", x->applied, "backlog",
                   x->backlog, "lag", x->lag >= 0 ? json_real(x->lag) : json_null(), "group_lag",
                   x->glag >= 0 ? json_real(x->glag) : json_null(), "p50_ms", num_or_null(x->p50),
                   "p99_ms", num_or_null(x->p99), "p999_ms", num_or_null(x->p999), "cpu_client_s",
                   x->cpu_client, "cpu_service_s", x->cpu_service, "cpu_broker_s", x->cpu_broker,
                   "cpu_gateway_s", x->cpu_gateway, "wire_bytes", x->wire_bytes, "wire_segments",
                   x->wire_segs, "lo_bytes", x->lo_bytes, "service_up", x->fleet_up));
    }
    return a;
}

static json_t *hist_json(const struct hist *h)
{
    json_t *b = json_array();
    for (int i = 0; i < h->n; i++) {
        json_array_append_new(b,
                              json_pack("{s:o,s:f}", "le",
                                        isinf(h->le[i]) ? json_string("+Inf") : json_real(h->le[i]),
                                        "count", h->count[i]));
    }
    return json_pack("{s:o,s:f}", "buckets", b, "sum_s", h->sum);
}

static json_t *result_json(const struct result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "mode", json_string(r->name));
    json_object_set_new(o, "source", json_string(r->source));
    json_object_set_new(o, "target", json_string(r->path));
    json_object_set_new(o, "window_s", json_real(r->window_s));
    json_object_set_new(o, "settled", json_boolean(r->settled));
    json_object_set_new(o, "settled_s", json_real(r->settled_s));
    /* activity: the latency quantiles are bucket bounds ("at most"), read every 50 ms */
    json_object_set_new(o, "latency_quantiles_are_bounds", json_boolean(r->coarse));
    json_t *c = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "generated",
                          (json_int_t)r->generated, "sent", (json_int_t)r->sent, "acknowledged",
                          (json_int_t)r->acked, "requests", (json_int_t)r->requests, "failed",
                          (json_int_t)r->failed, "retried", (json_int_t)r->retried, "lost",
                          (json_int_t)r->lost, "rejected", (json_int_t)r->rejected, "dropped",
                          (json_int_t)r->dropped, "left", (json_int_t)r->left, "unknown",
                          (json_int_t)r->unknown, "backlog_peak", (json_int_t)r->backlog_max,
                          "producer_stalls", (json_int_t)r->stalls);
    json_object_set_new(o, "counts", c);
    json_object_set_new(
        o, "figures",
        json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
                  "sent_per_s", num_or_null(r->sent_rate), "applied_per_s_window",
                  num_or_null(r->applied_rate), "visible_p50_ms", num_or_null(r->p50),
                  "visible_p99_ms", num_or_null(r->p99), "visible_p999_ms", num_or_null(r->p999),
                  "answer_p50_ms", num_or_null(r->answer_p50), "answer_p99_ms",
                  num_or_null(r->answer_p99), "cpu_s_per_m_client", num_or_null(r->cpu_client_pm),
                  "cpu_s_per_m_service", num_or_null(r->cpu_service_pm), "cpu_s_per_m_broker",
                  num_or_null(r->cpu_broker_pm), "cpu_s_per_m_gateway",
                  num_or_null(r->cpu_gateway_pm), "cpu_s_per_m_total", num_or_null(r->cpu_total_pm),
                  "wire_bytes_per_update", num_or_null(r->wire_per_update),
                  "wire_segments_per_update", num_or_null(r->segs_per_update),
                  "wire_bytes_with_headers_per_update", num_or_null(r->wire_hdr_per_update),
                  "lo_bytes_per_update", num_or_null(r->lo_per_update), "consumer_lag_peak",
                  r->tot.glag_peak >= 0 ? json_real(r->tot.glag_peak) : json_null(),
                  "consumer_lag_peak_fleet_metric",
                  r->tot.lag_peak >= 0 ? json_real(r->tot.lag_peak) : json_null(), "catchup_s",
                  num_or_null(r->catchup_s)));
    json_object_set_new(
        o, "totals",
        json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:o}", "service_applied",
                  r->tot.applied, "service_stale", r->tot.stale, "service_rejected",
                  r->tot.rejected, "cpu_client_s", r->tot.cpu_client, "cpu_service_s",
                  r->tot.cpu_service, "cpu_broker_s", r->tot.cpu_broker, "cpu_gateway_s",
                  r->tot.cpu_gateway, "wire_bytes", r->tot.wire_bytes, "wire_segments",
                  r->tot.wire_segs, "lo_bytes", r->tot.lo_bytes, "lo_packets", r->tot.lo_packets,
                  "visible_latency", hist_json(&r->tot.latency)));
    if (r->v.done) {
        json_object_set_new(
            o, "final_state",
            json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f}", "checked",
                      (json_int_t)r->v.checked, "match", (json_int_t)r->v.match, "newer_unknown",
                      (json_int_t)r->v.newer_unknown, "behind", (json_int_t)r->v.behind, "ahead",
                      (json_int_t)r->v.ahead, "differ", (json_int_t)r->v.differ, "missing",
                      (json_int_t)r->v.missing, "skipped", (json_int_t)r->v.skipped, "lost_last",
                      (json_int_t)r->v.lost_last, "behind_made", (json_int_t)r->v.behind_made,
                      "last_unknown", (json_int_t)r->v.last_unknown, "expected", r->v.expected,
                      "seen", r->v.seen));
    }
    if (r->had_outage) {
        json_object_set_new(o, "outage",
                            json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:i,s:i}", "at_s", r->outage.at_s,
                                      "length_s", r->outage.length_s, "stop_begin_s",
                                      r->outage.stop_begin, "stop_end_s", r->outage.stop_end,
                                      "start_begin_s", r->outage.start_begin, "start_end_s",
                                      r->outage.start_end, "stop_exit", r->outage.stop_rc,
                                      "start_exit", r->outage.start_rc));
    }
    json_object_set_new(o, "series", series_json(&r->series));
    return o;
}

int report_json(const char *path, const struct report_config *c, const struct result *r, int n)
{
    json_t *modes = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(modes, result_json(&r[i]));
    }
    json_t *doc = json_pack("{s:s,s:s,s:{s:s,s:I,s:f,s:f,s:i,s:i,s:i,s:f,s:f},s:o}", "tool",
                            "tandem bench ingest", "command", c->command, "config", "workload",
                            c->workload == WL_FLEET ? "fleet" : "activity", "vehicles",
                            (json_int_t)c->vehicles, "rate", c->rate, "duration_s", c->duration_s,
                            "connections", c->conns, "batch", c->batch, "linger_ms", c->linger_ms,
                            "outage_s", c->outage_s, "outage_at_s", c->outage_at_s, "modes", modes);
    int rc = doc != NULL ? json_dump_file(doc, path, JSON_INDENT(1)) : -1;
    json_decref(doc);
    if (rc != 0) {
        fprintf(stderr, "tandem bench ingest: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

/* ---- SVG ------------------------------------------------------------------------------------ */

#define W     960
#define H     620
#define LEFT  90
#define RIGHT 190
#define TOP1  60
#define BOT1  290
#define TOP2  340
#define BOT2  570

static const char *const COLOURS[] = {"#1f77b4", "#d62728", "#2ca02c",
                                      "#9467bd", "#ff7f0e", "#8c564b"};

static void xml_text(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '<') {
            fputs("&lt;", f);
        } else if (*s == '>') {
            fputs("&gt;", f);
        } else if (*s == '&') {
            fputs("&amp;", f);
        } else if (*s == '"') {
            fputs("&quot;", f);
        } else {
            fputc(*s, f);
        }
    }
}

/* A "nice" step for an axis from 0 to max with about 5 ticks. */
static double nice_step(double max)
{
    double raw = max / 5, mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static void fmt_count(char *buf, size_t cap, double v)
{
    if (v >= 1e6) {
        snprintf(buf, cap, "%gM", v / 1e6);
    } else if (v >= 1e3) {
        snprintf(buf, cap, "%gk", v / 1e3);
    } else {
        snprintf(buf, cap, "%g", v);
    }
}

int report_svg(const char *path, const struct report_config *c, const struct result *r, int n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "tandem bench ingest: cannot write %s\n", path);
        return -1;
    }
    double tmax = 1, rmax = 1, lmin = INFINITY, lmax = 0;
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < r[i].series.n; k++) {
            const struct sample *x = &r[i].series.s[k];
            double dt = k > 0 ? x->t - r[i].series.s[k - 1].t : x->t;
            double rate = dt > 0 ? x->applied / dt : 0;
            tmax = x->t > tmax ? x->t : tmax;
            rmax = rate > rmax ? rate : rmax;
            if (isfinite(x->p99) && x->p99 > 0) {
                lmin = x->p99 < lmin ? x->p99 : lmin;
                lmax = x->p99 > lmax ? x->p99 : lmax;
            }
        }
    }
    double lo_dec = isfinite(lmin) ? floor(log10(lmin)) : -1;
    double hi_dec = lmax > 0 ? ceil(log10(lmax)) : 2;
    hi_dec = hi_dec <= lo_dec ? lo_dec + 1 : hi_dec;
    double rstep = nice_step(rmax);
    rmax = ceil(rmax / rstep) * rstep;
    double tstep = nice_step(tmax);
    tmax = ceil(tmax / tstep) * tstep;
#define XP(t)  (LEFT + (W - LEFT - RIGHT) * (t) / tmax)
#define YR(v)  (BOT1 - (BOT1 - TOP1) * (v) / rmax)
#define YL(ms) (BOT2 - (BOT2 - TOP2) * (log10(ms) - lo_dec) / (hi_dec - lo_dec))

    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
            W, H, W, H, W, H);
    /* the title from the left edge, at a size that keeps its longest form inside W */
    fputs("<text x=\"10\" y=\"24\" font-size=\"13\" font-weight=\"bold\">", f);
    fprintf(f, "tandem bench ingest: %s, %llu %s, %.0f updates/s offered, %.0f s a mode%s",
            c->workload == WL_FLEET ? "fleet positions" : "activity beacons",
            (unsigned long long)c->vehicles, c->workload == WL_FLEET ? "vehicles" : "visitors",
            c->rate, c->duration_s, c->outage_s > 0 ? ", with an outage" : "");
    fputs("</text>\n", f);
    /* the outage, shaded in both panels (the first mode that had one) */
    for (int i = 0; i < n; i++) {
        const struct outage *o = &r[i].outage;
        if (r[i].had_outage && o->stop_begin >= 0 && o->start_end >= 0) {
            for (int p = 0; p < 2; p++) {
                fprintf(f,
                        "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#bbbbbb\" "
                        "fill-opacity=\"0.35\"/>\n",
                        XP(o->stop_begin), p ? TOP2 : TOP1, XP(o->start_end) - XP(o->stop_begin),
                        p ? BOT2 - TOP2 : BOT1 - TOP1);
            }
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" fill=\"#555\">service stopped (%.1f s)</text>\n",
                    XP(o->stop_begin) + 3, TOP1 + 14, o->start_end - o->stop_begin);
            break;
        }
    }
    /* axes and grid */
    fprintf(f, "<g stroke=\"#dddddd\">\n");
    for (double v = 0; v <= rmax + rstep / 2; v += rstep) {
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", LEFT, YR(v), W - RIGHT,
                YR(v));
    }
    for (double d = lo_dec; d <= hi_dec; d++) {
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", LEFT, YL(pow(10, d)),
                W - RIGHT, YL(pow(10, d)));
    }
    for (double t = 0; t <= tmax + tstep / 2; t += tstep) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n", XP(t), TOP1, XP(t),
                BOT1);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n", XP(t), TOP2, XP(t),
                BOT2);
    }
    fputs("</g>\n<g fill=\"#333\">\n", f);
    char buf[32];
    for (double v = 0; v <= rmax + rstep / 2; v += rstep) {
        fmt_count(buf, sizeof(buf), v);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", LEFT - 6, YR(v) + 4,
                buf);
    }
    for (double d = lo_dec; d <= hi_dec; d++) {
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", LEFT - 6,
                YL(pow(10, d)) + 4, pow(10, d));
    }
    for (double t = 0; t <= tmax + tstep / 2; t += tstep) {
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", XP(t), BOT1 + 16,
                t);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", XP(t), BOT2 + 16,
                t);
    }
    fputs("</g>\n", f);
    fprintf(f,
            "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">updates applied per second</text>\n"
            "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">visible latency p99 per second (ms, "
            "log scale)</text>\n"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">seconds since the mode began</text>\n",
            LEFT, TOP1 - 8, LEFT, TOP2 - 8, (W - RIGHT + LEFT) / 2, H - 14);
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#888\"/>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
            "fill=\"none\" stroke=\"#888\"/>\n",
            LEFT, TOP1, W - LEFT - RIGHT, BOT1 - TOP1, LEFT, TOP2, W - LEFT - RIGHT, BOT2 - TOP2);
    /* one line per mode in each panel; a second with no latency breaks the line */
    for (int i = 0; i < n; i++) {
        const char *col = COLOURS[i % 6];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        for (size_t k = 0; k < r[i].series.n; k++) {
            const struct sample *x = &r[i].series.s[k];
            double dt = k > 0 ? x->t - r[i].series.s[k - 1].t : x->t;
            fprintf(f, "%.1f,%.1f ", XP(x->t), YR(dt > 0 ? x->applied / dt : 0));
        }
        fputs("\"/>\n", f);
        bool open = false;
        for (size_t k = 0; k < r[i].series.n; k++) {
            const struct sample *x = &r[i].series.s[k];
            bool have = isfinite(x->p99) && x->p99 > 0;
            if (have && !open) {
                fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                        col);
                open = true;
            }
            if (have) {
                fprintf(f, "%.1f,%.1f ", XP(x->t), YL(x->p99));
            } else if (open) {
                fputs("\"/>\n", f);
                open = false;
            }
        }
        if (open) {
            fputs("\"/>\n", f);
        }
        int ly = TOP1 + 20 + i * 44;
        fprintf(f,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                "stroke-width=\"3\"/>\n<text x=\"%d\" y=\"%d\" font-weight=\"bold\">",
                W - RIGHT + 14, ly, W - RIGHT + 40, ly, col, W - RIGHT + 46, ly + 4);
        xml_text(f, r[i].name);
        fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" fill=\"#555\" font-size=\"11\">%.0f/s, p99 ",
                W - RIGHT + 46, ly + 18, r[i].applied_rate);
        if (isfinite(r[i].p99)) {
            fprintf(f, "%.1f ms", r[i].p99);
        } else {
            fputs("-", f);
        }
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0) {
        rc = -1;
    }
    if (rc != 0) {
        fprintf(stderr, "tandem bench ingest: cannot write %s\n", path);
    }
    return rc;
}
