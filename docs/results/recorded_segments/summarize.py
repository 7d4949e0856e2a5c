"""Summarize ab.sh output: per round and binary, CPU time of Recorded::gradient / ADOL-C replay.
usage: python3 docs/results/recorded_segments/summarize.py ab_1202.txt"""
import collections
import sys

d = {}
for line in open(sys.argv[1]):
    if line.startswith("#"):
        _, _, rnd, v = line.split()[:4]
        continue
    f = line.split()
    d[(v, rnd, f[0])] = float(f[3])
rounds = sorted({k[1] for k in d})
print("binary round | Recorded::gradient CPU / ADOL-C replay CPU = ratio, "
      "Rosenbrock N=16,128,1024 then ode N=16,128,1024")
for v in ("old", "new"):
    for rnd in rounds:
        row = []
        for fn in ("Rosenbrock", "Ode"):
            for n in (16, 128, 1024):
                r = d[(v, rnd, f"BM_recorded_gradient<{fn}>/{n}")]
                a = d[(v, rnd, f"BM_adolc_replay<{fn}>/{n}")]
                row.append(f"{r:.3g}/{a:.3g}={r / a:.3f}")
        print(v, rnd, " ".join(row))
