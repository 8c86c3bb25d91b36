# test_clae.py — the Python package against the library and the CLI: shapes, training, files, errors,
# and a model trained from Python equal bit for bit to `clae train`'s. Run by `make test` (pytest).
import ctypes
import os
import shutil
import subprocess

import numpy as np
import pytest

import clae
from clae import _capi

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
# `make test` says where the build is (CLAE_BUILD); run by hand, the checkout's build/.
BUILD = os.path.join(REPO, os.environ.get("CLAE_BUILD", "build"))
CLI = os.path.join(BUILD, "clae")
DATA_DIR = os.environ.get("CLAE_DATA_DIR", "/usr/share/datasets/fashion-mnist")
TRAIN = os.path.join(DATA_DIR, "train-images-idx3-ubyte.gz")

# A small net keeps every test on the deterministic cpu-ref path fast; PoCL gets one test of its own.
SMALL = [784, 64, 16]


@pytest.fixture(scope="module")
def fashion():
    if not os.path.exists(TRAIN):
        pytest.skip(f"no Fashion-MNIST at {TRAIN} (Debian: dataset-fashion-mnist)")
    return clae.load_data(TRAIN, limit=2048)


def test_devices_lists_cpu_ref_last():
    devs = clae.devices()
    assert devs and devs[-1]["id"] == "cpu-ref" and devs[-1]["type"] == "cpu-ref"
    for d in devs:
        assert {"id", "name", "type", "platform", "compute_units", "global_mem_bytes", "default"} <= set(d)
    assert sum(d["default"] for d in devs) <= 1


def test_load_data_reads_idx_bytes_as_fractions(fashion):
    assert fashion.shape == (2048, 784) and fashion.dtype == np.float32
    assert fashion.min() == 0.0 and fashion.max() == 1.0
    # The library's rule for bytes, b / 255 in float: uint8 input is converted the same way.
    b = np.rint(fashion[:4] * 255).astype(np.uint8)
    np.testing.assert_array_equal(b.astype(np.float32) / np.float32(255), fashion[:4])


