#!/usr/bin/env python3
"""Time jacnet's benchmark tasks in PyTorch and print PyTorch/jacnet ratios.

Nets (float32, batch B = 128, the same shapes as bench/bench_mlp.cpp and bench/bench_lenet.cpp):
  mlp784  MLP 784-256-256-10, tanh
  mlp32   MLP 32-64-64-4, tanh
  lenet5  LeNet-5 on 1x28x28: conv 5x5x6 pad 2, tanh, avgpool 2, conv 5x5x16, tanh, avgpool 2,
          flatten, dense 400-120-84-10 with tanh between the dense layers

Tasks (each a complete step, inputs already in memory):
  train      forward + backward: cross-entropy, gradients w.r.t. all parameters
  jac        per-sample full input Jacobian [B x K x D], fastest of: functorch vmap(jacrev)
             (vmap_jacrev); K torch.autograd.grad calls with retain_graph, call k seeded with the
             one-hot column k for every sample (backward_loop); the same K seeds in one call with
             is_grads_batched=True (vmap_grad)
  jacfwd     per-sample full input Jacobian by functorch vmap(jacfwd) (slow: seconds; not default)
  jm_full    Jacobian-matching step by double backprop: CE + mean_b sum ||J_T - J_S||^2 over the full
             Jacobian, create_graph=True, gradients w.r.t. the student's parameters. The teacher
             (same shape, other seed) gives J_T without a graph: computed once before timing
             (--teacher precomputed, the default, as in jacnet's benchmarks) or in every step
             (--teacher step). Fastest of the three Jacobian methods above.
  jm_top1    the same on one row per sample: the teacher's argmax output class (precomputed or
             in the step like J_T)
  jnorm_rp1  Jacobian-norm step (Hoffman, Roberts & Yaida 2019), one random projection:
             CE + 1/2 * (K/B) * sum_b ||v_b^T J_b||^2, v_b uniform on the unit sphere, drawn in the step

Before timing, each task's PyTorch code is checked: vmap(jacrev) == backward_loop == vmap_grad
(== vmap(jacfwd) when timed; float32), the autograd Jacobian against central finite differences (float64), and the gradient of
every loss against central finite differences of the loss along a random parameter direction
(float64, small batch). A failed check aborts with exit code 1.

Timing, the statistic of bench/run_all.sh's table (Google Benchmark's real_time with repetitions):
one untimed call, then --repetitions repetitions, each calling the step until --min-time seconds
have passed and taking the mean wall time per call; reported: the median over the repetitions.
PyTorch runs at its best: OMP_WAIT_POLICY=PASSIVE is put into the environment before the
interpreter starts (the script re-executes itself when it is not set: libgomp reads it only when
torch loads it), torch's and OpenBLAS's thread counts = --threads, Debian's libopenblas0-pthread
as libblas.so.3 (the header warns when another BLAS is mapped).

jacnet's numbers come from Google Benchmark JSON (--benchmark_format=json), either read from files
given with --jacnet-json or produced by running bench_mlp, bench_lenet and bench_losses found under
--build-dir. JACNET_BENCHMARKS below maps benchmark names to (task, net, teacher mode); a missing
benchmark prints as "n/a". Exit 0 when torch is not installed (message only).

Example:
  python3 bench/compare_pytorch.py --build-dir build/bench --out results/compare.csv
  python3 bench/compare_pytorch.py --quick --nets mlp784,lenet5 --tasks train,jac --no-jacnet
  python3 bench/compare_pytorch.py --no-jacnet --json results/pytorch.json   # for bench/run_all.sh
"""

import argparse
import copy
import csv
import ctypes
import glob
import importlib.util
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import warnings

BATCH = 128
THREADS = 2  # default of --threads when OMP_NUM_THREADS is not set
NETS = ("mlp784", "mlp32", "lenet5")
TASKS = ("train", "jac", "jacfwd", "jm_full", "jm_top1", "jnorm_rp1")
DEFAULT_TASKS = ("train", "jac", "jm_full", "jm_top1", "jnorm_rp1")

