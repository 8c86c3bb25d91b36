# clae/__init__.py — the Python face of libclae: devices, models trained and used on numpy arrays.
# Every call goes through include/clae.h's API by ctypes (clae/_capi.py); nothing is recomputed here.
"""clae: autoencoders on any OpenCL device, from numpy.

>>> import clae
>>> X = clae.load_data("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", limit=5000)
>>> with clae.Model([784, 256, 64], device="cpu") as m:
...     losses = m.fit(X, epochs=2)          # the library's trainer, as `clae train` runs it
...     codes = m.encode(X)                  # (5000, 64)
...     errors = m.score(X)                  # per-row reconstruction MSE
...     m.save("fashion.safetensors")        # `clae encode/score/reconstruct --model` read it

Arrays go in as anything numpy converts (float32 C-contiguous copies are made where needed; uint8 is
divided by 255 as the library's loaders do with bytes) and come out as float32 arrays. Every library
failure raises ClaeError; a wrong argument found before the library is called raises ValueError.
"""

import atexit
import ctypes
import operator
import os
import threading
import weakref

import numpy as np

from . import _capi
from ._capi import lib

__version__ = "0.1.0"
__all__ = ["ClaeError", "Model", "devices", "load_data"]


class ClaeError(RuntimeError):
    """A libclae call returned a status other than CLAE_OK.

    Attributes: ``status`` (the clae_status number), ``name`` (clae_status_string, e.g.
    "CLAE_ERR_DEVICE") and ``message`` (clae_last_error(): names the file, field or device concerned).
    """

    def __init__(self, status, message):
        self.status = int(status)
        self.name = lib.clae_status_string(self.status).decode()
        self.message = message
        super().__init__(f"{self.name}: {message}" if message else self.name)


def _check(status):
    # clae_last_error() is per thread and read at once, so another thread's failure cannot leak in.
    if status != 0:
        raise ClaeError(status, (lib.clae_last_error() or b"").decode(errors="replace"))


def _str(b):
    return b.decode(errors="replace") if b else ""


def _device_dict(d):
    return {"id": _str(d.id), "name": _str(d.name), "type": _str(lib.clae_device_type_string(d.type)),
            "platform": _str(d.platform), "platform_version": _str(d.platform_version), "vendor": _str(d.vendor),
            "driver_version": _str(d.driver_version), "opencl_c_version": _str(d.opencl_c_version),
            "compute_units": d.compute_units, "global_mem_bytes": d.global_mem_bytes,
            "local_mem_bytes": d.local_mem_bytes, "max_alloc_bytes": d.max_alloc_bytes,
            "max_work_group_size": d.max_work_group_size, "default": bool(d.is_default)}


def devices():
    """Every device clae can run on, as dicts (id, name, type, platform, vendor, versions, compute_units,
    memory sizes, max_work_group_size, default), OpenCL devices first and cpu-ref last, as `clae devices`
    lists them. ``default`` marks the device an empty spec selects while CLAE_DEVICE is unset. Never
    empty: without an OpenCL driver the list holds cpu-ref alone."""
    arr = ctypes.POINTER(_capi.DeviceInfo)()
    n = ctypes.c_size_t()
    _check(lib.clae_devices(ctypes.byref(arr), ctypes.byref(n)))
    try:
        return [_device_dict(arr[i]) for i in range(n.value)]
    finally:
        lib.clae_free(arr)


def _spec(device):
    if device is None:
        return None
    if not isinstance(device, str):
        raise ValueError(f"device must be a spec string such as 'cpu', 'gpu', 'cpu-ref' or '0:0', not {device!r}")
    return device.encode()


def _resolve(device):
    info = _capi.DeviceInfo()
    _check(lib.clae_device_resolve(_spec(device), ctypes.byref(info)))
    return info


# One runtime per device, shared by every model on it: opening compiles (or loads from the program cache)
# the kernels, which costs far more than keeping a context open, so runtimes live until the process
# exits. Models are destroyed before their runtime (the C contract), at exit too.
_lock = threading.Lock()
_runtimes = {}                  # device id ("0:0", "cpu-ref") -> runtime handle
_live = weakref.WeakSet()       # models not yet closed


