#!/usr/bin/env python3
"""Prints the broker benchmark's table of medians (Markdown) from the raw CSV that run.sh wrote.

    bench/broker/report.py bench/results/broker-<stamp>.csv

"half load" is min(500,000/s, half the measured acks=1 rate) per server (run.sh explains why);
"half of measured max" is the issue's literal definition. One row per metric, columns tandem-broker, nats-jetstream, ratio (tandem / nats), target and
whether tandem-broker meets it. A target may also be relative: (metric, offset) means the
median of tandem-broker's own `metric` plus offset (the group catch-up must be at least as fast
as one consumer; a failover must end within the session timeout + 1 s). Each cell is the median over the repetitions that produced the
metric, followed by "(n/R)" when some repetitions failed to produce it; "-" when none did.
"""
import csv
import statistics
import sys
from collections import defaultdict

# (metric in the CSV, label, scale applied to the value, format, target, "ge" or "le" or None)
ROWS = [
    ("produce_acks1_rps", "produce acks=1, records/s", 1, "{:,.0f}", 1_000_000, "ge"),
    ("produce_acks1_mbps", "produce acks=1, MB/s (payload)", 1, "{:,.1f}", 100, "ge"),
    ("produce_acksall_rps", "produce acks=all, records/s", 1, "{:,.0f}", 300_000, "ge"),
    ("produce_acksall_mbps", "produce acks=all, MB/s (payload)", 1, "{:,.1f}", None, None),
    ("consume_rps", "consume from start, records/s", 1, "{:,.0f}", None, None),
    ("consume_mbps", "consume from start, MB/s (payload)", 1, "{:,.1f}", None, None),
    ("lat_target_rate", "half load: rate, records/s", 1, "{:,.0f}", None, None),
    ("lat_target_p50_us", "half load: latency p50, ms", 1e-3, "{:,.2f}", None, None),
    ("lat_target_p99_us", "half load: latency p99, ms", 1e-3, "{:,.2f}", 3, "le"),
    ("lat_target_p999_us", "half load: latency p99.9, ms", 1e-3, "{:,.2f}", None, None),
    ("lat_half_rate", "half of measured max: rate, records/s", 1, "{:,.0f}", None, None),
    ("lat_half_p50_us", "half of measured max: latency p50, ms", 1e-3, "{:,.2f}", None, None),
    ("lat_half_p99_us", "half of measured max: latency p99, ms", 1e-3, "{:,.2f}", None, None),
    ("lat_fixed_rate", "fixed load: rate, records/s", 1, "{:,.0f}", None, None),
    ("lat_fixed_p50_us", "fixed load: latency p50, ms", 1e-3, "{:,.2f}", None, None),
    ("lat_fixed_p99_us", "fixed load: latency p99, ms", 1e-3, "{:,.2f}", None, None),
    ("lat_fixed_p999_us", "fixed load: latency p99.9, ms", 1e-3, "{:,.2f}", None, None),
    ("grp_single_rps", "group catch-up, 1 consumer alone, records/s", 1, "{:,.0f}", None, None),
    ("grp_group_rps", "group catch-up, group of 3, records/s", 1, "{:,.0f}",
     ("grp_single_rps", 0), "ge"),
    ("grp_single_first_ms", "group catch-up, 1 consumer: subscribe to first record, ms", 1,
     "{:,.0f}", None, None),
    ("grp_group_first_ms", "group catch-up, group of 3: subscribe to first record, ms", 1,
     "{:,.0f}", None, None),
    ("grp_single_drain_rps", "group catch-up, 1 consumer: first to last record, records/s", 1,
     "{:,.0f}", None, None),
    ("grp_group_drain_rps", "group catch-up, group of 3: first to last record, records/s", 1,
     "{:,.0f}", None, None),
    ("grp_group_dups", "group catch-up, group of 3: records consumed twice", 1, "{:,.0f}",
     None, None),
    ("fo_fast_session_ms", "failover: session.timeout.ms (heartbeat 1000)", 1, "{:,.0f}", None,
     None),
    ("fo_fast_detect_ms", "failover: kill to first survivor revoke, ms", 1, "{:,.0f}", None,
     None),
    ("fo_fast_reassign_ms", "failover: kill to partitions reassigned, ms", 1, "{:,.0f}", None,
     None),
    ("fo_fast_recovered_ms", "failover: kill to all partitions consumed again, ms", 1,
     "{:,.0f}", ("fo_fast_session_ms", 1000), "le"),
    ("fo_default_session_ms", "failover, librdkafka defaults: session.timeout.ms (heartbeat "
     "3000)", 1, "{:,.0f}", None, None),
    ("fo_default_detect_ms", "failover, defaults: kill to first survivor revoke, ms", 1,
     "{:,.0f}", None, None),
    ("fo_default_reassign_ms", "failover, defaults: kill to partitions reassigned, ms", 1,
     "{:,.0f}", None, None),
    ("fo_default_recovered_ms", "failover, defaults: kill to all partitions consumed again, ms",
     1, "{:,.0f}", ("fo_default_session_ms", 1000), "le"),
    ("produce_idem_rps", "idempotent producer, acks=all, records/s", 1, "{:,.0f}", None, None),
    ("produce_txn_rps", "transactional producer, commit every TXN_EVERY records (header), records/s", 1, "{:,.0f}",
     None, None),
    ("txn_ratio_pct", "transactional / idempotent throughput, %", 1, "{:,.1f}", 70, "ge"),
    ("rss_idle_kb", "RSS idle after start, MB", 1 / 1024, "{:,.1f}", 5, "le"),
    ("rss_after_kb", "RSS idle after the run, MB", 1 / 1024, "{:,.1f}", 5, "le"),
    ("rss_peak_kb", "RSS peak during the run (VmHWM), MB", 1 / 1024, "{:,.1f}", None, None),
    ("ready_ms", "exec to ready, ms", 1, "{:,.1f}", 50, "le"),
    ("startup_ms_self", "startup_ms (self-reported), ms", 1, "{:,.1f}", None, None),
    ("sigterm_exit_code", "exit code after SIGTERM", 1, "{:.0f}", None, None),
]
SERVERS = [("tandem", "tandem-broker"), ("nats", "nats-jetstream")]
EXTRA = ("mock", "librdkafka mock (client ceiling)")