# (binary, benchmark name, task, net, teacher) in order of preference: for each (task, net) the first
# entry that is present in the results and whose teacher mode (None: no teacher) equals --teacher
# gives the jacnet time. The binary is the executable's name with CMake's doubled prefix removed
# (bench_bench_mlp -> bench_mlp). A name matches when it equals the entry or starts with it followed
# by "/" (Google Benchmark appends "/real_time" and the like). Names are read from
# bench/bench_mlp.cpp, bench/bench_lenet.cpp and bench/bench_losses.cpp.
JACNET_BENCHMARKS = (
    # bench_mlp.cpp (layers, issue 3): Arg 0 = MLP-784, 1 = MLP-32.
    ("bench_mlp", "BM_TrainStep/0", "train", "mlp784", None),
    ("bench_mlp", "BM_TrainStep/1", "train", "mlp32", None),
    ("bench_mlp", "BM_Jacobian/0", "jac", "mlp784", None),
    ("bench_mlp", "BM_Jacobian/1", "jac", "mlp32", None),
    # bench_lenet.cpp (layers, issue 3).
    ("bench_lenet", "BM_TrainStep", "train", "lenet5", None),
    ("bench_lenet", "BM_Jacobian", "jac", "lenet5", None),
    # bench_losses.cpp (loss templates, issue 4): Arg 0 = MLP-784, 1 = LeNet-5, 2 = MLP-32; CE +
    # the matching / norm term, as in this script. Without _LiveTeacher the teacher's outputs and
    # Jacobians are recorded once (TeacherData), with it the teacher net runs in every step.
    ("bench_losses", "BM_JacMatchFull/0", "jm_full", "mlp784", "precomputed"),
    ("bench_losses", "BM_JacMatchFull/1", "jm_full", "lenet5", "precomputed"),
    ("bench_losses", "BM_JacMatchTop1/0", "jm_top1", "mlp784", "precomputed"),
    ("bench_losses", "BM_JacMatchTop1/1", "jm_top1", "lenet5", "precomputed"),
    ("bench_losses", "BM_JacMatchFull_LiveTeacher/0", "jm_full", "mlp784", "step"),
    ("bench_losses", "BM_JacMatchFull_LiveTeacher/1", "jm_full", "lenet5", "step"),
    ("bench_losses", "BM_JacMatchTop1_LiveTeacher/0", "jm_top1", "mlp784", "step"),
    ("bench_losses", "BM_JacMatchTop1_LiveTeacher/1", "jm_top1", "lenet5", "step"),
    ("bench_losses", "BM_JacMatchFull/2", "jm_full", "mlp32", "precomputed"),
    ("bench_losses", "BM_JacMatchTop1/2", "jm_top1", "mlp32", "precomputed"),
    ("bench_losses", "BM_JacMatchFull_LiveTeacher/2", "jm_full", "mlp32", "step"),
    ("bench_losses", "BM_JacMatchTop1_LiveTeacher/2", "jm_top1", "mlp32", "step"),
    ("bench_losses", "BM_JacNormRP1/0", "jnorm_rp1", "mlp784", None),
    ("bench_losses", "BM_JacNormRP1/1", "jnorm_rp1", "lenet5", None),
    ("bench_losses", "BM_JacNormRP1/2", "jnorm_rp1", "mlp32", None),
    # Fallbacks: the layer-level matching steps of bench_mlp / bench_lenet (nn::jacobian_pass +
    # nn::backprop, squared error on outputs instead of CE, teacher Jacobian given), used only
    # when bench_losses' results are absent.
    ("bench_mlp", "BM_JacMatch/0/0", "jm_full", "mlp784", "precomputed"),
    ("bench_mlp", "BM_JacMatch/0/1", "jm_top1", "mlp784", "precomputed"),
    ("bench_mlp", "BM_JacMatch/1/0", "jm_full", "mlp32", "precomputed"),
    ("bench_mlp", "BM_JacMatch/1/1", "jm_top1", "mlp32", "precomputed"),
    ("bench_lenet", "BM_JacMatch/0", "jm_full", "lenet5", "precomputed"),
    ("bench_lenet", "BM_JacMatch/1", "jm_top1", "lenet5", "precomputed"),
)
JACNET_BINARIES = ("bench_mlp", "bench_lenet", "bench_losses")

# Multiply-accumulates per sample of each GEMM layer's forward pass, in order (dense: in*out; conv:
# out_channels*out_h*out_w * in_channels*k*k). Pooling, activations and biases are not counted.
LAYER_MACS = {
    "mlp784": (784 * 256, 256 * 256, 256 * 10),  # sum 268,800
    "mlp32": (32 * 64, 64 * 64, 64 * 4),  # sum 6,400
    "lenet5": (6 * 28 * 28 * 1 * 25, 16 * 10 * 10 * 6 * 25, 400 * 120, 120 * 84, 84 * 10),  # sum 416,520
}
NUM_OUTPUTS = {"mlp784": 10, "mlp32": 4, "lenet5": 10}
INPUT_SHAPE = {"mlp784": (784,), "mlp32": (32,), "lenet5": (1, 28, 28)}


