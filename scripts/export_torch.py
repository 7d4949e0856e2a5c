#!/usr/bin/env python3
"""Export PyTorch nn.Sequential weights to safetensors for jacnet, and write test fixtures.

The safetensors file is written by hand (json + struct, no `safetensors` package): an 8-byte
little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__":
{...}} padded with spaces to a multiple of 8, then the raw little-endian tensors in C order.
Tensor names are the module's state_dict names ("0.weight", "0.bias", "3.weight", ...), which is
what jacnet's nn::Sequential::named_parameters() produces for the same layer sequence. BatchNorm's
`num_batches_tracked` counters are left out (jacnet ignores them anyway).

Commands
  convert IN OUT.safetensors [--dtype float32|float64]
      IN is a file written by torch.save: a state_dict, a dict holding one under "state_dict",
      or a whole nn.Module (loading a module unpickles code: only use files you trust).
  fixtures --out DIR [--model mlp|cnn|opts|all] [--seed S] [--batch B] [--dtype float64|float32]
           [--run MODEL WEIGHTS INPUTS OUT]...
      Builds a small reference net in torch, and writes to DIR/<model>/:
        weights.safetensors     the state_dict
        weights_npy/<name>.npy  the same tensors as .npy files
        inputs.npy              B x D inputs (D = prod of the per-sample shape, NCHW rows)
        outputs.npy             B x K outputs
        jacobians.npy           (B*K) x D per-sample input Jacobians, row b*K + k = d y_k / d x_b
                                (torch.autograd.functional.jacobian, one sample at a time)
        jvp_u.npy, jvp_out.npy  B x D tangents u and the B x K products J_b u_b (autograd jvp)
        vjp_v.npy, vjp_out.npy  B x K cotangents v and the B x D products v_b^T J_b (autograd vjp)
        grads.safetensors       .grad of every parameter (model.named_parameters(), buffers not
                                included) after backward of sum(v * model(x))
        param_grad.npy          the same gradients concatenated in parameters() order
        model.json              the architecture (for humans and for the C++ parity test)
  run --model mlp|cnn --weights W.safetensors --inputs X.npy --out Y.npy
      Loads W (e.g. written by jacnet) into the reference net with load_state_dict(strict=True)
      and writes its outputs on X: the check that jacnet's files load in PyTorch.

Exit status 77 when torch or numpy cannot be imported (the C++ parity test then skips).

As a module:  from export_torch import save_safetensors, load_safetensors, export_module
"""
import argparse
import json
import os
import struct
import sys
import tempfile

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError as e:  # exit code 77: "skipped" for the C++ parity test
    print(f"export_torch.py: needs torch and numpy ({e})", file=sys.stderr)
    sys.exit(77)

_DTYPES = {
    torch.float32: "F32",
    torch.float64: "F64",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.uint8: "U8",
    torch.int8: "I8",
    torch.int16: "I16",
    torch.int32: "I32",
    torch.int64: "I64",
    torch.bool: "BOOL",
}


def _atomic_write(path, chunks):
    """Writes the byte chunks to a temp file next to `path`, fsyncs, then renames over `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            for c in chunks:
                f.write(c)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _tensor_bytes(t):
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: take the raw 16-bit patterns
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    a = t.numpy()
    return a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()


def save_safetensors(tensors, path, metadata=None):
    """Writes a {name: tensor} mapping (in its order) as a safetensors file, atomically."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        if t.dtype not in _DTYPES:
            raise ValueError(f"tensor {name!r}: dtype {t.dtype} has no safetensors name")
        data = _tensor_bytes(t)
        header[name] = {
            "dtype": _DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    _atomic_write(path, [struct.pack("<Q", len(text)), text] + blobs)


def state_tensors(module_or_dict, dtype=None, keep_counters=False):
    """The state_dict (without BatchNorm's num_batches_tracked unless keep_counters), floating
    tensors cast to `dtype` if given."""
    sd = module_or_dict.state_dict() if isinstance(module_or_dict, nn.Module) else module_or_dict
    out = {}
    for name, t in sd.items():
        if name.endswith("num_batches_tracked") and not keep_counters:
            continue
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        out[name] = t
    return out


def export_module(module, path, dtype=None, metadata=None, keep_counters=False):
    """Writes an nn.Module's (usually nn.Sequential's) parameters and buffers to `path`."""
    meta = {"format": "pt", "producer": "jacnet scripts/export_torch.py",
            "torch_version": torch.__version__}
    meta.update(metadata or {})
    save_safetensors(state_tensors(module, dtype, keep_counters), path, meta)


_NP_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "U8": "u1", "I8": "i1", "I16": "<i2",
              "I32": "<i4", "I64": "<i8", "BOOL": "?"}