def load(path):
    values = defaultdict(list)
    reps = set()
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            reps.add((row["server"], row["rep"]))
            try:
                values[(row["server"], row["metric"])].append(float(row["value"]))
            except ValueError:
                pass
    return values, reps


def median_cell(values, server, metric, scale, fmt, nreps):
    """Returns (median or None, cell text)."""
    v = values.get((server, metric), [])
    if not v:
        return None, "-"
    med = statistics.median(v) * scale
    cell = fmt.format(med)
    if len(v) < nreps:
        cell += f" ({len(v)}/{nreps})"
    return med, cell


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: report.py RESULTS.csv")
    values, reps = load(sys.argv[1])
    nreps = {s: len([r for r in reps if r[0] == s]) for s, _ in SERVERS + [EXTRA]}
    print("| metric (median of runs) | " + " | ".join(n for _, n in SERVERS) +
          f" | ratio | target | tandem meets it | {EXTRA[1]} |")
    print("|---|" + "---:|" * len(SERVERS) + "---:|---|---|---:|")
    for metric, label, scale, fmt, target, sense in ROWS:
        med, cells = {}, []
        for s, _ in SERVERS:
            m, cell = median_cell(values, s, metric, scale, fmt, nreps[s])
            if m is not None:
                med[s] = m
            cells.append(cell)
        extra = median_cell(values, EXTRA[0], metric, scale, fmt, nreps[EXTRA[0]])
        if not med and extra[0] is None:
            continue
        ratio = "-"
        if "tandem" in med and med.get("nats") and metric != "sigterm_exit_code":
            ratio = f"{med['tandem'] / med['nats']:.2f}"
        tgt, ok = "", ""
        if isinstance(target, tuple):
            base = median_cell(values, "tandem", target[0], 1, "{}", 1)[0]
            target = None if base is None else base + target[1]
        if target is not None:
            num = f"{target:,.0f}" if isinstance(target, float) else f"{target:,}"
            tgt = ("≥ " if sense == "ge" else "≤ ") + num
            if "tandem" in med:
                good = med["tandem"] >= target if sense == "ge" else med["tandem"] <= target
                ok = "pass" if good else "**fail**"
            else:
                ok = "**no result**"
        xcell = extra[1] if extra[0] is not None else ""
        print(f"| {label} | " + " | ".join(cells) + f" | {ratio} | {tgt} | {ok} | {xcell} |")


if __name__ == "__main__":
    main()
