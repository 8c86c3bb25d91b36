#!/usr/bin/env python3
# bench_torch.py — the dense autoencoders of `clae bench` (training and inference) timed in PyTorch on the CPU,
# interleaved with clae round by round (A B A B), each case judged against its performance target. Not a test.
"""Usage: python3 tools/bench_torch.py [--clae build/clae] [--device SPEC] [--cases NAME,...] [--rounds 3]
                                       [--steps 20] [--calls 100] [--threads 1,2] [--data PATH] [--json]

Cases (--cases takes names or the prefixes train, infer):
  train-b64, train-b256, train-b1024  the reference model 784-256-64-256-784 (relu hidden units, sigmoid
                                      output, bce summed over pixels and averaged over the batch, Adam 1e-3),
                                      --steps steps at that batch: clae bench --only dense
  train-wide-b256                     784-2048-512-2048-784, the same otherwise: clae bench --only wide
  infer-b1, infer-b16, infer-b256     the reference model's reconstruction (forward pass to the sigmoid
                                      outputs, no gradient; torch under torch.inference_mode()), --calls
                                      calls on batches of that many rows: clae bench --only infer
Both sides take the same rows (the first of Fashion-MNIST, scaled by 1/255, consecutive batches wrapping
around), time only the step or call, and leave the first one out as warm-up. Each round runs clae (a
`clae bench --json` process) and then torch at every --threads count, keeping torch's fastest: a case's
ratio per round is torch's best ms / clae's ms (above 1: clae is faster), and its target is met when
the median ratio reaches it. Without an importable torch it says so and exits 0.
"""
import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the sources for the one shared module
import bench_common as bc  # noqa: E402

REF = [784, 256, 64, 256, 784]
WIDE = [784, 2048, 512, 2048, 784]


class Case:
    def __init__(self, name, mode, batch, layers, only, target, goal):
        self.name, self.mode, self.batch, self.layers, self.only = name, mode, batch, layers, only
        self.target = target  # the median ratio torch ms / clae ms it must reach
        self.goal = goal      # the target in words


# The performance issue's targets: training at least 2x PyTorch's best on the reference model and 1.3x on
# the wide one; inference at batch 1 no slower than PyTorch, at 16 and 256 rows 1.5x its throughput.
CASES = [
    Case("train-b64", "train", 64, REF, "dense", 2.0, ">= 2x torch samples/s"),
    Case("train-b256", "train", 256, REF, "dense", 2.0, ">= 2x torch samples/s"),
    Case("train-b1024", "train", 1024, REF, "dense", 2.0, ">= 2x torch samples/s"),
    Case("train-wide-b256", "train", 256, WIDE, "wide", 1.3, ">= 1.3x torch samples/s"),
    Case("infer-b1", "infer", 1, REF, "infer", 1.0, "<= 1x torch latency"),
    Case("infer-b16", "infer", 16, REF, "infer", 1.5, ">= 1.5x torch rows/s"),
    Case("infer-b256", "infer", 256, REF, "infer", 1.5, ">= 1.5x torch rows/s"),
]


def pick_cases(spec):
    """The cases --cases names (a name, or a prefix such as train); ValueError naming an unknown word."""
    if not spec:
        return CASES
    words = [w for w in spec.split(",") if w]
    chosen = [c for c in CASES if any(c.name == w or c.name.startswith(w + "-") for w in words)]
    unknown = [w for w in words if not any(c.name == w or c.name.startswith(w + "-") for c in CASES)]
    if unknown or not chosen:
        raise ValueError(f"no case {', '.join(unknown) or spec}; the cases: {' '.join(c.name for c in CASES)}")
    return chosen


def mlp(torch, widths):
    """The dense autoencoder as clae builds it: relu hidden layers, a linear last layer whose sigmoid is
    fused into the loss in training (as clae fuses it) and applied at inference."""
    nn = torch.nn
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def torch_train_ms(torch, x_all, widths, batch, steps):
    """ms per Adam step, the first step left out."""
    torch.manual_seed(42)
    model = mlp(torch, widths)
    return 1000.0 * bc.adam_steps_seconds(torch, model, lambda s: bc.batch_rows(torch, x_all, s, batch), steps, batch)


def torch_infer_ms(torch, x_all, widths, batch, calls):
    """ms per reconstruction call (forward and sigmoid, no autograd), the first call left out."""
    torch.manual_seed(42)
    model = mlp(torch, widths).eval()
    timed, n = 0.0, 0
    with torch.inference_mode():
        for s in range(calls):
            x = bc.batch_rows(torch, x_all, s, batch)
            t0 = time.perf_counter()
            torch.sigmoid(model(x))
            dt = time.perf_counter() - t0
            if s > 0 or calls == 1:
                timed += dt
                n += 1
    return 1000.0 * timed / n