def load_safetensors(path):
    """Reads a safetensors file (e.g. one written by jacnet) into {name: tensor}, metadata."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        a = np.frombuffer(data[b:end], dtype=_NP_DTYPES[e["dtype"]]).reshape(e["shape"])
        out[name] = torch.from_numpy(a.copy())
    return out, meta


def save_npy_dir(tensors, directory):
    os.makedirs(directory, exist_ok=True)
    for name, t in tensors.items():
        np.save(os.path.join(directory, name + ".npy"), t.detach().cpu().numpy())


# ---- reference nets for the parity test ------------------------------------------------------

def build_model(kind):
    """The reference nets; tests/io/test_torch_parity.cpp builds the same layer sequences."""
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 12), nn.ReLU(),
                              nn.Linear(12, 4))
        shape = [6]
    elif kind == "cnn":
        model = nn.Sequential(
            nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(3, 4, 3, stride=1, padding=0), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(4 * 2 * 2, 5))
        shape = [1, 12, 12]
    elif kind == "opts":
        # PyTorch options: Softplus(beta, threshold) (BatchNorm's spread puts its inputs on both
        # sides of threshold/beta), AvgPool2d with count_include_pad=False and padding, GELU tanh.
        model = nn.Sequential(
            nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.Softplus(beta=2.0, threshold=3.0),
            nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), nn.Flatten(),
            nn.Linear(3 * 4 * 4, 10), nn.GELU(approximate="tanh"), nn.Linear(10, 4))
        shape = [2, 8, 8]
    else:
        raise ValueError(f"unknown model {kind!r} (mlp, cnn or opts)")
    return model, shape


def write_fixtures(kind, out_dir, seed, batch, dtype):
    torch.manual_seed(seed)
    model, shape = build_model(kind)
    model = model.to(dtype).eval()
    with torch.no_grad():  # make biases clearly non-zero so a lost bias would show
        for m in model.modules():
            if getattr(m, "bias", None) is not None:
                m.bias.uniform_(-0.5, 0.5)
            if kind == "opts" and isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.mul_(3.0)  # Jacobian entries well above rounding level
            if isinstance(m, nn.BatchNorm2d):  # non-trivial affine map and statistics
                if kind == "opts":  # a wide spread: Softplus inputs on both sides of 1.5
                    m.weight.uniform_(1.0, 3.0)
                else:
                    m.weight.uniform_(0.5, 1.5)
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(100)
    x = torch.randn([batch] + shape, dtype=dtype)
    with torch.no_grad():
        y = model(x)
    jac = []
    for b in range(batch):
        f = lambda xb: model(xb.unsqueeze(0)).squeeze(0)  # noqa: E731
        j = torch.autograd.functional.jacobian(f, x[b])       # [K, *shape]
        jac.append(j.reshape(j.shape[0], -1))
    jac = torch.cat(jac, 0)                                   # [B*K, D]

    # Products and parameter gradients (eval mode: samples are independent, so the batch
    # function's jvp/vjp are the per-sample products).
    u = torch.randn_like(x)
    v = torch.randn_like(y)
    _, ju = torch.autograd.functional.jvp(model, x, u)
    _, vj = torch.autograd.functional.vjp(model, x, v)
    model.zero_grad()
    (v * model(x)).sum().backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    packed = torch.cat([p.grad.detach().flatten() for p in model.parameters()])

    d = os.path.join(out_dir, kind)
    os.makedirs(d, exist_ok=True)
    # Keep num_batches_tracked (int64) as torch's own state_dict has it: jacnet must skip it.
    export_module(model, os.path.join(d, "weights.safetensors"), metadata={"model": kind},
                  keep_counters=True)
    save_npy_dir(state_tensors(model, keep_counters=True), os.path.join(d, "weights_npy"))
    np.save(os.path.join(d, "inputs.npy"), x.reshape(batch, -1).numpy())
    np.save(os.path.join(d, "outputs.npy"), y.numpy())
    np.save(os.path.join(d, "jacobians.npy"), jac.numpy())
    np.save(os.path.join(d, "jvp_u.npy"), u.reshape(batch, -1).numpy())
    np.save(os.path.join(d, "jvp_out.npy"), ju.detach().numpy())
    np.save(os.path.join(d, "vjp_v.npy"), v.numpy())
    np.save(os.path.join(d, "vjp_out.npy"), vj.detach().reshape(batch, -1).numpy())
    save_safetensors(grads, os.path.join(d, "grads.safetensors"))
    np.save(os.path.join(d, "param_grad.npy"), packed.numpy().reshape(1, -1))
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump({"model": kind, "input_shape": shape, "batch": batch, "seed": seed,
                   "dtype": str(dtype), "layers": [repr(m) for m in model]}, f, indent=1)


def run_model(kind, weights, inputs, out):
    """Loads `weights` into the reference net `kind` (strictly) and saves its outputs on `inputs`."""
    tensors, _ = load_safetensors(weights)
    model, shape = build_model(kind)
    dtype = next(iter(tensors.values())).dtype
    model = model.to(dtype).eval()
    for name, t in model.state_dict().items():  # jacnet does not store BatchNorm counters
        if name.endswith("num_batches_tracked") and name not in tensors:
            tensors[name] = torch.zeros_like(t)
    model.load_state_dict(tensors, strict=True)
    x = torch.from_numpy(np.load(inputs)).to(dtype)
    with torch.no_grad():
        y = model(x.reshape([x.shape[0]] + shape))
    np.save(out, y.numpy())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="torch.save file -> safetensors")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--dtype", choices=["float32", "float64"], default=None)
    fx = sub.add_parser("fixtures", help="reference nets, inputs, outputs, Jacobians")
    fx.add_argument("--out", required=True)
    fx.add_argument("--model", choices=["mlp", "cnn", "opts", "all"], default="all")
    fx.add_argument("--seed", type=int, default=0)
    fx.add_argument("--batch", type=int, default=4)
    fx.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    fx.add_argument("--run", nargs=4, action="append", default=[],
                    metavar=("MODEL", "WEIGHTS", "INPUTS", "OUT"),
                    help="also do `run` (saves a second torch start-up)")
    r = sub.add_parser("run", help="load a safetensors file into a reference net, run inputs")
    r.add_argument("--model", choices=["mlp", "cnn", "opts"], required=True)
    r.add_argument("--weights", required=True)
    r.add_argument("--inputs", required=True, help=".npy, B x D")
    r.add_argument("--out", required=True, help=".npy for the B x K outputs")
    a = p.parse_args(argv)

    if a.cmd == "run":
        run_model(a.model, a.weights, a.inputs, a.out)
        return 0

    if a.cmd == "convert":
        obj = torch.load(a.input, map_location="cpu")
        if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
            obj = obj["state_dict"]
        if not isinstance(obj, (dict, nn.Module)):
            sys.exit(f"export_torch.py: {a.input}: expected a state_dict or an nn.Module, "
                     f"got {type(obj).__name__}")
        dtype = getattr(torch, a.dtype) if a.dtype else None
        if isinstance(obj, nn.Module):
            export_module(obj, a.output, dtype)
        else:
            save_safetensors(state_tensors(obj, dtype), a.output, {"format": "pt"})
        return 0

    dtype = getattr(torch, a.dtype)
    if a.batch < 1:
        sys.exit("export_torch.py: --batch must be >= 1")
    for kind in (["mlp", "cnn", "opts"] if a.model == "all" else [a.model]):
        write_fixtures(kind, a.out, a.seed, a.batch, dtype)
    for kind, weights, inputs, out in a.run:
        run_model(kind, weights, inputs, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
