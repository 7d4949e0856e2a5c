#!/usr/bin/env python3
"""Summarize ab.sh output: per binary, the median over its lines of each benchmark's median;
new/old; and replay / ADOL-C replay computed per line (same process), then the median."""
import re, statistics, sys
rows = {"old": [], "new": []}
for line in open(sys.argv[1]):
    m = re.match(r"round \d+ (old|new) (.*)", line)
    if m:
        rows[m.group(1)].append(dict((k, float(v)) for k, v in re.findall(r"(\S+)=(\S+)", m.group(2))))
med = {t: {k: statistics.median(r[k] for r in rows[t]) for k in rows[t][0]} for t in rows}
print(f"{'benchmark':40s} {'old us':>9s} {'new us':>9s} {'new/old':>8s}  {'old/ADOL-C':>10s} {'new/ADOL-C':>10s}")
for k in med["old"]:
    if "adolc" in k:
        continue
    line = f"{k:40s} {med['old'][k]:9.3g} {med['new'][k]:9.3g} {med['new'][k] / med['old'][k]:8.2f}"
    if "recorded" in k:
        ref = k.replace("recorded_gradient", "adolc_replay")
        ratio = {t: statistics.median(r[k] / r[ref] for r in rows[t]) for t in rows}
        line += f"  {ratio['old']:10.2f} {ratio['new']:10.2f}"
    print(line)
