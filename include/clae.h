/* clae.h — the one public header of clae, a portable OpenCL autoencoder backend.
 * Opaque handles, clae_status returns, and a plain-C reference device ("cpu-ref"). */
#ifndef CLAE_H
#define CLAE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLAE_VERSION_STRING "0.1.0"
#define CLAE_VERSION_MAJOR 0
#define CLAE_VERSION_MINOR 1
#define CLAE_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Status and errors                                                         */
/* ------------------------------------------------------------------------ */

/* Every call that can fail returns one of these. CLAE_OK is zero. */
typedef enum clae_status {
    CLAE_OK = 0,
    CLAE_ERR_ARG,        /* an argument is out of range or inconsistent */
    CLAE_ERR_NOMEM,      /* host memory allocation failed */
    CLAE_ERR_IO,         /* a file could not be opened, read or written */
    CLAE_ERR_FORMAT,     /* a file's contents are not in the expected format */
    CLAE_ERR_TRUNCATED,  /* a file ended before the data its header promised */
    CLAE_ERR_SHAPE,      /* data dimensions do not fit the model */
    CLAE_ERR_DEVICE,     /* no device matches the spec, or none exists */
    CLAE_ERR_OPENCL,     /* an OpenCL call failed (the message names it) */
    CLAE_ERR_BUILD,      /* a kernel program failed to build (message: file, options, log) */
    CLAE_ERR_CACHE,      /* a program cache entry is missing, corrupt or stale */
    CLAE_ERR_DEVICE_MEM, /* the device has too little memory for the request */
    CLAE_ERR_NUMERIC,    /* a non-finite value appeared (e.g. the loss diverged) */
    CLAE_STATUS_COUNT
} clae_status;

/* A short constant name for a status, e.g. "CLAE_ERR_IO". Never NULL; never free it. */
const char *clae_status_string(clae_status status);

/* The message of the most recent failing call on this thread ("" if none).
 * The string is owned by the library and valid until the next failing call on
 * this thread. Messages name the file, field or device concerned. */
const char *clae_last_error(void);

/* ------------------------------------------------------------------------ */
/* Devices                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum clae_device_type {
    CLAE_DEVICE_CPU_REF = 0, /* the plain-C reference path, always present */
    CLAE_DEVICE_CPU,
    CLAE_DEVICE_GPU,
    CLAE_DEVICE_ACCELERATOR,
    CLAE_DEVICE_OTHER
} clae_device_type;

/* A word for a device type: "cpu-ref", "cpu", "gpu", "accelerator", "other". */
const char *clae_device_type_string(clae_device_type type);

typedef struct clae_device_info {
    char id[32];             /* "P:D" (platform:device index) or "cpu-ref" */
    char name[256];
    char platform[256];      /* platform name */
    char platform_version[256];
    char vendor[256];
    char driver_version[128];
    char opencl_c_version[128]; /* CL_DEVICE_OPENCL_C_VERSION, "" for cpu-ref */
    clae_device_type type;
    unsigned compute_units;
    uint64_t global_mem_bytes;
    uint64_t local_mem_bytes;
    uint64_t max_alloc_bytes;
    size_t max_work_group_size;
    int is_default;          /* 1 for the device an empty spec selects */
} clae_device_info;

/* Lists every device of every OpenCL platform, then the pseudo-device cpu-ref
 * (so the list is never empty). On success *list is a malloc'd array of *count
 * entries that the caller frees with clae_free(). A missing OpenCL driver is
 * not an error: the list then holds cpu-ref alone. */
clae_status clae_devices(clae_device_info **list, size_t *count);

/* Frees memory the library handed to the caller (device lists, buffers). */
void clae_free(void *ptr);

/* ------------------------------------------------------------------------ */
/* Runtime: one device, its context, queue and compiled programs             */
/* ------------------------------------------------------------------------ */

typedef struct clae_runtime clae_runtime;

/* Opens a device and compiles (or loads from the disk cache) every kernel.
 * spec: "P:D" index, a case-insensitive name substring, a type word
 * ("gpu", "cpu", "accelerator", "cpu-ref"), or NULL/"" for the environment
 * variable CLAE_DEVICE, and if that is unset the default (first GPU, else first
 * OpenCL CPU, else cpu-ref). An unknown spec fails with CLAE_ERR_DEVICE and a
 * message listing the devices that exist.
 * On success *out is a runtime the caller closes with clae_runtime_close().
 * On failure *out is NULL and clae_last_error() holds the message. */
clae_status clae_runtime_open(const char *spec, clae_runtime **out);

/* Releases the runtime and everything it compiled. NULL is allowed. Every model
 * created on it must be destroyed first. */
void clae_runtime_close(clae_runtime *rt);

/* The device this runtime runs on (a copy the caller owns). */
clae_status clae_runtime_device(const clae_runtime *rt, clae_device_info *out);

/* The build options passed to every kernel program ("" for cpu-ref). The
 * string is owned by the runtime. */
const char *clae_runtime_build_options(const clae_runtime *rt);

/* The message of the last failing call made through this runtime or a model
 * on it ("" if none). Owned by the runtime. */
