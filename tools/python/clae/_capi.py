# _capi.py — the ctypes mirror of include/clae.h that the clae package needs: structures, prototypes,
# and where libclae.so comes from. Nothing here is public; clae/__init__.py wraps it.
"""Low-level ctypes bindings of libclae (private: use the ``clae`` package)."""

import ctypes
import ctypes.util
import os

# Every structure below copies its C twin field for field, in order: ctypes lays fields out with the
# platform's C rules, so the offsets agree as long as the order and types do (tests/test_clae.py checks
# the sizes against a C compiler's when one is present).

c_float_p = ctypes.POINTER(ctypes.c_float)

MAX_LAYERS = 32  # CLAE_MAX_LAYERS

STATUS_NAMES = ("CLAE_OK", "CLAE_ERR_ARG", "CLAE_ERR_NOMEM", "CLAE_ERR_IO", "CLAE_ERR_FORMAT",
                "CLAE_ERR_TRUNCATED", "CLAE_ERR_SHAPE", "CLAE_ERR_DEVICE", "CLAE_ERR_OPENCL",
                "CLAE_ERR_BUILD", "CLAE_ERR_CACHE", "CLAE_ERR_DEVICE_MEM", "CLAE_ERR_NUMERIC")

FORMAT_NPY = 2           # CLAE_FORMAT_NPY: what an in-memory array is closest to
BATCHES_SHUFFLED = 0     # clae_batch_order
BATCHES_IN_ORDER = 1
SCALE_NONE = 0           # clae_scale_kind


class DeviceInfo(ctypes.Structure):
    _fields_ = [("id", ctypes.c_char * 32), ("name", ctypes.c_char * 256), ("platform", ctypes.c_char * 256),
                ("platform_version", ctypes.c_char * 256), ("vendor", ctypes.c_char * 256),
                ("driver_version", ctypes.c_char * 128), ("opencl_c_version", ctypes.c_char * 128),
                ("type", ctypes.c_int), ("compute_units", ctypes.c_uint),
                ("global_mem_bytes", ctypes.c_uint64), ("local_mem_bytes", ctypes.c_uint64),
                ("max_alloc_bytes", ctypes.c_uint64), ("max_work_group_size", ctypes.c_size_t),
                ("is_default", ctypes.c_int)]


class Dataset(ctypes.Structure):
    _fields_ = [("rows", ctypes.c_size_t), ("cols", ctypes.c_size_t), ("x", c_float_p),
                ("path", ctypes.c_char * 1024), ("names", ctypes.POINTER(ctypes.c_char_p)),
                ("format", ctypes.c_int)]


class Scaling(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("cols", ctypes.c_size_t), ("offset", c_float_p), ("scale", c_float_p)]


class ModelConfig(ctypes.Structure):
    _fields_ = [("n_layers", ctypes.c_int), ("sizes", ctypes.c_int * (MAX_LAYERS + 1)),
                ("activation", ctypes.c_int * MAX_LAYERS), ("code_layer", ctypes.c_int),
                ("loss", ctypes.c_int), ("optimizer", ctypes.c_int), ("init", ctypes.c_int),
                ("lr", ctypes.c_float), ("momentum", ctypes.c_float), ("beta1", ctypes.c_float),
                ("beta2", ctypes.c_float), ("eps", ctypes.c_float), ("rho", ctypes.c_float),
                ("adadelta_eps", ctypes.c_float), ("batch", ctypes.c_int), ("seed", ctypes.c_uint64),
                ("sparsity", ctypes.c_int), ("sparsity_rho", ctypes.c_float), ("sparsity_beta", ctypes.c_float),
                ("sparsity_lambda", ctypes.c_float), ("ksparse_k", ctypes.c_int), ("ksparse_alpha", ctypes.c_float),
                ("ksparse_k_start", ctypes.c_int), ("ksparse_schedule_steps", ctypes.c_int),
                ("wta_rate", ctypes.c_float), ("noise", ctypes.c_int), ("noise_level", ctypes.c_float),
                ("contractive", ctypes.c_float)]


class TrainPosition(ctypes.Structure):
    _fields_ = [("epoch", ctypes.c_uint64), ("step_in_epoch", ctypes.c_uint64)]


