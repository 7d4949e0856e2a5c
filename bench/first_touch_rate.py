#!/usr/bin/env python3
"""first_touch_rate.py — how fast this machine writes memory it has never written, against
rewriting the same memory: the cost a first call pays for its workspaces (docs/execution.md,
"First call and huge pages"). Maps private anonymous memory (4 KiB pages, then advised
MADV_HUGEPAGE as jacnet's core/huge_pages.hpp does), fills it twice with memset, and prints both
rates. Usage: bench/first_touch_rate.py [MiB]   (default 1024; Linux, Python ≥ 3.8)."""
import ctypes
import mmap
import sys
import time

n = (int(sys.argv[1]) if len(sys.argv) > 1 else 1024) << 20
for huge in (False, True, False, True):
    m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if huge:
        m.madvise(mmap.MADV_HUGEPAGE)
    buf = ctypes.c_char.from_buffer(m)
    a = ctypes.addressof(buf)
    t0 = time.perf_counter()
    ctypes.memset(a, 1, n)
    t1 = time.perf_counter()
    ctypes.memset(a, 2, n)
    t2 = time.perf_counter()
    print("%s pages: first touch %.2f GB/s, rewrite %.2f GB/s"
          % ("2 MiB" if huge else "4 KiB", n / (t1 - t0) / 1e9, n / (t2 - t1) / 1e9))
    del buf
    m.close()