def _runtime(device):
    info = _resolve(device)
    key = _str(info.id)
    with _lock:
        rt = _runtimes.get(key)
        if rt is None:
            rt = ctypes.c_void_p()
            # The resolved id, so the runtime is the device the key names even if CLAE_DEVICE changes.
            _check(lib.clae_runtime_open(key.encode(), ctypes.byref(rt)))
            _runtimes[key] = rt
    return rt, info


@atexit.register
def _shutdown():
    for m in list(_live):
        m.close()
    with _lock:
        for rt in _runtimes.values():
            lib.clae_runtime_close(rt)
        _runtimes.clear()


def _rows(X, width, what, side="input"):
    """X as a C-contiguous float32 matrix of `width` columns: uint8 divided by 255 (the library's rule for
    bytes), (n, d1, d2, ...) flattened to n × d1·d2·..., every value finite."""
    a = np.asarray(X)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / np.float32(255)  # float division, as the IDX and NPY readers do
    elif a.dtype.kind not in "fiub":
        raise ValueError(f"{what}: X has dtype {a.dtype}; give numbers (float32 preferred)")
    if a.ndim < 2:
        raise ValueError(f"{what}: X has shape {a.shape}; give rows × columns "
                         f"(one row: X.reshape(1, -1))")
    if a.ndim > 2:
        a = a.reshape(a.shape[0], -1)
    a = np.ascontiguousarray(a, dtype=np.float32)
    if a.shape[1] != width:
        raise ValueError(f"{what}: X has {a.shape[1]} columns, but the model's {side} is {width} wide")
    bad = ~np.isfinite(a)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{what}: X[{r}, {c}] is {a[r, c]}; the model takes finite values only")
    return a


def _fptr(a):
    return a.ctypes.data_as(_capi.c_float_p)


def _dataset(a, name=b"<numpy array>"):
    """A clae_dataset viewing a's memory (no copy): keep a alive while the dataset is used."""
    ds = _capi.Dataset()
    ds.rows, ds.cols = a.shape
    ds.x = _fptr(a)
    ds.path = name
    ds.format = _capi.FORMAT_NPY
    return ds


def load_data(path, limit=None):
    """Reads a data file with the library's loaders (clae_dataset_load: IDX, CSV with an optional header,
    NPY '<f4'/'<f8'/'|u1', any of them gzip'd; bytes divided by 255) into a float32 array of
    rows × columns, the first `limit` rows if given. Raises ClaeError naming the file on a missing,
    malformed or truncated file."""
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"load_data: limit must be a whole number of rows, at least 1, not {limit!r}")
    ds = ctypes.POINTER(_capi.Dataset)()
    _check(lib.clae_dataset_load(os.fsencode(path), ctypes.byref(ds)))
    try:
        if limit is not None:
            lib.clae_dataset_truncate(ds, limit)
        d = ds.contents
        return np.ctypeslib.as_array(d.x, shape=(d.rows, d.cols)).copy()
    finally:
        lib.clae_dataset_free(ds)


def _parse(fn, kind, word):
    v = ctypes.c_int()
    if not isinstance(word, str):
        raise ValueError(f"{kind} must be a word (a string), not {word!r}")
    if fn(word.encode(), ctypes.byref(v)) != 0:
        # The parser's message names the word and every accepted one.
        raise ValueError(f"{kind}: " + _str(lib.clae_last_error()))
    return v.value


# Model keyword arguments that set clae_model_config fields of the same name, as numbers.
_NUMBER_FIELDS = ("lr", "batch", "seed", "momentum", "beta1", "beta2", "eps", "rho", "adadelta_eps",
                  "sparsity_rho", "sparsity_beta", "sparsity_lambda", "ksparse_k", "ksparse_alpha",
                  "ksparse_k_start", "ksparse_schedule_steps", "wta_rate", "noise_level", "contractive")
# Those that shape the net, which arch= describes instead.
_NET_ARGS = ("layers", "activation", "output_activation", "tied", "sparsity", "sparsity_rho", "sparsity_beta",
             "sparsity_lambda", "ksparse_k", "ksparse_alpha", "ksparse_k_start", "ksparse_schedule_steps",
             "wta_rate", "noise", "noise_level", "contractive")