def test_shapes_and_finiteness(fashion):
    with clae.Model(SMALL, device="cpu-ref", seed=3) as m:
        assert m.layers == [784, 64, 16, 64, 784] and m.code_width == 16 and m.input_width == 784
        X = fashion[:300]  # more rows than a batch: the library works in chunks
        codes, recon, err = m.encode(X), m.reconstruct(X), m.score(X)
        assert codes.shape == (300, 16) and recon.shape == (300, 784) and err.shape == (300,)
        for a in (codes, recon, err):
            assert a.dtype == np.float32 and np.isfinite(a).all()
        assert ((recon > 0) & (recon < 1)).all()  # a sigmoid output
        np.testing.assert_allclose(err, ((recon - X) ** 2).mean(axis=1), rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(m.decode(codes), recon)
        with pytest.raises(ValueError, match="784 columns.*code is 16 wide"):
            m.decode(X)
        # Images as (n, 28, 28), bytes, or float64 give the same rows.
        u8 = np.rint(X * 255).astype(np.uint8).reshape(300, 28, 28)
        np.testing.assert_array_equal(m.encode(u8), codes)
        np.testing.assert_array_equal(m.encode(X.astype(np.float64)), codes)
        assert m.encode(X[:0]).shape == (0, 16)


def test_fit_lowers_loss_and_continues(fashion):
    with clae.Model(SMALL, device="cpu-ref", batch=64, seed=5) as m:
        before = m.score(fashion).mean()
        losses = m.fit(fashion, epochs=3)
        assert len(losses) == 3 and losses[0] > losses[1] > losses[2]
        assert m.score(fashion).mean() < 0.7 * before
        assert m.steps == 3 * 32
        w = m.get("layers.0.weight")
    # A fit that goes on where the last stopped trains the same weights as one fit.
    with clae.Model(SMALL, device="cpu-ref", batch=64, seed=5) as m2:
        m2.fit(fashion, epochs=1)
        seen = []
        m2.fit(fashion, epochs=2, on_epoch=lambda e, loss: seen.append(e))
        assert seen == [1, 2]
        np.testing.assert_array_equal(m2.get("layers.0.weight"), w)


def test_on_epoch_stops_and_raises(fashion):
    with clae.Model(SMALL, device="cpu-ref", batch=256) as m:
        assert len(m.fit(fashion, epochs=5, on_epoch=lambda e, loss: True)) == 1
        assert m.steps == 8

        def boom(e, loss):
            raise KeyError("from the callback")
        with pytest.raises(KeyError):
            m.fit(fashion, epochs=5, on_epoch=boom)


def test_save_load_round_trip_is_bit_exact(fashion, tmp_path):
    path = str(tmp_path / "m.safetensors")
    with clae.Model(SMALL, device="cpu-ref", batch=128, seed=11, activation="tanh") as m:
        m.fit(fashion[:512], epochs=1)
        m.save(path)
        recon, codes = m.reconstruct(fashion), m.encode(fashion)
        arch = m.arch
    for inference in (False, True):
        with clae.Model.load(path, device="cpu-ref", inference=inference) as m2:
            assert m2.arch == arch and "tanh" in arch
            np.testing.assert_array_equal(m2.reconstruct(fashion), recon)
            np.testing.assert_array_equal(m2.encode(fashion), codes)


def test_tensors_by_name():
    with clae.Model([20, 8, 3], device="cpu-ref", loss="sse", output_activation="linear") as m:
        names = m.tensor_names()
        assert "layers.0.weight" in names and "adam.m.layers.0.weight" in names
        w = m.get("layers.0.weight")
        assert w.shape == (8, 20)
        m.set("layers.0.weight", np.full_like(w, 0.25))
        assert (m.get("layers.0.weight") == 0.25).all()
        with pytest.raises(ValueError, match=r"\(8, 20\)"):
            m.set("layers.0.weight", np.zeros((20, 8), np.float32))
        with pytest.raises(clae.ClaeError) as e:
            m.get("layers.9.weight")
        assert e.value.name == "CLAE_ERR_ARG" and "layers.9.weight" in e.value.message


def test_arch_and_variants():
    with clae.Model(arch="30,noise:gaussian:0.1,dense:12:relu,dense:4:linear@code,dense:12:relu,dense:30:linear",
                    loss="sse", device="cpu-ref", batch=32, seed=1) as m:
        assert m.code_width == 4 and "noise:gaussian" in m.arch
        X = np.random.default_rng(0).normal(size=(100, 30)).astype(np.float32)
        losses = m.fit(X, epochs=4)
        assert losses[-1] < losses[0]
    with clae.Model([30, 8], tied=True, sparsity="kl", loss="sse", output_activation="linear",
                    activation="sigmoid", device="cpu-ref") as m:
        assert "tied" in m.arch and "+kl" in m.arch
    with pytest.raises(ValueError, match="layers, tied"):
        clae.Model([30, 8], arch="30,dense:8,dense:30", tied=True)


def test_bad_input_is_named(fashion, tmp_path):
    with clae.Model(SMALL, device="cpu-ref") as m:
        with pytest.raises(ValueError, match="783 columns.*784 wide"):
            m.encode(fashion[:4, :783])
        bad = fashion[:4].copy()
        bad[2, 17] = np.nan
        with pytest.raises(ValueError, match=r"X\[2, 17\] is nan"):
            m.fit(bad)
        with pytest.raises(ValueError, match=r"shape \(784,\)"):
            m.score(fashion[0])
        with pytest.raises(ValueError, match=r"bce needs data in \[0, 1\].*X\[0, 0\] is 2"):
            m.fit(fashion[:4] + 2)
        with pytest.raises(ValueError, match="unknown loss 'mse'"):
            clae.Model(SMALL, loss="mse", device="cpu-ref")
        with pytest.raises(ValueError, match="seed = -1 is out of range"):
            clae.Model(SMALL, seed=-1, device="cpu-ref")
        with pytest.raises(ValueError, match="batch must be a whole number"):
            clae.Model(SMALL, batch=64.5, device="cpu-ref")
    with pytest.raises(clae.ClaeError) as e:
        clae.Model(SMALL, device="no-such-device")
    assert e.value.name == "CLAE_ERR_DEVICE" and "no-such-device" in str(e.value) and "cpu-ref" in str(e.value)
    missing = str(tmp_path / "missing.safetensors")
    with pytest.raises(clae.ClaeError) as e:
        clae.Model.load(missing, device="cpu-ref")
    assert e.value.name == "CLAE_ERR_IO" and missing in e.value.message
    with pytest.raises(clae.ClaeError, match="CLAE_ERR_IO"):
        clae.load_data(str(tmp_path / "none.npy"))
    with pytest.raises(clae.ClaeError, match="CLAE_ERR_ARG.*bce needs a sigmoid output"):
        clae.Model(SMALL, output_activation="linear", device="cpu-ref")
    m = clae.Model(SMALL, device="cpu-ref")
    m.close()
    m.close()
    with pytest.raises(ValueError, match="closed"):
        m.encode(fashion[:1])


def test_diverging_run_raises_numeric(fashion):
    with clae.Model(SMALL, device="cpu-ref", optimizer="sgd", lr=10, loss="sse", activation="linear",
                    output_activation="linear", batch=64) as m:
        with pytest.raises(clae.ClaeError) as e:
            m.fit(fashion[:512], epochs=2)
        assert e.value.name == "CLAE_ERR_NUMERIC" and "step" in e.value.message


@pytest.mark.parametrize("device,flags,kwargs", [
    ("cpu-ref", [], {}),
    # PoCL, with a denoising net: the corruption depends on the feature statistics fit() records
    # and on (seed, step, row), so it checks those too.
    ("cpu", ["--noise", "mask:0.25"], {"noise": "mask", "noise_level": 0.25}),
])
def test_python_training_equals_cli(fashion, tmp_path, device, flags, kwargs):
    if not os.access(CLI, os.X_OK):
        pytest.skip(f"no CLI at {CLI} (make)")
    if device != "cpu-ref" and not any(d["type"] == "cpu" for d in clae.devices()):
        pytest.skip("no OpenCL CPU device (Debian: pocl-opencl-icd)")
    X = fashion[:1000]
    data, out = str(tmp_path / "x.npy"), str(tmp_path / "cli.safetensors")
    np.save(data, X)  # '<f4': the CLI loads the very same floats
    subprocess.run([CLI, "train", "--data", data, "--layers", "784,64,16", "--epochs", "2", "--batch", "64",
                    "--seed", "7", "--device", device, "--out", out, "--quiet"] + flags,
                   check=True, stdout=subprocess.DEVNULL)
    with clae.Model(SMALL, batch=64, seed=7, device=device, **kwargs) as m, \
            clae.Model.load(out, device=device) as cli:
        m.fit(X, epochs=2)
        assert cli.arch == m.arch and cli.steps == m.steps == 32
        params = [n for n in cli.tensor_names() if n.startswith("layers.")]
        assert len(params) == 8
        for n in params:
            np.testing.assert_array_equal(m.get(n), cli.get(n), err_msg=n)
        np.testing.assert_array_equal(m.reconstruct(X), cli.reconstruct(X))


def test_cli_scaling_is_applied_on_load(fashion, tmp_path):
    if not os.access(CLI, os.X_OK):
        pytest.skip(f"no CLI at {CLI} (make)")
    X = fashion[:256] * 3 + 1  # off [0, 1]: minmax maps it back
    data, out, rec = (str(tmp_path / n) for n in ("x.npy", "m.safetensors", "rec.npy"))
    np.save(data, X)
    subprocess.run([CLI, "train", "--data", data, "--layers", "784,32", "--scale", "minmax", "--batch", "64",
                    "--device", "cpu-ref", "--out", out, "--quiet"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([CLI, "reconstruct", "--model", out, "--data", data, "--out", rec, "--device", "cpu-ref",
                    "--quiet"], check=True, stdout=subprocess.DEVNULL)
    with clae.Model.load(out, device="cpu-ref") as m:
        np.testing.assert_array_equal(m.reconstruct(X), np.load(rec))
        np.testing.assert_array_equal(m.decode(m.encode(X)), np.load(rec))
        # Saved again, the scaling goes with it.
        m.save(str(tmp_path / "again.safetensors"))
    with clae.Model.load(str(tmp_path / "again.safetensors"), device="cpu-ref") as m:
        np.testing.assert_array_equal(m.reconstruct(X), np.load(rec))


def test_ctypes_structures_match_the_header(tmp_path):
    """Every structure of _capi has the size and field offsets a C compiler gives clae.h's."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("cc")
    header = os.path.join(REPO, "include", "clae.h")
    if not cc or not os.path.exists(header):
        pytest.skip("no C compiler or no include/clae.h")
    structs = {"clae_device_info": _capi.DeviceInfo, "clae_dataset": _capi.Dataset, "clae_scaling": _capi.Scaling,
               "clae_model_config": _capi.ModelConfig, "clae_train_position": _capi.TrainPosition,
               "clae_train_report": _capi.TrainReport, "clae_trainer_options": _capi.TrainerOptions,
               "clae_plan_summary": _capi.PlanSummary, "clae_plan_entry": _capi.PlanEntry}
    lines, want = [], []
    for cname, py in structs.items():
        lines.append(f'printf("%zu\\n", sizeof({cname}));')
        want.append(ctypes.sizeof(py))
        for f in py._fields_:
            lines.append(f'printf("%zu\\n", offsetof({cname}, {f[0]}));')
            want.append(getattr(py, f[0]).offset)
    src = tmp_path / "layout.c"
    src.write_text("#include <stddef.h>\n#include <stdio.h>\n#include <clae.h>\nint main(void)\n{\n"
                   + "\n".join(lines) + "\nreturn 0;\n}\n")
    exe = str(tmp_path / "layout")
    subprocess.run([cc, "-std=c11", "-I", os.path.dirname(header), "-o", exe, str(src)], check=True)
    got = [int(v) for v in subprocess.run([exe], check=True, capture_output=True, text=True).stdout.split()]
    assert got == want
