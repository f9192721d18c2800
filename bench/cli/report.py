#!/usr/bin/env python3
"""Reads bench/cli/run.sh's CSV; prints Markdown tables of medians: the time from `tandem up` to
ready, and GET /hello latency directly against an instance, through the gateway, and from the
gateway's cache, with what the gateway adds."""
import csv
import statistics
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
cmd = sys.argv[2] if len(sys.argv) > 2 else ""
med = statistics.median

up = [float(r["seconds"]) for r in rows if r["kind"] == "up"]
if up:
    print("`tandem up --detach` until the broker, every instance and nginx are ready "
          "(examples/hello/tandem.yaml, release build)")
    print()
    print("| runs | median s | min s | max s | target |")
    print("|---:|---:|---:|---:|---|")
    verdict = "met" if med(up) <= 2.0 else "missed"
    print(f"| {len(up)} | {med(up):.3f} | {min(up):.3f} | {max(up):.3f} | <= 2 s: {verdict} |")
    print()

lat = [r for r in rows if r["kind"] == "latency"]
cells = {}
for r in lat:
    cells.setdefault((int(r["conns"]), r["target"]), []).append(r)


def m(conns, target, field):
    rs = cells.get((conns, target), [])
    return med(float(r[field]) for r in rs) if rs else None


if lat:
    print(f"GET /hello, keep-alive, closed loop; load: `{cmd}`; medians of "
          f"{max(len(v) for v in cells.values())} rounds (µs)")
    print()
    print("| conns | target | p50 | p90 | p99 | requests/s | added p50 | added p99 |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for conns in sorted({c for c, _ in cells}):
        base50, base99 = m(conns, "direct", "p50_us"), m(conns, "direct", "p99_us")
        for t in ("direct", "gateway", "gateway-cache"):
            if (conns, t) not in cells:
                continue
            p50, p90, p99 = (m(conns, t, f) for f in ("p50_us", "p90_us", "p99_us"))
            rps = m(conns, t, "rps")
            add50 = "-" if t == "direct" else f"{p50 - base50:+.0f}"
            add99 = "-" if t == "direct" else f"{p99 - base99:+.0f}"
            print(f"| {conns} | {t} | {p50:.0f} | {p90:.0f} | {p99:.0f} | {rps:,.0f} | "
                  f"{add50} | {add99} |")
    one = m(1, "gateway", "p50_us"), m(1, "direct", "p50_us")
    if None not in one:
        added = one[0] - one[1]
        verdict = "met" if added <= 100 else "missed"
        print()
        print(f"Added p50 at 1 connection: {added:.0f} µs (target <= 100 µs: {verdict})")