const char *clae_runtime_error(const clae_runtime *rt);

typedef struct clae_runtime_stats {
    unsigned programs_built;      /* compiled from source at open */
    unsigned programs_from_cache; /* loaded from the disk cache at open */
    unsigned cache_rejected;      /* cache entries found corrupt or stale and rebuilt */
    unsigned cache_written;       /* entries written to the disk cache */
    double build_seconds;         /* wall time spent building/loading programs */
} clae_runtime_stats;

/* Counters of what the runtime did when it opened. */
clae_status clae_runtime_stats_get(const clae_runtime *rt, clae_runtime_stats *out);

/* The directory of the program cache this runtime used, or "" when the cache is
 * off (CLAE_CACHE=off) or the runtime is cpu-ref. Owned by the runtime. */
const char *clae_runtime_cache_dir(const clae_runtime *rt);

/* ------------------------------------------------------------------------ */
/* Random numbers: Philox4x32-10 (VARIANTS.md §6.4), identical on every path */
/* ------------------------------------------------------------------------ */

/* out = Philox4x32-10(ctr, key). Pure function. */
void clae_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* ------------------------------------------------------------------------ */
/* Data                                                                      */
/* ------------------------------------------------------------------------ */

/* A dense float matrix of rows × cols, row-major, values as loaded and scaled. */
typedef struct clae_dataset {
    size_t rows;
    size_t cols;
    float *x;        /* rows*cols floats, owned by the dataset */
    char path[1024]; /* the file it came from */
} clae_dataset;

/* Reads an IDX file (MNIST / Fashion-MNIST format, uint8 images; plain or
 * gzip-compressed) into a dataset of rows × (product of the other dimensions),
 * uint8 scaled to [0,1]. Errors: CLAE_ERR_IO (missing/unreadable file),
 * CLAE_ERR_FORMAT (wrong magic or type), CLAE_ERR_TRUNCATED (fewer bytes than
 * the header promises); each message names the file.
 * On success the caller frees *out with clae_dataset_free(). */
clae_status clae_dataset_load_idx(const char *path, clae_dataset **out);

/* Keeps only the first `rows` rows (no-op if rows >= ds->rows). */
void clae_dataset_truncate(clae_dataset *ds, size_t rows);

/* Frees a dataset. NULL is allowed. */
void clae_dataset_free(clae_dataset *ds);

/* Fills order[0..rows) with a permutation of 0..rows-1 for the given epoch:
 * a Fisher–Yates shuffle driven by Philox (stream tag 8), so the same
 * (seed, epoch) gives the same order on every machine. */
void clae_shuffle_order(size_t rows, uint64_t seed, uint32_t epoch, size_t *order);

/* Copies rows idx[0..n) of ds into out (n × ds->cols floats). */
clae_status clae_dataset_gather(const clae_dataset *ds, const size_t *idx, size_t n, float *out);

/* ------------------------------------------------------------------------ */
/* Dense autoencoder                                                         */
/* ------------------------------------------------------------------------ */

#define CLAE_MAX_LAYERS 32 /* weight layers */

typedef enum clae_activation {
    CLAE_ACT_LINEAR = 0,
    CLAE_ACT_SIGMOID,
    CLAE_ACT_TANH,
    CLAE_ACT_RELU,
    CLAE_ACT_COUNT
} clae_activation;

typedef enum clae_loss {
    CLAE_LOSS_SSE = 0, /* ½(x̂−x)², summed over features, mean over the batch */
    CLAE_LOSS_BCE,     /* softplus(o) − x·o on a sigmoid output (fused) */
    CLAE_LOSS_COUNT
} clae_loss;

typedef enum clae_optimizer {
    CLAE_OPT_SGD = 0,
    CLAE_OPT_MOMENTUM,
    CLAE_OPT_NESTEROV,
    CLAE_OPT_ADAM,
    CLAE_OPT_ADADELTA,
    CLAE_OPT_COUNT
} clae_optimizer;

typedef enum clae_init {
    CLAE_INIT_AUTO = 0, /* He uniform before relu units, Xavier uniform otherwise */
    CLAE_INIT_XAVIER,   /* U(−a,a), a = sqrt(6/(fan_in+fan_out)) */
    CLAE_INIT_HE,       /* U(−a,a), a = sqrt(6/fan_in) */
    CLAE_INIT_COUNT
} clae_init;

/* Names <-> enums: "linear","sigmoid","tanh","relu"; "sse","bce";
 * "sgd","momentum","nesterov","adam","adadelta"; "auto","xavier","he".
 * The parsers return CLAE_ERR_ARG for an unknown word. */
const char *clae_activation_name(clae_activation a);
const char *clae_loss_name(clae_loss l);
const char *clae_optimizer_name(clae_optimizer o);
const char *clae_init_name(clae_init i);
clae_status clae_activation_parse(const char *word, clae_activation *out);
clae_status clae_loss_parse(const char *word, clae_loss *out);
clae_status clae_optimizer_parse(const char *word, clae_optimizer *out);
clae_status clae_init_parse(const char *word, clae_init *out);