class TrainReport(ctypes.Structure):
    _fields_ = [("epoch", ctypes.c_uint64), ("step_in_epoch", ctypes.c_uint64), ("steps_per_epoch", ctypes.c_uint64),
                ("steps", ctypes.c_uint64), ("rows", ctypes.c_size_t), ("x", c_float_p),
                ("row_ids", ctypes.POINTER(ctypes.c_uint32)), ("loss", ctypes.c_float), ("penalty", ctypes.c_float),
                ("step_seconds", ctypes.c_double), ("epoch_rows", ctypes.c_size_t), ("epoch_loss", ctypes.c_double),
                ("epoch_seconds", ctypes.c_double), ("rows_seen", ctypes.c_size_t),
                ("train_seconds", ctypes.c_double), ("position", TrainPosition),
                ("checkpoint_steps", ctypes.c_uint64), ("last", ctypes.c_int), ("stopped", ctypes.c_int),
                ("diverged", ctypes.c_int), ("epoch_disc_loss", ctypes.c_double),
                ("epoch_disc_accuracy", ctypes.c_double), ("epoch_gen_loss", ctypes.c_double),
                ("epoch_fooled", ctypes.c_double)]


class PlanSummary(ctypes.Structure):
    _fields_ = [("planned", ctypes.c_int), ("n_tensors", ctypes.c_int), ("n_steps", ctypes.c_int),
                ("align_bytes", ctypes.c_uint64), ("peak_bytes", ctypes.c_uint64),
                ("lower_bound_bytes", ctypes.c_uint64), ("lower_bound_step", ctypes.c_int),
                ("unplanned_bytes", ctypes.c_uint64), ("inference_peak_bytes", ctypes.c_uint64)]


class PlanEntry(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 48), ("bytes", ctypes.c_uint64), ("offset", ctypes.c_uint64),
                ("first", ctypes.c_int), ("last", ctypes.c_int), ("persistent", ctypes.c_int)]


TRAIN_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(TrainReport), ctypes.c_void_p)


class TrainerOptions(ctypes.Structure):
    _fields_ = [("epochs", ctypes.c_uint64), ("max_steps", ctypes.c_uint64), ("order", ctypes.c_int),
                ("start", TrainPosition), ("checkpoint_path", ctypes.c_char_p),
                ("checkpoint_every", ctypes.c_uint64), ("model_path", ctypes.c_char_p),
                ("scaling", ctypes.POINTER(Scaling)), ("diverge_factor", ctypes.c_double),
                ("diverge_floor", ctypes.c_double), ("on_epoch_begin", TRAIN_CALLBACK),
                ("on_step", TRAIN_CALLBACK), ("on_epoch_end", TRAIN_CALLBACK), ("user", ctypes.c_void_p),
                ("shard_index", ctypes.c_int), ("shard_count", ctypes.c_int), ("reduce", ctypes.c_void_p),
                ("reduce_user", ctypes.c_void_p), ("replicas", ctypes.c_void_p), ("n_replicas", ctypes.c_int)]


def _candidates():
    """Where libclae is looked for, in order: $CLAE_LIBRARY, the repository's build/ (this file lives in
    tools/python/clae/, so a checkout's library is three folders up), then the system's."""
    env = os.environ.get("CLAE_LIBRARY")
    if env:
        # An explicit choice is the only one: falling back would hide a wrong path.
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.path.normpath(os.path.join(here, "..", "..", "..", "build"))
    out = [os.path.join(build, "libclae.so.0")]
    found = ctypes.util.find_library("clae")
    if found:
        out.append(found)
    out.append("libclae.so.0")
    return out


def _load():
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append(f"{path}: no such file")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(str(e))
    raise OSError("clae: cannot load libclae (set CLAE_LIBRARY to build/libclae.so.0, or install it): "
                  + "; ".join(errors))


lib = _load()

_P = ctypes.c_void_p
_S = ctypes.c_size_t
_I = ctypes.c_int
_CP = ctypes.c_char_p
_FP = c_float_p

