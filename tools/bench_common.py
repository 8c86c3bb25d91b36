# bench_common.py — what the PyTorch peer scripts (bench_torch.py, bench_torch_conv.py) share: the data, the
# `clae bench --json` runs, torch's import and its CPU threads, and the figures' summaries. Not a test.
import gzip
import json
import os
import platform
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import time

DATA = os.path.join(os.environ.get("CLAE_DATA_DIR", "/usr/share/datasets/fashion-mnist"), "train-images-idx3-ubyte.gz")
CLAE = os.path.join(os.environ.get("CLAE_BUILD", "build"), "clae")

# How to get a torch for the peer column: the PyPI wheel runs on the CPU, no GPU needed.
TORCH_HINT = ("python3 -m venv venv && venv/bin/pip install torch numpy, "
              "then run with venv/bin/python (make bench PYTHON=venv/bin/python)")


def load_idx(path, rows):
    """The first `rows` images of an IDX3 file as bytes, with their count, height and width."""
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        if magic != 0x00000803:
            sys.exit(f"{path}: not an IDX3 image file (magic {magic:#x})")
        n = min(n, rows)
        return f.read(n * h * w), n, h, w


def import_torch():
    """torch, or None when this python cannot import it."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def rows_tensor(torch, data, n, cols):
    """The bytes of load_idx as an n × cols float tensor scaled to [0, 1], as clae reads IDX files."""
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).float().div_(255.0).view(n, cols)


def batch_rows(torch, x_all, step, batch):
    """Rows step*batch … (step+1)*batch − 1 of x_all, wrapping around: the batches `clae bench` takes
    (CLAE_BATCHES_WRAP). A slice when no wrap is needed (no copy), else a gathered copy."""
    n = x_all.shape[0]
    start = (step * batch) % n
    if start + batch <= n:
        return x_all[start:start + batch]
    return x_all[torch.arange(start, start + batch) % n]


def thread_counts(spec):
    """'1,2' → [1, 2]; '' → 1 and every core the process may use (the two a 2-core machine offers)."""
    if spec:
        return sorted({int(t) for t in spec.split(",") if t})
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return sorted({1, cores})


def clae_bench_cmd(clae, only, batch, steps, data, device=None, extra=()):
    """The `clae bench` command line of one workload, JSON and quiet, as a list."""
    cmd = [clae, "bench", "--only", only, "--batch", str(batch), "--steps", str(steps), "--data", data]
    if device:
        cmd += ["--device", device]
    return cmd + list(extra) + ["--json", "-q"]


def run_clae_bench(cmd):
    """Runs a clae_bench_cmd; (the JSON object, its one workload). Raises RuntimeError naming the failure."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    try:
        j = json.loads(p.stdout)
        w = j["workloads"][0]
    except (ValueError, KeyError, IndexError):
        raise RuntimeError(f"{shlex.join(cmd)}: exit {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
    if w["status"] != "ok":
        raise RuntimeError(f"{shlex.join(cmd)}: {w.get('error')}")
    return j, w


def cpu_name():
    """The CPU's model name and the cores this process may use, e.g. 'AMD EPYC (2 cores)'."""
    name = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name} ({cores} cores)"


def min_median(values):
    return min(values), statistics.median(values)


def script_cmd(argv):
    """The command line that ran this script, for a 'reproduce:' line: the interpreter it ran on, a venv's
    by its path (that is where torch lives; its realpath is the system python's), else plain python3 when
    that is the one on PATH."""
    py = sys.executable or "python3"
    if sys.prefix != sys.base_prefix:
        rel = os.path.relpath(py)
        py = rel if not rel.startswith("..") else py
    else:
        on_path = shutil.which("python3")
        if on_path and os.path.realpath(on_path) == os.path.realpath(py):
            py = "python3"
    return shlex.join([py] + list(argv))


def adam_steps_seconds(torch, model, batches, steps, batch):
    """Seconds per Adam step (1e-3) of model on the rows batches(s) gives, bce summed over the outputs and averaged
    over the batch (the sigmoid fused into the loss, as in clae), the first step left out as warm-up."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="sum")
    timed, n = 0.0, 0
    for s in range(steps):
        x = batches(s)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), x) / batch
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if s > 0 or steps == 1:
            timed += dt
            n += 1
    return timed / n