def task_flops(task, net, batch=BATCH):
    """GEMM FLOPs (2 per multiply-add) of one step, the counts of bench/bench_mlp.cpp that
    docs/benchmarks.md lists. With P = sum of LAYER_MACS, P1/PL the first/last layer's, K outputs,
    D inputs, M Jacobian rows per sample:
      forward  F = 2BP
      train    F + 2BP (weight gradients) + 2B(P - P1) (input cotangents above the first layer)
      jac      F + 2BK(P - PL)           (K reverse sweeps; the last layer's is a copy of W)
      jacfwd   F + 2BD(P - P1)           (D tangent sweeps; the first layer's is a copy of W)
      jm_*     F + 2·2BM(P - PL) (backward + tangent sweeps) + 2BMP (second order)
               + 2BP + 2B(P - P1) (final reverse sweep); M = K (jm_full) or 1 (jm_top1, jnorm_rp1)
    The teacher's work is not counted (it is precomputed in jacnet's benchmarks).
    """
    macs = LAYER_MACS[net]
    p, p1, pl = sum(macs), macs[0], macs[-1]
    b, k, d = batch, NUM_OUTPUTS[net], math.prod(INPUT_SHAPE[net])
    fwd = 2 * b * p
    if task == "train":
        return fwd + 2 * b * p + 2 * b * (p - p1)
    if task == "jac":
        return fwd + 2 * b * k * (p - pl)
    if task == "jacfwd":
        return fwd + 2 * b * d * (p - p1)
    m = {"jm_full": k, "jm_top1": 1, "jnorm_rp1": 1}[task]
    return fwd + 4 * b * m * (p - pl) + 2 * b * m * p + 2 * b * p + 2 * b * (p - p1)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def reexec_if_needed(omp_wait_policy):
    """Run this script again, once, when the process did not start with the environment the peer
    needs: OMP_WAIT_POLICY (libgomp reads it once, when torch loads it; PASSIVE unless the
    environment or --omp-wait-policy says otherwise), and Debian's /usr/bin/python3 when the current
    interpreter (e.g. a pyenv shim) cannot import torch. Returns only when no re-exec is needed."""
    env = dict(os.environ)
    if omp_wait_policy == "default":
        env.pop("OMP_WAIT_POLICY", None)
    elif omp_wait_policy:
        env["OMP_WAIT_POLICY"] = omp_wait_policy.upper()
    else:
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    python = sys.executable
    system_python = "/usr/bin/python3"
    if (importlib.util.find_spec("torch") is None and os.path.exists(system_python)
            and os.path.realpath(sys.executable) != os.path.realpath(system_python)):
        log(f"compare_pytorch: torch not importable from {sys.executable}; running {system_python}")
        python = system_python
    if env.get("OMP_WAIT_POLICY") == os.environ.get("OMP_WAIT_POLICY") and python == sys.executable:
        return
    if os.environ.get("JACNET_COMPARE_REEXEC") == "1":  # already re-executed: never loop
        return
    env["JACNET_COMPARE_REEXEC"] = "1"
    os.execve(python, [python, os.path.abspath(__file__)] + sys.argv[1:], env)


def import_torch():
    """Import torch (and functorch). Returns (torch, functorch) or (None, None)."""
    try:
        import torch  # noqa: F401
        import functorch  # noqa: F401
        return torch, functorch
    except ImportError:
        return None, None


# --------------------------------------------------------------------------------------------------
# BLAS / threading report


def openblas_handle():
    """The OpenBLAS library loaded into this process (through torch's libblas.so.3), if any."""
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1]
                if p.startswith("/") and re.search(r"(openblas|libblas|liblapack)", p) and p not in paths:
                    paths.append(p)
    except OSError:
        pass
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            return lib, paths
        except (OSError, AttributeError):
            continue
    return None, paths


def runtime_report(torch, threads):
    lines = []
    lib, paths = openblas_handle()
    if lib is not None:
        lib.openblas_set_num_threads(threads)
        lines.append(f"BLAS: {lib.openblas_get_config().decode()}; core {lib.openblas_get_corename().decode()}; "
                     f"{lib.openblas_get_num_threads()} threads")
    blas_info = re.search(r"BLAS_INFO=([^,]+)", torch.__config__.show())
    lines.append(f"torch BLAS_INFO={blas_info.group(1) if blas_info else '?'}; libraries mapped: "
                 + (", ".join(os.path.realpath(p) for p in paths) or "none"))
    if not any("openblas-pthread" in os.path.realpath(p) for p in paths):
        lines.append("WARNING: libblas.so.3 is not Debian's libopenblas0-pthread (install it: "
                     "JACNET_WITH_TORCH=1 scripts/install_deps.sh); PyTorch may not run at its best")
    lines.append(f"oneDNN (mkldnn) available={torch.backends.mkldnn.is_available()} "
                 f"enabled={torch.backends.mkldnn.enabled}; torch intra-op threads={torch.get_num_threads()}")
    env = {k: os.environ.get(k, "unset") for k in
           ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
            "OMP_WAIT_POLICY")}
    lines.append("env: " + " ".join(f"{k}={v}" for k, v in env.items()))
    try:
        load = os.getloadavg()
        lines.append(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cpus")
    except OSError:
        pass
    return lines


# --------------------------------------------------------------------------------------------------
# Nets and data


def make_net(torch, name, seed):
    nn = torch.nn
    torch.manual_seed(seed)
    if name == "mlp784":
        net = nn.Sequential(nn.Linear(784, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 10))
    elif name == "mlp32":
        net = nn.Sequential(nn.Linear(32, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 4))
    elif name == "lenet5":
        net = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))
    else:
        raise ValueError(f"unknown net {name!r}; expected one of {', '.join(NETS)}")
    return net.float()


