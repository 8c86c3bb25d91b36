#!/usr/bin/env python3
# bench_torch_conv.py — the convolutional autoencoder of `clae bench --only conv` timed in PyTorch on the CPU,
# interleaved with clae round by round (A B A B), so both see the same machine load. Not a test.
"""Usage: python3 tools/bench_torch_conv.py [--clae build/clae] [--device SPEC] [--steps 20] [--batch 256]
                                            [--rounds 3] [--threads N] [--data PATH]

Trains the net
    1x28x28,conv:16:3:p1:relu,maxpool:2,conv:8:3:p1:relu,maxpool:2@code,unpool,conv:16:3:p1:relu,unpool,
    conv:1:3:p1:sigmoid
(bce summed over pixels and averaged over the batch, Adam 1e-3) for --steps steps on consecutive batches of
Fashion-MNIST in both, leaving the first step out of the timing, and prints samples/s per round, the min and
median of each, and the clae/PyTorch ratio of each round. Without an importable torch it says so and exits 0.
"""
import argparse
import statistics
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the sources for the one shared module
import bench_common as bc  # noqa: E402


def torch_round(torch, data, n, h, w, steps, batch):
    """samples/s of `steps` Adam steps of the conv AE, the first step left out."""
    nn = torch.nn
    torch.manual_seed(42)

    class ConvAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 16, 3, padding=1)
            self.c2 = nn.Conv2d(16, 8, 3, padding=1)
            self.c3 = nn.Conv2d(8, 16, 3, padding=1)
            self.c4 = nn.Conv2d(16, 1, 3, padding=1)
            self.pool = nn.MaxPool2d(2, return_indices=True)
            self.unpool = nn.MaxUnpool2d(2)

        def forward(self, x):
            a, i1 = self.pool(torch.relu(self.c1(x)))
            code, i2 = self.pool(torch.relu(self.c2(a)))
            b = torch.relu(self.c3(self.unpool(code, i2)))
            return self.c4(self.unpool(b, i1))  # logits: the sigmoid is fused into the loss, as in clae

    model = ConvAE()
    x_all = bc.rows_tensor(torch, data, n, h * w).view(n, 1, h, w)
    return batch / bc.adam_steps_seconds(torch, model, lambda s: x_all[torch.arange(s * batch, (s + 1) * batch) % n],
                                         steps, batch)


def clae_round(clae, device, steps, batch, data):
    try:
        j, w = bc.run_clae_bench(bc.clae_bench_cmd(clae, "conv", batch, steps, data, device))
    except RuntimeError as e:
        sys.exit(f"clae bench failed: {e}")
    return w["samples_per_sec"], j["device"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clae", default=bc.CLAE)
    ap.add_argument("--device", default=None)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: PyTorch's own)")
    ap.add_argument("--data", default=bc.DATA)
    a = ap.parse_args()
    torch = bc.import_torch()
    if torch is None:
        print(f"bench_torch_conv: torch is not importable by {sys.executable} (for one: {bc.TORCH_HINT}); "
              "clae alone: " + " ".join([a.clae, "bench", "--only", "conv"]))
        return 0
    if a.threads:
        torch.set_num_threads(a.threads)
    data, n, h, w = bc.load_idx(a.data, a.steps * a.batch)
    rows = []
    for r in range(a.rounds):
        c, dev = clae_round(a.clae, a.device, a.steps, a.batch, a.data)
        t = torch_round(torch, data, n, h, w, a.steps, a.batch)
        rows.append((c, t))
        print(f"round {r + 1}: clae {c:9.0f} samples/s   torch {t:9.0f} samples/s   clae/torch {c / t:.3f}")
    cs, ts, rs = [x[0] for x in rows], [x[1] for x in rows], [x[0] / x[1] for x in rows]
    print(f"clae ({dev}):  min {min(cs):.0f}  median {statistics.median(cs):.0f} samples/s")
    print(f"torch {torch.__version__} CPU ({torch.get_num_threads()} threads):  min {min(ts):.0f}  "
          f"median {statistics.median(ts):.0f} samples/s")
    print(f"clae/torch per round: min {min(rs):.3f}  median {statistics.median(rs):.3f}")
    print("reproduce: " + bc.script_cmd(sys.argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
