#!/usr/bin/env python3
"""Reads bench/http/run.sh's CSV; prints a Markdown table of per-server medians and their ratio to
nginx (server CPU per request, requests/s)."""
import csv
import statistics
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
cmd = sys.argv[2] if len(sys.argv) > 2 else ""
servers = []
for r in rows:
    if r["server"] not in servers:
        servers.append(r["server"])
med = {}
for s in servers:
    rs = [r for r in rows if r["server"] == s]
    user = [100.0 * int(r["user_ticks"]) / int(r["cpu_ticks"]) for r in rs if "user_ticks" in r]
    med[s] = (statistics.median(float(r["cpu_us_per_req"]) for r in rs),
              statistics.median(float(r["rps"]) for r in rs), len(rs),
              statistics.median(user) if user else None)
base = med.get("nginx")
print(f"HTTP GET /hello, 27-byte JSON, keep-alive; load: `{cmd}` on core 1, server on core 0, "
      "one worker; medians")
print()
print("| server | runs | server CPU µs/request | vs nginx | user-space share | requests/s | vs nginx |")
print("|---|---:|---:|---:|---:|---:|---:|")
for s in servers:
    cpu, rps, n, user = med[s]
    rc = f"{cpu / base[0]:.2f}" if base else "-"
    rr = f"{rps / base[1]:.2f}" if base else "-"
    us = f"{user:.0f} %" if user is not None else "-"
    print(f"| {s} | {n} | {cpu:.2f} | {rc} | {us} | {rps:,.0f} | {rr} |")