def sig(v):
    """v to six significant digits, as clae's JSON rounds its timings (the rest is timer noise)."""
    return float(f"{v:.6g}")


def run_case(torch, a, c, x_all, threads):
    """The case's rounds: clae, then torch at each thread count; the figures and the verdict as a dict."""
    n = a.steps if c.mode == "train" else a.calls
    clae_cmd = bc.clae_bench_cmd(a.clae, c.only, c.batch, n, a.data, a.device)
    clae_ms, torch_ms, torch_thr, device = [], [], [], None
    for _ in range(a.rounds):
        j, w = bc.run_clae_bench(clae_cmd)
        if w["layers"] != c.layers:
            raise RuntimeError(f"{c.name}: clae ran {w['layers']}, the case wants {c.layers}")
        device = f"{j['device']} ({j['platform']} {j['driver_version']})"
        clae_ms.append(w["ms_per_step"])
        best = None
        for t in threads:
            torch.set_num_threads(t)
            f = torch_train_ms if c.mode == "train" else torch_infer_ms
            ms = f(torch, x_all, c.layers, c.batch, n)
            if best is None or ms < best[0]:
                best = (ms, t)
        torch_ms.append(best[0])
        torch_thr.append(best[1])
    torch_ms = [sig(t) for t in torch_ms]
    ratio = [sig(t / m) for t, m in zip(torch_ms, clae_ms)]
    cmin, cmed = bc.min_median(clae_ms)
    tmin, tmed = bc.min_median(torch_ms)
    rmed = bc.min_median(ratio)[1]
    row_cmd = ["tools/bench_torch.py", "--cases", c.name, "--rounds", str(a.rounds),
               "--steps" if c.mode == "train" else "--calls", str(n), "--threads", ",".join(map(str, threads))]
    if a.device:
        row_cmd += ["--device", a.device]
    if os.path.normpath(a.clae) != os.path.normpath(bc.CLAE):
        row_cmd += ["--clae", a.clae]
    if a.data != bc.DATA:
        row_cmd += ["--data", a.data]
    return {
        "case": c.name, "mode": c.mode, "batch": c.batch, "layers": c.layers,
        "steps" if c.mode == "train" else "calls": n, "clae_device": device,
        "clae_ms": clae_ms, "clae_ms_min": cmin, "clae_ms_median": cmed,
        "clae_rows_per_sec_median": sig(1000.0 * c.batch / cmed),
        "torch_ms": torch_ms, "torch_threads": torch_thr, "torch_ms_min": tmin, "torch_ms_median": tmed,
        "torch_rows_per_sec_median": sig(1000.0 * c.batch / tmed),
        "ratio": ratio, "ratio_median": rmed, "target": c.target, "goal": c.goal, "met": rmed >= c.target,
        "command": bc.script_cmd(row_cmd), "clae_command": shlex.join(clae_cmd),
    }


def case_flops(mode, batch, widths):
    """Floating-point operations of one step (train: forward, weight gradients, and input gradients of every
    layer but the first, 2 per multiply-add) or one call (infer: the forward pass) of a dense net."""
    macs = [a * b for a, b in zip(widths, widths[1:])]
    if mode == "infer":
        return 2 * batch * sum(macs)
    return 2 * batch * (2 * sum(macs) + sum(macs[1:]))


def measure_peak(path):
    """bench_peak's JSON ({isa, threads, gflops_1, gflops}), or None without the program."""
    if not path:
        return None
    try:
        out = subprocess.run([path, "--json"], capture_output=True, text=True, check=True, timeout=120).stdout
        return json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def print_arithmetic(rows, peak):
    """GFLOP/s of each side per case (from the median ms) and its share of the machine's FMA peak."""
    if not peak:
        return
    print(f"\narithmetic: GFLOP/s from each side's median ms, and its share of this machine's FMA peak "
          f"({peak['gflops']:.1f} GFLOP/s on {peak['threads']} threads, {peak['isa']}; "
          f"{peak['gflops_1']:.1f} on 1: build/bench_peak)")
    fmt = "{:<16} {:>11} {:>10} {:>12} {:>11}"
    print(fmt.format("case", "MFLOP", "clae GF/s", "torch GF/s", "clae/peak"))
    for r in rows:
        if "error" in r:
            continue
        f = case_flops(r["mode"], r["batch"], r["layers"])
        cg, tg = f / r["clae_ms_median"] / 1e6, f / r["torch_ms_median"] / 1e6
        r["mflop"], r["clae_gflops"], r["torch_gflops"] = sig(f / 1e6), sig(cg), sig(tg)
        r["clae_peak_share"], r["torch_peak_share"] = sig(cg / peak["gflops"]), sig(tg / peak["gflops"])
        print(fmt.format(r["case"], f"{f / 1e6:.1f}", f"{cg:.1f}", f"{tg:.1f} ({100 * tg / peak['gflops']:.0f}%)",
                         f"{100 * cg / peak['gflops']:.0f}%"))
    ref = next((r for r in rows if r["case"] == "train-b256" and "clae_gflops" in r), None)
    if ref:
        share = ref["clae_peak_share"]
        print(f"a whole training step (train-b256) at {100 * share:.0f}% of the FMA peak: target >= 40%, "
              f"{'met' if share >= 0.4 else 'NOT MET'}")


