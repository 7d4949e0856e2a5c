#!/usr/bin/env python3
"""fuzz/make_corpus.py — writes the seed corpora in fuzz/corpus/<target>/ (small valid and
nearly-valid files). Needs numpy (Debian's /usr/bin/python3 has it). Each seed starts with the
mode byte(s) its target reads first (see the comment at the top of each fuzz_<target>.cpp)."""
import io
import json
import os
import struct
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(code, dims, payload):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def gz(b):
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(b) + c.flush()


def npy(arr):
    f = io.BytesIO()
    np.save(f, arr)
    return f.getvalue()


def safetensors(tensors, meta=None):
    header, data, off = {}, b"", 0
    if meta:
        header["__metadata__"] = meta
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        data += raw
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


idx_files = {
    "u8": idx(0x08, [2, 3], bytes(range(6))),
    "i8": idx(0x09, [3], bytes([0xFD, 1, 2])),
    "i16": idx(0x0B, [2], struct.pack(">hh", -2, 256)),
    "i32": idx(0x0C, [1, 1], struct.pack(">i", 70000)),
    "f32": idx(0x0D, [2], struct.pack(">ff", 1.5, -0.25)),
    "f64": idx(0x0E, [1], struct.pack(">d", -0.25)),
    "labels": idx(0x08, [10], bytes([9, 0, 0, 3, 0, 2, 7, 2, 5, 5])),
    "huge": idx(0x08, [65536, 65536], b""),
}
for k, v in idx_files.items():
    put("idx_plain", k, bytes([0]) + v)
    put("idx_plain", k + "_f", bytes([2]) + v)
    put("idx_gzip", k, bytes([0, 0]) + gz(v))  # mode 0: a real gzip file
    put("idx_gzip", k + "_z", bytes([1, 6]) + v)  # mode 1: compressed by the target
put("idx_gzip", "cut", bytes([2, 128]) + idx_files["u8"])
put("idx_gzip", "members", bytes([3, 100]) + idx_files["f64"])
put("idx_gzip", "trailing", bytes([4, 200]) + idx_files["u8"] + b"junk")

npy_files = {
    "f4": np.arange(6, dtype="<f4").reshape(2, 3),
    "f8": np.linspace(-1, 1, 5),
    "u1": np.arange(8, dtype=np.uint8).reshape(2, 2, 2),
    "i4": np.array([1, -2, 3], dtype="<i4"),
    "i8": np.array([9, 0, 3, 7], dtype="<i8"),
    "scalar": np.float64(2.5),
    "empty": np.zeros((0, 3)),
}
for i, (k, v) in enumerate(npy_files.items()):
    put("npy", k, bytes([i % 5]) + npy(np.asarray(v)))
put("npy", "i8_allow", bytes([0x80 | 1]) + npy(npy_files["i8"]))

st = {
    "f64": [("w", "F64", [2, 2], struct.pack("<4d", 1, 2, 3, 4))],
    "mixed": [("a", "F32", [2], struct.pack("<2f", 1, 2)), ("b", "U8", [3], bytes([1, 2, 3])),
              ("c", "I64", [1], struct.pack("<q", 5))],
    "empty": [("z", "F32", [0, 4], b"")],
}
for k, v in st.items():
    put("safetensors", k, safetensors(v, {"format": "pt"}))


def f64(*xs):
    return struct.pack("<%dd" % len(xs), *xs)


params = [("0.weight", [4, 3]), ("0.bias", [4]), ("2.weight", [4]), ("2.bias", [4]),
          ("2.running_mean", [4]), ("2.running_var", [4]), ("3.weight", [2, 4]), ("3.bias", [2])]
tens = []
for name, shape in params:
    n = int(np.prod(shape))
    tens.append((name, "F64", shape, f64(*[0.1 * i for i in range(n)])))
put("weights", "st_double", bytes([0]) + safetensors(tens, {"format": "pt"}))
tens32 = [(n, "F32", s, struct.pack("<%df" % int(np.prod(s)), *range(int(np.prod(s))))) for n, s in params]
put("weights", "st_float", bytes([2]) + safetensors(tens32 + [("2.num_batches_tracked", "I64", [], struct.pack("<q", 3))]))
rec = b""
names = ["0.weight", "0.bias", "2.weight", "2.bias", "2.running_mean", "2.running_var", "3.weight", "3.bias"]
for i, (name, shape) in enumerate(params):
    b = npy(np.arange(int(np.prod(shape)), dtype="<f8").reshape(shape))
    rec += bytes([names.index(name)]) + struct.pack("<H", len(b)) + b
put("weights", "npy_double", bytes([1]) + rec)
