#!/usr/bin/env python3
"""Write the markdown table of one bench/run_all.sh run (jacnet, libtorch C++ and PyTorch measured
in the same run) to stdout. Reads only what that run wrote into its results directory:

  run_info.txt                 "key: value" lines (date, machine, CPU flags, build, load, command)
  jacnet_t<N>/bench_*.json     jacnet's Google Benchmark JSON at the run's thread count N
  jacnet_t1/bench_*.json       the same at 1 thread (when N > 1)
  libtorch.json                bench_compare_libtorch's Google Benchmark JSON
  pytorch.json                 bench/compare_pytorch.py --json
  status.txt                   "<peer>=<why it has no figures>" (not installed, not built, failed ...)

One statistic for every figure: the median over the repetitions of the mean wall time per call
(Google Benchmark's real_time with --benchmark_repetitions, "median" aggregate; compare_pytorch.py
times PyTorch the same way). A figure that was not measured is printed as what happened ("not
installed", "not built", "failed", "n/a"), never estimated.

A second table lists jacnet's set-up and steady-state counters (first call, allocations and page
faults per call, workspace bytes per sample) where its benchmarks report them.

usage: python3 bench/make_table.py RESULTS_DIR [--into FILE] > RESULTS_DIR/table.md
  --into FILE   also replace what is between the lines "<!-- run_all.sh table -->" and
                "<!-- end run_all.sh table -->" of FILE with the table (written atomically)
"""

import glob
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_pytorch as cp  # noqa: E402  (nets, tasks, FLOP counts, jacnet benchmark names)

TASK_TITLES = {
    "train": "training step (CE, forward + backward)",
    "jac": "per-sample full Jacobian",
    "jm_full": "Jacobian-matching step, full Jacobian",
    "jm_top1": "Jacobian-matching step, top-1 row",
    "jnorm_rp1": "Jacobian-norm step, 1 random projection",
}
NET_TITLES = {"mlp784": "MLP-784", "mlp32": "MLP-32", "lenet5": "LeNet-5"}
MS = cp._UNIT_MS
BEGIN, END = "<!-- run_all.sh table -->", "<!-- end run_all.sh table -->"
SETUP_COUNTERS = (("first_call_ms", "first call ms", "{:.3g}"), ("x_first", "first ÷ steady", "{:.2g}"),
                  ("allocs_per_iter", "allocations per call", "{:.3g}"),
                  ("faults_per_iter", "page faults per call", "{:.3g}"),
                  ("state_bytes_per_sample", "workspace bytes per sample", "{:.0f}"))


def read_info(path):
    info = {}
    try:
        with open(path) as f:
            for line in f:
                key, sep, value = line.rstrip("\n").partition(": ")
                if sep and key not in info:
                    info[key] = value
    except OSError:
        pass
    return info


def read_status(path):
    status = {}
    try:
        with open(path) as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep:
                    status[key] = value
    except OSError:
        pass
    return status


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def jacnet_times(directory):
    """{(task, net): (ms, "binary:name")}, the sgemm 512³ rate (GFLOP/s, or None) with its source,
    and {"binary:name": {counter: median}} of one set of jacnet JSON files."""
    found, sgemm, sgemm_bench, counters = {}, [], [], {}
    for f in sorted(glob.glob(os.path.join(directory, "*.json"))):
        doc = read_json(f)
        if doc is None:
            continue
        for i, v in cp.parse_benchmark_json(doc, f).items():
            found.setdefault(i, v)
        binary = cp.binary_stem(doc.get("context", {}).get("executable") or f)
        for b in doc.get("benchmarks", []):
            if b.get("aggregate_name") == "median":
                counters[f"{binary}:{b.get('run_name', '')}"] = {
                    k: float(b[k]) for k, _, _ in SETUP_COUNTERS if k in b}
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            if "sgemm_GFLOPs" in b:  # bench/support/sgemm_rate.hpp, one value per process
                sgemm.append(float(b["sgemm_GFLOPs"]))
            elif b.get("run_name", b.get("name", "")).startswith("BM_EigenSgemm512") and \
                    b.get("aggregate_name") == "median" and "real_time" in b:
                ms = float(b["real_time"]) * MS.get(b.get("time_unit", "ns"), 1e-6)
                sgemm_bench.append(2 * 512 ** 3 / (ms * 1e6))
    rate = statistics.median(sgemm) if sgemm else (statistics.median(sgemm_bench) if sgemm_bench else None)
    source = "sgemm_GFLOPs" if sgemm else ("BM_EigenSgemm512" if sgemm_bench else None)
    return cp.select_jacnet(found, "precomputed"), rate, source, counters