typedef struct clae_model_config {
    int n_layers;                              /* weight layers M; sizes has M+1 entries */
    int sizes[CLAE_MAX_LAYERS + 1];            /* n_0 = input width ... n_M = output width */
    clae_activation activation[CLAE_MAX_LAYERS]; /* activation of layer l (0-based), incl. output */
    int code_layer;                            /* index into sizes of the code layer (default M/2) */
    clae_loss loss;
    clae_optimizer optimizer;
    clae_init init;
    float lr;       /* learning rate η (ADADELTA ignores it) */
    float momentum; /* μ for momentum/nesterov (0.9) */
    float beta1, beta2, eps; /* Adam (0.9, 0.999, 1e-8) */
    float rho, adadelta_eps; /* ADADELTA (0.99, 1e-8) */
    int batch;      /* the largest batch a step will see */
    uint64_t seed;  /* weight initialisation and everything random */
} clae_model_config;

/* Fills cfg with the project's reference model: 784,256,64,256,784, relu hidden
 * units, sigmoid output, bce loss, Adam at 1e-3, batch 256, seed 42. */
void clae_model_config_default(clae_model_config *cfg);

/* Parses a layer list such as "784,256,64,256,784" or the symmetric shorthand
 * "784,256,64" (mirrored to 784,256,64,256,784) into cfg->sizes/n_layers and
 * sets code_layer to the middle. Activations are left as they are for hidden
 * layers. A list that does not end with its first width is taken as the
 * shorthand. CLAE_ERR_ARG with a message naming the bad entry. */
clae_status clae_model_config_set_layers(clae_model_config *cfg, const char *list);

/* Sets every hidden layer's activation to `hidden` and the output layer's to
 * `output`. */
void clae_model_config_set_activations(clae_model_config *cfg, clae_activation hidden,
                                       clae_activation output);

/* Checks a config for consistency (sizes > 0, output width = input width,
 * bce requires a sigmoid output, batch > 0, rates finite). CLAE_ERR_ARG with a
 * message naming the field. */
clae_status clae_model_config_validate(const clae_model_config *cfg);

typedef struct clae_model clae_model;

/* Creates a dense autoencoder on rt with weights drawn from Philox (identical
 * on every device for the same seed) and zero optimizer state. The runtime
 * must outlive the model. On success the caller frees *out with
 * clae_model_destroy(). */
clae_status clae_model_create(clae_runtime *rt, const clae_model_config *cfg, clae_model **out);

/* Frees the model and its device memory. NULL is allowed. */
void clae_model_destroy(clae_model *m);

/* The model's configuration (a copy). */
void clae_model_get_config(const clae_model *m, clae_model_config *out);

/* One optimizer step on `rows` rows of x (rows × n_0 floats, 1 <= rows <= batch).
 * If loss is non-NULL it receives the training loss of the batch before the
 * update (sum over features, mean over rows). CLAE_ERR_NUMERIC if it is not finite. */
clae_status clae_model_train_step(clae_model *m, const float *x, size_t rows, float *loss);

/* Training loss of x without updating (same normalisation as train_step). */
clae_status clae_model_loss(clae_model *m, const float *x, size_t rows, float *loss);

/* Writes the code layer's activations of x into codes (rows × sizes[code_layer]). */
clae_status clae_model_encode(clae_model *m, const float *x, size_t rows, float *codes);

/* Writes the reconstruction x̂ of x into out (rows × n_0). */
clae_status clae_model_reconstruct(clae_model *m, const float *x, size_t rows, float *out);

/* Per-row reconstruction MSE: err[r] = (1/D) Σ_i (x̂_ri − x_ri)². Any row count:
 * the model processes x in chunks of its batch size. */
clae_status clae_model_row_errors(clae_model *m, const float *x, size_t rows, float *err);

/* Checks that a dataset fits the model's input layer: CLAE_ERR_SHAPE with a
 * message naming the data file and both widths when ds->cols != sizes[0].
 * The config form lets a program check before it opens a device. */
clae_status clae_model_check_data(clae_model *m, const clae_dataset *ds);
clae_status clae_model_config_check_data(const clae_model_config *cfg, const clae_dataset *ds);

/* Number of optimizer steps taken so far. */
uint64_t clae_model_steps(const clae_model *m);

/* Copies weight layer l's W (sizes[l+1] × sizes[l], row-major, PyTorch layout)
 * and b (sizes[l+1]) to the caller's arrays; either may be NULL. */
clae_status clae_model_get_layer(clae_model *m, int l, float *W, float *b);

/* Replaces weight layer l's W and b (either may be NULL to keep it). */
clae_status clae_model_set_layer(clae_model *m, int l, const float *W, const float *b);

/* Gradients of the loss on x with respect to layer l's W and b, without
 * updating (used for gradient checks). Either output may be NULL. */
clae_status clae_model_gradients(clae_model *m, const float *x, size_t rows, int l,
                                 float *dW, float *db);

/* The message of the last failing call on this model ("" if none). */
const char *clae_model_error(const clae_model *m);

#ifdef __cplusplus
}
#endif

#endif /* CLAE_H */