def _set_number(cfg, field, value):
    """cfg.field = value, refusing what ctypes would silently wrap or truncate (a negative seed, a
    fractional batch); the library then checks the ranges that matter (clae_model_config_validate)."""
    ctype = dict(_capi.ModelConfig._fields_)[field]
    if ctype is ctypes.c_float:
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{field} must be a number, not {value!r}") from None
    else:
        try:
            v = operator.index(value)
        except TypeError:
            raise ValueError(f"{field} must be a whole number, not {value!r}") from None
        bits = 8 * ctypes.sizeof(ctype)
        lo, hi = (0, 2 ** bits - 1) if ctype is ctypes.c_uint64 else (-2 ** (bits - 1), 2 ** (bits - 1) - 1)
        if not lo <= v <= hi:
            raise ValueError(f"{field} = {v} is out of range ({lo} to {hi})")
    setattr(cfg, field, v)


class Model:
    """An autoencoder on one device (clae_model_*). Use it as a context manager, or call close(); it is
    also freed when garbage-collected.

    Model(layers=None, *, arch=None, device=None, loss=None, optimizer=None, lr=None, batch=None,
          seed=None, activation=None, output_activation=None, init=None, tied=False, <config fields>)

    - layers: widths such as [784, 256, 64, 256, 784], the symmetric shorthand [784, 256, 64], or the
      same as a string "784,256,64" (clae_model_config_set_layers); arch: a spec string (README, "The
      spec string") describing the whole net instead, refused together with layers, activations, tied
      or a variant field.
    - device: a spec ("cpu", "gpu", "cpu-ref", "0:0", a name substring); None: $CLAE_DEVICE, else the
      default. An unknown spec raises ClaeError (CLAE_ERR_DEVICE) listing the devices.
    - loss "sse"|"bce", optimizer "sgd"|"momentum"|"nesterov"|"adam"|"adadelta", init
      "auto"|"xavier"|"he", activation (hidden) and output_activation
      "linear"|"sigmoid"|"tanh"|"relu", sparsity "kl"|"l1"|"l2"|"h2o", noise
      "gaussian"|"mask"|"saltpepper"; numbers: lr, batch, seed, momentum, beta1, beta2, eps, rho,
      adadelta_eps, sparsity_rho, sparsity_beta, sparsity_lambda, ksparse_k, ksparse_alpha,
      ksparse_k_start, ksparse_schedule_steps, wta_rate (a share of the batch: 0.05 is 5%),
      noise_level, contractive — clae_model_config's fields. None keeps the library's default
      (clae_model_config_default: 784,256,64,256,784, relu, sigmoid output, bce, Adam 1e-3, batch 256,
      seed 42). tied: decoders use their mirror encoder's weights transposed.

    The net is built exactly as `clae train` builds it from the same flags (the configuration expanded
    to its spec string, clae_model_config_arch), so with the same data and seed fit() trains the
    weights `clae train` does, bit for bit.
    """

    def __init__(self, layers=None, *, arch=None, device=None, loss=None, optimizer=None, lr=None, batch=None,
                 seed=None, activation=None, output_activation=None, init=None, tied=False, momentum=None,
                 beta1=None, beta2=None, eps=None, rho=None, adadelta_eps=None, sparsity=None, sparsity_rho=None,
                 sparsity_beta=None, sparsity_lambda=None, ksparse_k=None, ksparse_alpha=None,
                 ksparse_k_start=None, ksparse_schedule_steps=None, wta_rate=None, noise=None, noise_level=None,
                 contractive=None):
        args = dict(locals())
        self._m = None
        self._scaling = None
        cfg = _capi.ModelConfig()
        lib.clae_model_config_default(ctypes.byref(cfg))
        if arch is not None:
            given = [k for k in _NET_ARGS if args[k] not in (None, False)]
            if given:
                raise ValueError(f"arch= describes the whole net: say what {', '.join(given)} would in the spec "
                                 "string instead")
        hidden, output = cfg.activation[0], cfg.activation[cfg.n_layers - 1]
        if activation is not None:
            hidden = _parse(lib.clae_activation_parse, "activation", activation)
        if output_activation is not None:
            output = _parse(lib.clae_activation_parse, "output activation", output_activation)
        if layers is not None:
            text = layers if isinstance(layers, str) else ",".join(str(int(w)) for w in layers)
            _check(lib.clae_model_config_set_layers(ctypes.byref(cfg), text.encode()))
        lib.clae_model_config_set_activations(ctypes.byref(cfg), hidden, output)
        for field, fn in (("loss", lib.clae_loss_parse), ("optimizer", lib.clae_optimizer_parse),
                          ("init", lib.clae_init_parse), ("sparsity", lib.clae_sparsity_parse),
                          ("noise", lib.clae_noise_parse)):
            if args[field] is not None:
                setattr(cfg, field, _parse(fn, field, args[field]))
        for field in _NUMBER_FIELDS:
            if args[field] is not None:
                _set_number(cfg, field, args[field])
        if arch is None:
            buf = ctypes.create_string_buffer(8192)
            _check(lib.clae_model_config_arch(ctypes.byref(cfg), 1 if tied else 0, buf, len(buf)))
            arch = buf.value.decode()
        rt, self._device = _runtime(device)
        m = ctypes.c_void_p()
        _check(lib.clae_model_create_arch(rt, ctypes.byref(cfg), arch.encode(), 0, ctypes.byref(m)))
        self._adopt(m)

    def _adopt(self, m):
        self._m = m
        self._position = _capi.TrainPosition(0, 0)
        self._stats_fitted = False
        cfg = _capi.ModelConfig()
        lib.clae_model_get_config(m, ctypes.byref(cfg))
        self._cfg = cfg
        _live.add(self)

    @classmethod
    def load(cls, path, device=None, *, inference=False, batch=None):
        """A model from a clae model file or checkpoint (clae_model_load), e.g. one `clae train --out`
        wrote: its net, weights and stored data scaling, which encode/reconstruct/score then apply to
        their inputs (and reconstruct inverts) as the CLI does. inference=True allocates no gradient or
        optimizer memory (fit then raises ClaeError); batch: the chunk size instead of the file's.
        Raises ClaeError naming the file and the tensor or field that does not fit."""
        self = cls.__new__(cls)
        self._m = None
        self._scaling = None
        rt, self._device = _runtime(device)
        m = ctypes.c_void_p()
        scaling = _capi.Scaling()
        _check(lib.clae_model_load(rt, os.fsencode(path), _capi.MODEL_INFERENCE if inference else 0,
                                   int(batch or 0), ctypes.byref(m), ctypes.byref(scaling)))
        self._adopt(m)
        if scaling.kind != _capi.SCALE_NONE:
            self._scaling = scaling
        return self

    # --- lifetime ---------------------------------------------------------------------------------

    def close(self):
        """Frees the model and its device memory; idempotent. Any later call raises ValueError."""
        if getattr(self, "_m", None):
            lib.clae_model_destroy(self._m)
            self._m = None
            _live.discard(self)
        if getattr(self, "_scaling", None) is not None:
            lib.clae_scaling_free(ctypes.byref(self._scaling))
            self._scaling = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _h(self):
        if not self._m:
            raise ValueError("this clae.Model is closed")
        return self._m

    # --- what it is -------------------------------------------------------------------------------

    @property
    def layers(self):
        """The widths of the dense layer stack, input first, e.g. [784, 256, 64, 256, 784]."""
        return [self._cfg.sizes[i] for i in range(self._cfg.n_layers + 1)]

    @property
    def input_width(self):
        return self._cfg.sizes[0]

    @property
    def code_width(self):
        return self._cfg.sizes[self._cfg.code_layer]

    @property
    def batch(self):
        return self._cfg.batch

    @property
    def arch(self):
        """The canonical spec string (clae_model_arch), as the model file stores it."""
        return _str(lib.clae_model_arch(self._h()))

    @property
    def device(self):
        """The device the model runs on, as a dict like devices() gives."""
        return _device_dict(self._device)

    @property
    def steps(self):
        """Optimizer steps taken so far (clae_model_steps)."""
        return int(lib.clae_model_steps(self._h()))

    def __repr__(self):
        if not self._m:
            return "<clae.Model (closed)>"
        return f"<clae.Model {self.arch} on {self.device['id']}, {self.steps} steps>"

    # --- training ---------------------------------------------------------------------------------

    def _scaled(self, a):
        """a in the model's training units: a scaled copy when the model stores a scaling."""
        if self._scaling is None:
            return a
        a = a.copy()
        ds = _dataset(a)
        _check(lib.clae_scaling_apply(ctypes.byref(self._scaling), ctypes.byref(ds)))
        return a

    def fit(self, X, epochs=1, *, shuffle=True, max_steps=None, on_epoch=None):
        """Trains on the rows of X with the library's trainer (clae_model_train), as `clae train` does:
        batches of the model's batch size, shuffled per epoch by (seed, epoch) unless shuffle=False, the
        last batch short, a diverging or non-finite loss raising ClaeError (CLAE_ERR_NUMERIC, naming the
        step). A first fit records the data's per-feature mean/min/max for the denoising corruption.

        Training continues from where the previous fit stopped, so fit(X, 2) then fit(X, 3) gives the
        weights of fit(X, 5). max_steps stops once the model's step count reaches it; on_epoch(epoch,
        loss) is called after each epoch and stops training by returning True (an exception it raises
        stops training and is raised from fit).

        Returns the mean training loss of each epoch trained (rows-weighted, as the trainer reports it).
        Raises ValueError for a bad X (shape, non-finite values, or values off [0, 1] with loss bce).
        """
        m = self._h()
        a = self._scaled(_rows(X, self.input_width, "fit"))
        if a.shape[0] == 0:
            raise ValueError("fit: X has no rows")
        if int(epochs) < 0:
            raise ValueError(f"fit: epochs must be >= 0, not {epochs}")
        if self._cfg.loss == 1:  # CLAE_LOSS_BCE, whose targets must be probabilities (the CLI's check)
            bad = (a < -1e-6) | (a > 1 + 1e-6)
            if bad.any():
                r, c = np.argwhere(bad)[0]
                raise ValueError(f"fit: loss bce needs data in [0, 1], but X[{r}, {c}] is {a[r, c]}; "
                                 "scale it, or use loss='sse', output_activation='linear'")
        ds = _dataset(a)
        if not self._stats_fitted:
            # As `clae train` does before its first step (the values masking and salt-and-pepper write).
            _check(lib.clae_model_fit_feature_stats(m, ctypes.byref(ds)))
            self._stats_fitted = True
        losses, failure = [], []

        def end(rep, _user):
            r = rep.contents
            losses.append(float(r.epoch_loss))
            if on_epoch is None:
                return 0
            try:
                return 1 if on_epoch(int(r.epoch), float(r.epoch_loss)) else 0
            except BaseException as e:  # raised from fit once the trainer has returned
                failure.append(e)
                return 1

        cb = _capi.TRAIN_CALLBACK(end)
        o = _capi.TrainerOptions()
        lib.clae_trainer_options_default(ctypes.byref(o))
        o.epochs = self._position.epoch + int(epochs)
        o.max_steps = int(max_steps or 0)
        o.order = _capi.BATCHES_SHUFFLED if shuffle else _capi.BATCHES_IN_ORDER
        o.start = self._position
        o.on_epoch_end = cb
        rep = _capi.TrainReport()
        st = lib.clae_model_train(m, ctypes.byref(ds), ctypes.byref(o), ctypes.byref(rep))
        self._position = _capi.TrainPosition(rep.position.epoch, rep.position.step_in_epoch)
        if failure:
            raise failure[0]
        _check(st)
        return losses

    # --- using it ---------------------------------------------------------------------------------

    def _infer(self, fn, X, width, what):
        m = self._h()
        a = self._scaled(_rows(X, self.input_width, what))
        shape = (a.shape[0],) if width is None else (a.shape[0], width)
        out = np.empty(shape, dtype=np.float32)
        if a.shape[0]:
            _check(fn(m, _fptr(a), a.shape[0], _fptr(out)))
        return out

    def encode(self, X):
        """The code layer's activations of X's rows (clae_model_encode): rows × code_width float32."""
        return self._infer(lib.clae_model_encode, X, self.code_width, "encode")

    def decode(self, codes):
        """The outputs decoded from codes (clae_model_decode; rows × code_width, as encode gives them):
        rows × input_width float32, mapped back through a stored scaling like reconstruct's.
        decode(encode(X)) is reconstruct(X). ClaeError (CLAE_ERR_ARG) for a net whose decoder needs its
        encoder (an unpool)."""
        m = self._h()
        a = _rows(codes, self.code_width, "decode", side="code")
        out = np.empty((a.shape[0], self.input_width), dtype=np.float32)
        if a.shape[0]:
            _check(lib.clae_model_decode(m, _fptr(a), a.shape[0], _fptr(out)))
        return self._unscaled(out)

    def _unscaled(self, out):
        if self._scaling is not None and out.shape[0]:
            _check(lib.clae_scaling_invert(ctypes.byref(self._scaling), _fptr(out), out.shape[0], out.shape[1]))
        return out

    def reconstruct(self, X):
        """The reconstructions of X's rows (clae_model_reconstruct): rows × input_width float32, mapped
        back through a stored scaling into the data's own units."""
        return self._unscaled(self._infer(lib.clae_model_reconstruct, X, self.input_width, "reconstruct"))

    def score(self, X):
        """Per-row reconstruction MSE (1/D)·Σ(x̂ − x)² of X's rows (clae_model_row_errors), in the model's
        scaled units as `clae score` reports it: a float32 vector."""
        return self._infer(lib.clae_model_row_errors, X, None, "score")

    def save(self, path):
        """Writes the model file (clae_model_save: safetensors, with a stored scaling kept), which
        Model.load and the CLI's --model read. Raises ClaeError (CLAE_ERR_NUMERIC) for non-finite
        weights, in which case nothing is written."""
        _check(lib.clae_model_save(self._h(), os.fsencode(path),
                                   ctypes.byref(self._scaling) if self._scaling is not None else None))

    # --- tensors by name --------------------------------------------------------------------------

    def tensor_names(self):
        """The names of the model's persistent tensors (parameters "layers.<i>.weight"/".bias",
        optimizer and variant state), which get() and set() take."""
        m = self._h()
        s = _capi.PlanSummary()
        _check(lib.clae_model_plan_summary(m, ctypes.byref(s)))
        names = []
        for i in range(s.n_tensors):
            e = _capi.PlanEntry()
            _check(lib.clae_model_plan_entry(m, i, ctypes.byref(e)))
            if e.persistent and _str(e.name) not in names:
                names.append(_str(e.name))
        return names

    def _info(self, name):
        nd = ctypes.c_int()
        shape = (ctypes.c_size_t * 2)()
        _check(lib.clae_model_tensor_info(self._h(), name.encode(), ctypes.byref(nd), ctypes.byref(shape)))
        return tuple(shape[i] for i in range(nd.value))

    def get(self, name):
        """A copy of the persistent tensor `name` (clae_model_tensor_get), e.g. "layers.0.weight"
        (out × in, PyTorch's layout). ClaeError (CLAE_ERR_ARG) for an unknown or transient name."""
        shape = self._info(name)
        out = np.empty(shape, dtype=np.float32)
        _check(lib.clae_model_tensor_get(self._h(), name.encode(), _fptr(out), out.size))
        return out

    def set(self, name, value):
        """Replaces the persistent tensor `name` (clae_model_tensor_set); value must have its shape and
        finite values (ValueError otherwise)."""
        shape = self._info(name)
        a = np.ascontiguousarray(value, dtype=np.float32)
        if a.shape != shape:
            raise ValueError(f"set: {name} has shape {shape}, the value {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"set: the value for {name} holds a non-finite number")
        _check(lib.clae_model_tensor_set(self._h(), name.encode(), _fptr(a), a.size))