def libtorch_times(doc):
    """{(task, net): {method: ms}} from bench_compare_libtorch's JSON (names task/net/method)."""
    out = {}
    for name, ms in cp.benchmark_times(doc).items():
        parts = name.split("/")
        if len(parts) >= 3:
            out.setdefault((parts[0], parts[1]), {})[parts[2]] = ms
    return out


def pytorch_times(doc):
    out = {}
    for r in doc.get("results", []):
        out.setdefault((r["task"], r["net"]), {})[r["method"]] = float(r["ms"])
    return out


def fmt(ms):
    if ms is None:
        return "n/a"
    return f"{ms:.3f}" if ms < 1 else (f"{ms:.2f}" if ms < 10 else (f"{ms:.1f}" if ms < 1000 else f"{ms:.0f}"))


def ratio(a, b):
    return f"{a / b:.1f}×" if a is not None and b is not None and b > 0 else "–"


def peer_cell(methods, absent):
    """(best ms or None, cell text)."""
    if absent:
        return None, absent
    if not methods:
        return None, "n/a"
    best = min(methods, key=methods.get)
    note = f" ({best})" if len(methods) > 1 else ""
    return methods[best], fmt(methods[best]) + note


def main():
    args = sys.argv[1:]
    into = None
    if len(args) == 3 and args[1] == "--into":
        into = args[2]
        args = args[:1]
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    d = args[0]
    info = read_info(os.path.join(d, "run_info.txt"))
    status = read_status(os.path.join(d, "status.txt"))
    threads = int(info.get("threads", cp.THREADS))

    jn, sgemm, sgemm_src, counters = jacnet_times(os.path.join(d, f"jacnet_t{threads}"))
    jn1 = jacnet_times(os.path.join(d, "jacnet_t1"))[0] if threads > 1 else jn
    lt_doc = None if status.get("libtorch") else read_json(os.path.join(d, "libtorch.json"))
    lt_absent = status.get("libtorch") or (None if lt_doc else "failed (no JSON)")
    lt = libtorch_times(lt_doc) if lt_doc else {}
    pt_doc = None if status.get("pytorch") else read_json(os.path.join(d, "pytorch.json"))
    if status.get("pytorch"):
        pt_absent = status["pytorch"]
    elif pt_doc is None:
        pt_absent = "failed (no JSON)"
    elif not pt_doc.get("installed", False):
        pt_absent = "not installed"
    else:
        pt_absent = None
    pt = pytorch_times(pt_doc) if pt_doc and not pt_absent else {}

    def jacnet_cell(result, task, net, n):
        """A jacnet time, or why the binary that would have measured it has none."""
        if result:
            return fmt(result[0])
        for binary, _key, t, nt, _mode in cp.JACNET_BENCHMARKS:
            if (t, nt) == (task, net) and status.get(f"jacnet_t{n}:{binary}"):
                return status[f"jacnet_t{n}:{binary}"]
        return "n/a"

    loaded = info.get("competing load", "none") != "none"
    under = " under load" if loaded else ""
    out = []
    out.append(f"Measured {info.get('date', '?')} with `{info.get('command', 'bench/run_all.sh')}`.")
    out.append("")
    out.append(f"- Machine: {info.get('cpu', '?')}, {info.get('cpus', '?')} logical CPUs; "
               f"CPU flags: {info.get('cpu flags', '?')}.")
    out.append(f"- jacnet build: {info.get('jacnet build', '?')}.")
    out.append(f"- Threads: {threads} for every program (OMP_NUM_THREADS; the peers also set OpenBLAS "
               f"to it){'; jacnet also at 1 thread' if threads > 1 else ''}. OMP_WAIT_POLICY: jacnet "
               f"{info.get('OMP_WAIT_POLICY', 'unset')} (the caller's environment), the peers PASSIVE "
               f"(they re-execute themselves with it).")
    out.append(f"- Competing load: {info.get('competing load', 'none')}. Load average (1/5/15 min) at "
               f"start {info.get('load average at start', '?')}, at end {info.get('load average at end', '?')}.")
    sg = f"{sgemm:.1f} GFLOP/s" if sgemm else "n/a"
    out.append(f"- Roofline: Eigen sgemm 512³ at {threads} threads = {sg} "
               f"({'bench/support/sgemm_rate.hpp, best of 30, in bench_mlp' if sgemm_src == 'sgemm_GFLOPs' else sgemm_src or 'not measured'}); "
               "`roofline` = the task's GEMM FLOPs (docs/benchmarks.md) at that rate ÷ jacnet's time.")
    pt_version = (pt_doc or {}).get("context", {}).get("peer", "").replace("PyTorch ", "")
    out.append(f"- Peers: libtorch C++ {lt_absent or info.get('libtorch', '?')}; PyTorch "
               f"{pt_absent or pt_version or '?'}. Each peer cell is its "
               "fastest method (named when there are several; all methods below).")
    out.append("- Statistic (every cell): median over the repetitions of the mean wall time per call "
               f"({info.get('repetitions', '?')} repetitions of ≥ {info.get('min time', '?')} s after a warm-up; "
               "Google Benchmark real_time, the same scheme in compare_pytorch.py). Ratios = peer ms ÷ jacnet ms "
               f"at {threads} threads (> 1: jacnet faster).")
    out.append("")
    head = ["net", "task", "GFLOP", f"jacnet {threads} thr ms{under}", "roofline",
            f"jacnet 1 thr ms{under}", f"{threads} thr vs 1", "libtorch ms", "PyTorch ms",
            "libtorch ÷ jacnet", "PyTorch ÷ jacnet", "jacnet benchmark"]
    if threads == 1:
        head = [h for h in head if h not in (f"jacnet 1 thr ms{under}", f"{threads} thr vs 1")]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join("---" for _ in head) + "|")
    details = []
    for net in cp.NETS:
        for task in cp.DEFAULT_TASKS:
            flops = cp.task_flops(task, net)
            j = jn.get((task, net))
            j1 = jn1.get((task, net))
            jms = j[0] if j else None
            j1ms = j1[0] if j1 else None
            lms, lcell = peer_cell(lt.get((task, net), {}), lt_absent)
            pms, pcell = peer_cell(pt.get((task, net), {}), pt_absent)
            roof = f"{100 * flops / (sgemm * 1e9) * 1e3 / jms:.0f} %" if sgemm and jms else "–"
            row = [NET_TITLES[net], TASK_TITLES[task], f"{flops / 1e9:.3f}",
                   jacnet_cell(j, task, net, threads), roof, jacnet_cell(j1, task, net, 1),
                   ratio(j1ms, jms), lcell, pcell, ratio(lms, jms), ratio(pms, jms),
                   f"`{(j or j1)[1]}`" if (j or j1) else "n/a"]
            if threads == 1:
                del row[5:7]
            out.append("| " + " | ".join(row) + " |")
            for peer, methods in (("libtorch", lt.get((task, net), {})), ("PyTorch", pt.get((task, net), {}))):
                if len(methods) > 1:
                    details.append(f"{NET_TITLES[net]} {task} {peer}: " +
                                   ", ".join(f"{m} {fmt(v)}" for m, v in sorted(methods.items(), key=lambda kv: kv[1])))
    if details:
        out.append("")
        out.append("All peer methods (ms, fastest first): " + "; ".join(details) + ".")
    setup_rows = []
    for net in cp.NETS:
        for task in cp.DEFAULT_TASKS:
            j = jn.get((task, net))
            c = counters.get(j[1], {}) if j else {}
            if c:
                setup_rows.append([NET_TITLES[net], TASK_TITLES[task]] +
                                  [fmt_.format(c[k]) if k in c else "–" for k, _, fmt_ in SETUP_COUNTERS])
    if setup_rows:
        out.append("")
        out.append(f"jacnet's set-up and steady state in the same run ({threads} threads; counters of "
                   "bench/support/timed_run.hpp, median over the repetitions; – = not reported by that benchmark):")
        out.append("")
        out.append("| net | task | " + " | ".join(t for _, t, _ in SETUP_COUNTERS) + " |")
        out.append("|" + "|".join("---" for _ in range(2 + len(SETUP_COUNTERS))) + "|")
        out += ["| " + " | ".join(r) + " |" for r in setup_rows]
    text = "\n".join(out)
    print(text)
    if into:
        return replace_between_markers(into, text)
    return 0


def replace_between_markers(path, text):
    try:
        with open(path) as f:
            doc = f.read()
    except OSError as e:
        print(f"make_table: cannot read {path}: {e}", file=sys.stderr)
        return 1
    lines = doc.split("\n")  # the markers are lines of their own (the prose may quote them)
    a = lines.index(BEGIN) if BEGIN in lines else -1
    b = lines.index(END, a + 1) if a >= 0 and END in lines[a + 1:] else -1
    if a < 0 or b < 0:
        print(f"make_table: {path} has no '{BEGIN}' ... '{END}' lines; left unchanged", file=sys.stderr)
        return 1
    new = "\n".join(lines[:a + 1] + [text] + lines[b:])
    with open(path + ".tmp", "w") as f:
        f.write(new)
    os.replace(path + ".tmp", path)
    print(f"make_table: table written into {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