def make_data(torch, name, batch, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((batch,) + INPUT_SHAPE[name], generator=g, dtype=dtype)
    y = torch.randint(0, NUM_OUTPUTS[name], (batch,), generator=g)
    return x, y


def unit_directions(torch, batch, k, gen, dtype):
    v = torch.randn(batch, k, generator=gen, dtype=dtype)
    return v / v.norm(dim=1, keepdim=True)


# --------------------------------------------------------------------------------------------------
# PyTorch implementations. Each Jacobian is [B, K, *input_shape].


def jac_autograd(torch, net, x, k, create_graph=False, batched=False):
    """autograd.grad with one-hot seeds: samples are independent, so the vjp of the seed that is
    the one-hot column i for every sample gives row i of every sample's Jacobian. One forward,
    then K backward calls with retain_graph (backward_loop), or the K seeds [K, B, K] in one call
    with is_grads_batched=True (vmap_grad: ATen's batched tensors; ops without a batching rule fall
    back to a loop inside ATen)."""
    xr = x.detach().requires_grad_(True)
    out = net(xr)
    seeds = torch.eye(k, dtype=x.dtype).unsqueeze(1).expand(k, x.shape[0], k).contiguous()
    if batched:
        j = torch.autograd.grad(out, xr, seeds, retain_graph=create_graph, create_graph=create_graph,
                                is_grads_batched=True)[0]
        return j.transpose(0, 1), out
    rows = [torch.autograd.grad(out, xr, seeds[i], retain_graph=create_graph or i + 1 < k,
                                create_graph=create_graph)[0] for i in range(k)]
    return torch.stack(rows, 1), out


def single(net):
    return lambda xi: net(xi.unsqueeze(0)).squeeze(0)


def jac_vmap_jacrev(functorch, net, x):
    return functorch.vmap(functorch.jacrev(single(net)))(x)


def jac_vmap_jacfwd(functorch, net, x):
    return functorch.vmap(functorch.jacfwd(single(net)))(x)


def make_losses(torch, functorch):
    F = torch.nn.functional

    def teacher(task, T, x):
        """The teacher's side of a matching step, no graph: full Jacobian, or (class, Jacobian row)
        of its argmax output. Precomputed once (ctx["teacher"]) or recomputed in every step."""
        if task == "jm_full":
            with torch.no_grad():
                return jac_vmap_jacrev(functorch, T, x)
        xr = x.detach().requires_grad_(True)
        tout = T(xr)
        cls = tout.detach().argmax(1, keepdim=True)
        return cls, torch.autograd.grad(tout.gather(1, cls).sum(), xr)[0]

    def teacher_of(task, T, x, ctx):
        return ctx["teacher"] if "teacher" in ctx else teacher(task, T, x)

    def jm_full_autograd(S, T, x, y, ctx, batched=False):
        jt = teacher_of("jm_full", T, x, ctx)
        js, out = jac_autograd(torch, S, x, ctx["k"], create_graph=True, batched=batched)
        return F.cross_entropy(out, y) + (jt - js).pow(2).sum() / x.shape[0]

    def jm_full_batched(S, T, x, y, ctx):
        return jm_full_autograd(S, T, x, y, ctx, batched=True)

    def jm_full_functorch(S, T, x, y, ctx):
        jt = teacher_of("jm_full", T, x, ctx)

        def f(xi):
            o = S(xi.unsqueeze(0)).squeeze(0)
            return o, o

        js, out = functorch.vmap(functorch.jacrev(f, has_aux=True))(x)
        return F.cross_entropy(out, y) + (jt - js).pow(2).sum() / x.shape[0]

    def jm_top1(S, T, x, y, ctx):
        cls, jt = teacher_of("jm_top1", T, x, ctx)
        xr = x.detach().requires_grad_(True)
        out = S(xr)
        js = torch.autograd.grad(out.gather(1, cls).sum(), xr, create_graph=True)[0]
        return F.cross_entropy(out, y) + (jt - js).pow(2).sum() / x.shape[0]

    def jnorm_rp1(S, T, x, y, ctx):
        k = ctx["k"]
        v = ctx["v"] if "v" in ctx else unit_directions(torch, x.shape[0], k, ctx["gen"], x.dtype)
        xr = x.detach().requires_grad_(True)
        out = S(xr)
        vj = torch.autograd.grad((out * v).sum(), xr, create_graph=True)[0]
        return F.cross_entropy(out, y) + 0.5 * k * vj.pow(2).sum() / x.shape[0]

    return {
        "jm_full": {"backward_loop": jm_full_autograd, "vmap_grad": jm_full_batched,
                    "vmap_jacrev": jm_full_functorch},
        "jm_top1": {"autograd": jm_top1},
        "jnorm_rp1": {"autograd": jnorm_rp1},
    }, teacher


def param_grads(torch, loss, params):
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]


# --------------------------------------------------------------------------------------------------
# Checks (run before timing; raise CheckError on failure)