# name: (restype, argtypes). Opaque handles (runtime, model) travel as void pointers.
_PROTOS = {
    "clae_status_string": (_CP, [_I]),
    "clae_last_error": (_CP, []),
    "clae_devices": (_I, [ctypes.POINTER(ctypes.POINTER(DeviceInfo)), ctypes.POINTER(_S)]),
    "clae_free": (None, [_P]),
    "clae_device_resolve": (_I, [_CP, ctypes.POINTER(DeviceInfo)]),
    "clae_device_type_string": (_CP, [_I]),
    "clae_runtime_open": (_I, [_CP, ctypes.POINTER(_P)]),
    "clae_runtime_close": (None, [_P]),
    "clae_dataset_load": (_I, [_CP, ctypes.POINTER(ctypes.POINTER(Dataset))]),
    "clae_dataset_truncate": (None, [ctypes.POINTER(Dataset), _S]),
    "clae_dataset_free": (None, [ctypes.POINTER(Dataset)]),
    "clae_scaling_apply": (_I, [ctypes.POINTER(Scaling), ctypes.POINTER(Dataset)]),
    "clae_scaling_invert": (_I, [ctypes.POINTER(Scaling), _FP, _S, _S]),
    "clae_scaling_free": (None, [ctypes.POINTER(Scaling)]),
    "clae_scale_kind_name": (_CP, [_I]),
    "clae_model_config_default": (None, [ctypes.POINTER(ModelConfig)]),
    "clae_model_config_set_layers": (_I, [ctypes.POINTER(ModelConfig), _CP]),
    "clae_model_config_set_activations": (None, [ctypes.POINTER(ModelConfig), _I, _I]),
    "clae_model_config_arch": (_I, [ctypes.POINTER(ModelConfig), _I, _CP, _S]),
    "clae_activation_parse": (_I, [_CP, ctypes.POINTER(_I)]),
    "clae_loss_parse": (_I, [_CP, ctypes.POINTER(_I)]),
    "clae_optimizer_parse": (_I, [_CP, ctypes.POINTER(_I)]),
    "clae_init_parse": (_I, [_CP, ctypes.POINTER(_I)]),
    "clae_sparsity_parse": (_I, [_CP, ctypes.POINTER(_I)]),
    "clae_noise_parse": (_I, [_CP, ctypes.POINTER(_I)]),
    "clae_loss_name": (_CP, [_I]),
    "clae_optimizer_name": (_CP, [_I]),
    "clae_model_create_arch": (_I, [_P, ctypes.POINTER(ModelConfig), _CP, ctypes.c_uint, ctypes.POINTER(_P)]),
    "clae_model_destroy": (None, [_P]),
    "clae_model_get_config": (None, [_P, ctypes.POINTER(ModelConfig)]),
    "clae_model_arch": (_CP, [_P]),
    "clae_model_describe": (None, [_P, _CP, _S]),
    "clae_model_steps": (ctypes.c_uint64, [_P]),
    "clae_model_fit_feature_stats": (_I, [_P, ctypes.POINTER(Dataset)]),
    "clae_model_train": (_I, [_P, ctypes.POINTER(Dataset), ctypes.POINTER(TrainerOptions),
                              ctypes.POINTER(TrainReport)]),
    "clae_trainer_options_default": (None, [ctypes.POINTER(TrainerOptions)]),
    "clae_model_loss": (_I, [_P, _FP, _S, _FP]),
    "clae_model_encode": (_I, [_P, _FP, _S, _FP]),
    "clae_model_decode": (_I, [_P, _FP, _S, _FP]),
    "clae_model_reconstruct": (_I, [_P, _FP, _S, _FP]),
    "clae_model_row_errors": (_I, [_P, _FP, _S, _FP]),
    "clae_model_save": (_I, [_P, _CP, ctypes.POINTER(Scaling)]),
    "clae_model_load": (_I, [_P, _CP, ctypes.c_uint, _I, ctypes.POINTER(_P), ctypes.POINTER(Scaling)]),
    "clae_model_plan_summary": (_I, [_P, ctypes.POINTER(PlanSummary)]),
    "clae_model_plan_entry": (_I, [_P, _I, ctypes.POINTER(PlanEntry)]),
    "clae_model_tensor_info": (_I, [_P, _CP, ctypes.POINTER(_I), ctypes.POINTER(_S * 2)]),
    "clae_model_tensor_get": (_I, [_P, _CP, _FP, _S]),
    "clae_model_tensor_set": (_I, [_P, _CP, _FP, _S]),
}

for _name, (_res, _args) in _PROTOS.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args

MODEL_INFERENCE = 1  # CLAE_MODEL_INFERENCE