def print_table(rows, header):
    print(header)
    print("ms per step (train) or call (infer): min/median over the rounds; ratio = torch best ms / clae ms, "
          "per round and median\n")
    fmt = "{:<16} {:>17} {:>17} {:>7} {:>11} {:>11}  {:<20} {:>6}  {:<24} {}"
    print(fmt.format("case", "clae ms min/med", "torch ms min/med", "threads", "clae rows/s", "torch rows/s",
                     "ratio per round", "median", "target", "verdict"))
    for r in rows:
        if "error" in r:
            print(f"{r['case']:<16} FAILED: {r['error']}")
            continue
        print(fmt.format(
            r["case"], f"{r['clae_ms_min']:.3f}/{r['clae_ms_median']:.3f}",
            f"{r['torch_ms_min']:.3f}/{r['torch_ms_median']:.3f}", ",".join(map(str, r["torch_threads"])),
            f"{r['clae_rows_per_sec_median']:.0f}", f"{r['torch_rows_per_sec_median']:.0f}",
            " ".join(f"{x:.2f}" for x in r["ratio"]), f"{r['ratio_median']:.2f}", r["goal"],
            "met" if r["met"] else "NOT MET"))
    print("\nreproduce (the row; then clae's side alone, one round):")
    for r in rows:
        if "error" not in r:
            print(f"  {r['case']}: {r['command']}\n  {'':{len(r['case'])}}  {r['clae_command']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clae", default=bc.CLAE)
    ap.add_argument("--device", default=None, help="clae's device (default: clae's own default)")
    ap.add_argument("--cases", default="", help="comma-separated names or prefixes (default: all)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20, help="training steps per round (default 20)")
    ap.add_argument("--calls", type=int, default=100, help="inference calls per round (default 100)")
    ap.add_argument("--threads", default="", help="torch thread counts to try, e.g. 1,2 (default: 1 and all cores)")
    ap.add_argument("--data", default=bc.DATA)
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    ap.add_argument("--peak", default="", help="the bench_peak program (make bench builds it): adds GFLOP/s and "
                    "the share of the machine's FMA peak per case")
    a = ap.parse_args()
    if a.rounds < 1 or a.steps < 1 or a.calls < 1:
        ap.error("--rounds, --steps and --calls must be at least 1")
    try:
        cases = pick_cases(a.cases)
    except ValueError as e:
        ap.error(f"--cases: {e}")
    torch = bc.import_torch()
    if torch is None:
        msg = (f"bench_torch: torch is not importable by {sys.executable}, so there is no PyTorch table "
               f"(for one: {bc.TORCH_HINT}); clae alone: {a.clae} bench")
        if a.json:
            print(json.dumps({"torch_version": None, "reason": msg, "cases": []}))
        else:
            print(msg)
        return 0
    threads = bc.thread_counts(a.threads)
    need = max(c.batch * (a.steps if c.mode == "train" else a.calls) for c in cases)
    data, n, h, w = bc.load_idx(a.data, need)
    x_all = bc.rows_tensor(torch, data, n, h * w)
    when = datetime.datetime.now().astimezone().isoformat(timespec="minutes")
    rows, failed = [], 0
    for c in cases:
        if not a.json:
            print(f"bench_torch: {c.name} ...", file=sys.stderr, flush=True)
        try:
            rows.append(run_case(torch, a, c, x_all, threads))
        except (RuntimeError, OSError) as e:
            rows.append({"case": c.name, "error": str(e)})
            failed += 1
    device = next((r["clae_device"] for r in rows if "clae_device" in r), "-")
    peak = measure_peak(a.peak)
    if a.json:
        with open(os.devnull, "w") as quiet:
            stdout, sys.stdout = sys.stdout, quiet
            print_arithmetic(rows, peak)  # fills the rows' GFLOP/s fields
            sys.stdout = stdout
        print(json.dumps({"date": when, "cpu": bc.cpu_name(), "clae_device": device,
                          "torch_version": torch.__version__, "torch_thread_counts": threads,
                          "rounds": a.rounds, "fma_peak": peak, "cases": rows}, indent=1))
    else:
        print_table(rows, f"clae on {device} against torch {torch.__version__} on the CPU at {','.join(map(str, threads))} threads "
                          f"(the faster per round); {bc.cpu_name()}; {when}; {a.rounds} rounds")
        print_arithmetic(rows, peak)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