class CheckError(AssertionError):
    pass


def check_close(torch, name, a, b, rtol):
    a, b = a.detach().double(), b.detach().double()
    scale = max(a.abs().max().item(), b.abs().max().item(), 1e-30)
    err = (a - b).abs().max().item()
    if not err <= rtol * scale:
        raise CheckError(f"{name}: max |a - b| = {err:.3e} exceeds {rtol:.1e} * max|.| = {rtol * scale:.3e}")
    return err / scale


def check_jacobians(torch, functorch, net_name, S, x, with_jacfwd):
    k = NUM_OUTPUTS[net_name]
    ja, _ = jac_autograd(torch, S, x, k)
    jb, _ = jac_autograd(torch, S, x, k, batched=True)
    jr = jac_vmap_jacrev(functorch, S, x)
    notes = [f"vmap(jacrev) vs backward_loop rel {check_close(torch, net_name + ' jacrev/loop', jr, ja, 1e-5):.1e}",
             f"vmap_grad vs backward_loop rel {check_close(torch, net_name + ' vmap_grad/loop', jb, ja, 1e-5):.1e}"]
    if with_jacfwd:
        jf = jac_vmap_jacfwd(functorch, S, x[:8])
        notes.append(f"vmap(jacfwd) rel {check_close(torch, net_name + ' jacfwd/autograd', jf, ja[:8], 1e-5):.1e}")
    # float64 autograd Jacobian against central differences on a few input coordinates of 2 samples.
    S64 = copy.deepcopy(S).double()
    x64 = x[:2].double()
    j64, _ = jac_autograd(torch, S64, x64, k)
    gen = torch.Generator().manual_seed(7)
    flat = x64.reshape(2, -1)
    coords = torch.randperm(flat.shape[1], generator=gen)[:6].tolist()
    h = 1e-6
    worst = 0.0
    with torch.no_grad():
        for c in coords:
            xp, xm = flat.clone(), flat.clone()
            xp[:, c] += h
            xm[:, c] -= h
            fd = (S64(xp.reshape(x64.shape)) - S64(xm.reshape(x64.shape))) / (2 * h)
            worst = max(worst, check_close(torch, f"{net_name} d(out)/d(x[{c}]) vs central differences",
                                           j64.reshape(2, k, -1)[:, :, c], fd, 1e-6))
    notes.append(f"float64 autograd vs central differences rel {worst:.1e}")
    return jr, notes


def check_loss_gradient(torch, task, method, loss_fn, net_name, S, T, x, y):
    """Gradient of the loss (float64, 4 samples) against central differences along a random
    parameter direction."""
    S64, T64 = copy.deepcopy(S).double(), copy.deepcopy(T).double()
    for p in T64.parameters():
        p.requires_grad_(False)
    x64, y4 = x[:4].double(), y[:4]
    k = NUM_OUTPUTS[net_name]
    ctx = {"k": k, "v": unit_directions(torch, 4, k, torch.Generator().manual_seed(11), torch.float64)}
    params = list(S64.parameters())
    grads = param_grads(torch, loss_fn(S64, T64, x64, y4, ctx), params)
    gen = torch.Generator().manual_seed(13)
    dirs = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in params]
    analytic = sum((g * d).sum().item() for g, d in zip(grads, dirs))
    h = 1e-5
    base = [p.detach().clone() for p in params]

    def loss_at(t):
        with torch.no_grad():
            for p, b, d in zip(params, base, dirs):
                p.copy_(b + t * d)
        return loss_fn(S64, T64, x64, y4, ctx).item()

    fd = (loss_at(h) - loss_at(-h)) / (2 * h)
    loss_at(0.0)
    rel = abs(analytic - fd) / max(abs(fd), 1e-12)
    if not rel <= 1e-6:
        raise CheckError(f"{task}/{method} on {net_name}: directional derivative {analytic:.10e} "
                         f"vs central differences {fd:.10e} (rel {rel:.1e})")
    return rel


def check_loss_methods(torch, task, methods, net_name, S, T, x, y):
    if len(methods) < 2:
        return None
    k = NUM_OUTPUTS[net_name]
    params = list(S.parameters())
    ref = None
    worst = 0.0
    for method, fn in methods.items():
        g = param_grads(torch, fn(S, T, x, y, {"k": k}), params)
        if ref is None:
            ref = g
            continue
        for i, (a, b) in enumerate(zip(g, ref)):
            worst = max(worst, check_close(torch, f"{task} {method} grad[{i}] on {net_name}", a, b, 1e-4))
    return worst


# --------------------------------------------------------------------------------------------------
# Timing


def time_fn(fn, repetitions, min_time):
    """Google Benchmark's scheme with repetitions: one untimed call (set-up: allocator caches,
    oneDNN primitives), then `repetitions` times: call fn() until `min_time` seconds have passed
    (at least once) and take the mean wall time per call. Returns (median over the repetitions in
    ms, number of repetitions, fastest repetition's mean in ms)."""
    fn()
    means = []
    for _ in range(repetitions):
        n = 0
        t0 = time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_time:
                break
        means.append(elapsed / n)
    return 1e3 * statistics.median(means), len(means), 1e3 * min(means)


def run_pytorch(torch, functorch, args, nets, tasks):
    """Returns {(task, net): (median ms, method, reps, {method: median ms}, min ms)} ."""
    losses, teacher = make_losses(torch, functorch)
    if args.quick:
        cfg = dict(repetitions=3, min_time=0.05)
    else:
        cfg = dict(repetitions=args.repetitions, min_time=args.min_time)
    slow_cfg = dict(repetitions=1, min_time=0.0)  # vmap(jacfwd): seconds per call
    results = {}
    for net_name in nets:
        k = NUM_OUTPUTS[net_name]
        S = make_net(torch, net_name, seed=1)
        T = make_net(torch, net_name, seed=2).requires_grad_(False)
        Sj = copy.deepcopy(S).requires_grad_(False)  # Jacobian-only tasks need no parameter graph
        x, y = make_data(torch, net_name, args.batch, seed=3, dtype=torch.float32)
        params = list(S.parameters())

        _, notes = check_jacobians(torch, functorch, net_name, Sj, x, "jacfwd" in tasks)
        log(f"[check] {net_name}: " + "; ".join(notes))

        for task in tasks:
            variants = {}
            if task == "train":
                def step():
                    return torch.autograd.grad(torch.nn.functional.cross_entropy(S(x), y), params)
                variants["autograd"] = step
            elif task == "jac":
                variants["vmap_jacrev"] = lambda: jac_vmap_jacrev(functorch, Sj, x)
                variants["backward_loop"] = lambda: jac_autograd(torch, Sj, x, k)[0]
                variants["vmap_grad"] = lambda: jac_autograd(torch, Sj, x, k, batched=True)[0]
            elif task == "jacfwd":
                variants["vmap_jacfwd"] = lambda: jac_vmap_jacfwd(functorch, Sj, x)
            else:
                methods = losses[task]
                rels = [f"{m} vs central differences rel {check_loss_gradient(torch, task, m, fn, net_name, S, T, x, y):.1e}"
                        for m, fn in methods.items()]
                agree = check_loss_methods(torch, task, methods, net_name, S, T, x, y)
                if agree is not None:
                    rels.append(f"methods agree to rel {agree:.1e}")
                log(f"[check] {task} {net_name}: " + "; ".join(rels))
                for m, fn in methods.items():
                    ctx = {"k": k, "gen": torch.Generator().manual_seed(5)}
                    if args.teacher == "precomputed" and task in ("jm_full", "jm_top1"):
                        ctx["teacher"] = teacher(task, T, x)
                    variants[m] = (lambda fn=fn, ctx=ctx: param_grads(torch, fn(S, T, x, y, ctx), params))
            per_method = {}
            for m, fn in variants.items():
                c = slow_cfg if task == "jacfwd" else cfg
                ms, n, fastest = time_fn(fn, **c)
                per_method[m] = (ms, n, fastest)
                log(f"[time] {task:9s} {net_name:6s} {m:13s} {ms:10.3f} ms  (median of {n} repetitions; "
                    f"fastest {fastest:.3f})")
            best = min(per_method, key=lambda m: per_method[m][0])
            results[(task, net_name)] = (per_method[best][0], best, per_method[best][1],
                                         {m: v[0] for m, v in per_method.items()}, per_method[best][2])
    return results


# --------------------------------------------------------------------------------------------------
# jacnet (Google Benchmark JSON)

_UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def binary_stem(path):
    """bench_bench_mlp (CMake target of bench/bench_mlp.cpp) or bench_mlp -> bench_mlp."""
    stem = os.path.basename(path)
    for suffix in (".json", ".exe"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    while stem.startswith("bench_bench_"):
        stem = stem[len("bench_"):]
    return stem


def match_benchmark(binary, name):
    """Index of the JACNET_BENCHMARKS entry that `name` from `binary` is, or None."""
    for i, (b, key, _task, _net, _teacher) in enumerate(JACNET_BENCHMARKS):
        if b == binary and (name == key or name.startswith(key + "/")):
            return i
    return None


def benchmark_times(doc):
    """{run name: ms} of one Google Benchmark JSON document: the median aggregate when repetitions
    were run, else the mean of the iteration entries; real (wall) time; failed runs left out."""
    per_name = {}
    for b in doc.get("benchmarks", []):
        run_name = b.get("run_name", b.get("name", ""))
        if b.get("error_occurred") or "real_time" not in b:
            continue
        ms = float(b["real_time"]) * _UNIT_MS.get(b.get("time_unit", "ns"), 1e-6)
        entry = per_name.setdefault(run_name, {"iter": [], "median": None})
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                entry["median"] = ms
        else:
            entry["iter"].append(ms)
    return {name: e["median"] if e["median"] is not None else statistics.mean(e["iter"])
            for name, e in per_name.items() if e["median"] is not None or e["iter"]}


def parse_benchmark_json(doc, source):
    """{entry index: (ms, "binary:name")} from one Google Benchmark JSON document (source: its file
    or binary, used when the document does not name its executable); times of benchmark_times."""
    binary = binary_stem(doc.get("context", {}).get("executable") or source)
    out = {}
    for name, ms in benchmark_times(doc).items():
        i = match_benchmark(binary, name)
        if i is not None and i not in out:
            out[i] = (ms, f"{binary}:{name}")
    return out


def select_jacnet(found, teacher):
    """{(task, net): (ms, name)}: per (task, net) the first table entry found that fits --teacher."""
    out = {}
    for i, (_b, _key, task, net, mode) in enumerate(JACNET_BENCHMARKS):
        if i in found and (task, net) not in out and mode in (None, teacher):
            out[(task, net)] = found[i]
    return out


def find_binary(build_dir, stem):
    # CMake names bench/<stem>.cpp's target bench_<stem>; accept both spellings.
    for name in (stem, "bench_" + stem):
        p = os.path.join(build_dir, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def load_jacnet(args):
    docs = []
    if args.jacnet_json:
        for spec in args.jacnet_json:
            files = sorted(glob.glob(os.path.join(spec, "*.json"))) if os.path.isdir(spec) else [spec]
            for f in files:
                try:
                    with open(f) as fh:
                        docs.append((json.load(fh), f))
                except (OSError, json.JSONDecodeError) as e:
                    log(f"[jacnet] cannot read {f}: {e}; its benchmarks show as n/a")
    elif not args.no_jacnet:
        for stem in JACNET_BINARIES:
            exe = find_binary(args.build_dir, stem)
            if exe is None:
                log(f"[jacnet] {stem} not found under {args.build_dir}; its benchmarks show as n/a")
                continue
            cmd = [exe, "--benchmark_format=json"] + (args.jacnet_args.split() if args.jacnet_args else [])
            log("[jacnet] running " + " ".join(cmd))
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if proc.returncode != 0:
                log(f"[jacnet] {exe} exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
            try:
                docs.append((json.loads(proc.stdout), exe))
            except json.JSONDecodeError:
                log(f"[jacnet] {exe} printed no JSON; its benchmarks show as n/a")
    found = {}
    for d, source in docs:
        for i, v in parse_benchmark_json(d, source).items():
            found.setdefault(i, v)
    return select_jacnet(found, args.teacher)


# --------------------------------------------------------------------------------------------------


def fmt_ms(v):
    if v is None:
        return "n/a"
    return f"{v:.4f}" if v < 1 else (f"{v:.3f}" if v < 100 else f"{v:.1f}")


def print_table(rows):
    head = ["task", "net", "PyTorch ms", "jacnet ms", "ratio", "PyTorch method (others ms)", "jacnet benchmark"]
    cells = [head] + [[r["task"], r["net"], fmt_ms(r["pytorch_ms"]), fmt_ms(r["jacnet_ms"]),
                       "n/a" if r["ratio"] is None else f"{r['ratio']:.1f}x", r["method_note"],
                       r["jacnet_name"] or "n/a"] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells[1:]:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(c, widths)) + " |")


def write_json(path, doc):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(path + ".tmp", path)
    log(f"[out] wrote {path}")


def parse_list(s, allowed, what):
    items = [t.strip() for t in s.split(",") if t.strip()]
    bad = [t for t in items if t not in allowed]
    if bad:
        raise SystemExit(f"compare_pytorch: unknown {what} {', '.join(bad)}; expected some of {', '.join(allowed)}")
    return items


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--quick", action="store_true", help="3 repetitions of >= 0.05 s each")
    ap.add_argument("--tasks", default=",".join(DEFAULT_TASKS), help=f"comma list of {', '.join(TASKS)}")
    ap.add_argument("--nets", default=",".join(NETS), help=f"comma list of {', '.join(NETS)}")
    ap.add_argument("--jacfwd", action="store_true", help="also time vmap(jacfwd) (seconds per call)")
    ap.add_argument("--batch", type=int, default=BATCH, help="batch size (default 128)")
    ap.add_argument("--repetitions", type=int, default=5, help="repetitions per measurement (default 5); "
                    "the median of the repetitions' mean time per call is reported")
    ap.add_argument("--min-time", type=float, default=0.2,
                    help="seconds of calls per repetition, at least one call (default 0.2)")
    default_threads = int(os.environ["OMP_NUM_THREADS"]) if os.environ.get("OMP_NUM_THREADS", "").isdigit() else THREADS
    ap.add_argument("--threads", type=int, default=default_threads,
                    help=f"torch and OpenBLAS threads (default: OMP_NUM_THREADS, else {THREADS})")
    ap.add_argument("--out", help="write the table as CSV to this path")
    ap.add_argument("--json", help="write every method's time and the run's context as JSON to this path "
                    "(bench/run_all.sh reads it); written with \"installed\": false when torch is missing")
    ap.add_argument("--build-dir", default="./build/bench", help="where bench_mlp, bench_lenet, bench_losses are")
    ap.add_argument("--jacnet-json", action="append",
                    help="Google Benchmark JSON file (or directory of *.json) instead of running the binaries; repeatable")
    ap.add_argument("--jacnet-args", default="", help="extra arguments for the jacnet binaries (quoted)")
    ap.add_argument("--no-jacnet", action="store_true", help="PyTorch only")
    ap.add_argument("--teacher", choices=("precomputed", "step"), default="precomputed",
                    help="jm_full/jm_top1: teacher Jacobian (and top-1 class) computed once before timing, "
                         "as jacnet's benchmarks do (default), or inside every step")
    ap.add_argument("--omp-wait-policy", choices=("passive", "active", "default"),
                    help="OMP_WAIT_POLICY for torch's OpenMP pool (default: passive unless the environment sets it; "
                         "spinning OpenMP threads starve OpenBLAS's own threads on 2 cores)")
    args = ap.parse_args()
    tasks = parse_list(args.tasks, TASKS, "task")
    if args.jacfwd and "jacfwd" not in tasks:
        tasks.append("jacfwd")
    nets = parse_list(args.nets, NETS, "net")

    # libgomp reads OMP_WAIT_POLICY when torch loads it: the process must start with it.
    reexec_if_needed(args.omp_wait_policy)
    torch, functorch = import_torch()
    if torch is None:
        print("compare_pytorch: PyTorch (python3-torch with functorch) is not installed; skipping the comparison.")
        if args.json:
            write_json(args.json, {"installed": False, "context": {}, "results": []})
        return 0
    torch.set_num_threads(args.threads)
    timing = ("quick" if args.quick else f"median of {args.repetitions} repetitions of >= {args.min_time} s, "
              "mean per call, after one untimed call; time.perf_counter")
    header = [f"PyTorch {torch.__version__}, functorch {functorch.__version__}, Python {platform.python_version()}, "
              f"float32, batch {args.batch}, {args.threads} threads, timing: {timing}; teacher {args.teacher}"]
    header += runtime_report(torch, args.threads)
    for line in header:
        print("# " + line)
    sys.stdout.flush()

    # is_grads_batched warns once per op that has no batching rule (its ATen fallback is a loop).
    warnings.filterwarnings("ignore", message="There is a performance drop because we have not yet implemented")
    try:
        results = run_pytorch(torch, functorch, args, nets, tasks)
    except CheckError as e:
        print(f"compare_pytorch: CHECK FAILED: {e}", file=sys.stderr)
        return 1
    if args.json:
        write_json(args.json, {
            "installed": True,
            "context": {"peer": f"PyTorch {torch.__version__}", "header": header, "threads": args.threads,
                        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset"), "batch": args.batch,
                        "teacher": args.teacher, "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:])},
            "results": [{"task": t, "net": n, "method": m, "ms": v}
                        for (t, n), r in results.items() for m, v in r[3].items()],
        })
    jacnet = load_jacnet(args)

    rows = []
    for net_name in nets:
        for task in tasks:
            ms, method, reps, per_method, fastest = results[(task, net_name)]
            jn = jacnet.get((task, net_name))
            others = ", ".join(f"{m} {fmt_ms(v)}" for m, v in per_method.items() if m != method)
            rows.append({
                "task": task, "net": net_name, "pytorch_ms": ms, "pytorch_method": method,
                "method_note": method + (f" ({others})" if others else ""),
                "pytorch_reps": reps, "pytorch_min_ms": fastest,
                "pytorch_gflops": (task_flops(task, net_name, args.batch) / (ms * 1e6)
                                   if task_flops(task, net_name, args.batch) else None),
                "jacnet_ms": jn[0] if jn else None, "jacnet_name": jn[1] if jn else None,
                "ratio": ms / jn[0] if jn else None,
            })
    print_table(rows)
    print("# ratio = PyTorch ms / jacnet ms (> 1: jacnet faster); command: "
          + " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]))
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["task", "net", "pytorch_ms", "pytorch_min_ms", "pytorch_method", "pytorch_reps", "pytorch_gflops",
                        "jacnet_ms", "jacnet_benchmark", "ratio_pytorch_over_jacnet"])
            for r in rows:
                w.writerow([r["task"], r["net"], f"{r['pytorch_ms']:.6g}", f"{r['pytorch_min_ms']:.6g}",
                            r["pytorch_method"], r["pytorch_reps"],
                            "" if r["pytorch_gflops"] is None else f"{r['pytorch_gflops']:.4g}",
                            "" if r["jacnet_ms"] is None else f"{r['jacnet_ms']:.6g}", r["jacnet_name"] or "",
                            "" if r["ratio"] is None else f"{r['ratio']:.4g}"])
        log(f"[out] wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
