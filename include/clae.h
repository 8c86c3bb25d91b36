/* clae.h — the one public header of clae, a portable OpenCL autoencoder backend.
 * Opaque handles, clae_status returns, and a plain-C reference device ("cpu-ref"). */
#ifndef CLAE_H
#define CLAE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libclae.so is built with -fvisibility=hidden: only what this header declares
 * (this push/pop region) is exported, the library's internals are not. */
#if defined(__GNUC__) && __GNUC__ >= 4
#pragma GCC visibility push(default)
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
    int is_default;          /* 1 for the built-in default: the device an empty spec
                                selects while CLAE_DEVICE is unset (clae_device_resolve
                                tells which one the environment selects) */
} clae_device_info;

/* Lists every device of every OpenCL platform, then the pseudo-device cpu-ref
 * (so the list is never empty). On success *list is a malloc'd array of *count
 * entries that the caller frees with clae_free(). A missing OpenCL driver is
 * not an error: the list then holds cpu-ref alone. */
clae_status clae_devices(clae_device_info **list, size_t *count);

/* Frees memory the library handed to the caller (device lists, buffers). */
void clae_free(void *ptr);

/* The device clae_runtime_open(spec, ...) would open, found without opening
 * it (no context, nothing compiled): spec as there, NULL or "" for
 * CLAE_DEVICE and, when that is unset, the default. *out receives a copy.
 * A spec that matches nothing fails as clae_runtime_open does:
 * CLAE_ERR_DEVICE, the message listing the devices that exist. */
clae_status clae_device_resolve(const char *spec, clae_device_info *out);

/* One property of a device, as clinfo shows it. */
typedef struct clae_device_property {
    const char *key;   /* a stable snake_case name, e.g. "max_clock_mhz" */
    const char *label; /* for people, e.g. "Max clock frequency (MHz)" */
    const char *value; /* as text; flags are "yes"/"no", lists space-separated */
    int numeric;       /* 1 when the value is a number, also given in `number` */
    double number;
} clae_device_property;

/* Every property clae reads of the device spec selects (as
 * clae_device_resolve): for an OpenCL device the platform's name, vendor,
 * version, profile and extensions, the device's versions, driver, compute
 * units, clock, memory sizes (global, cache, local, constant, largest
 * allocation), base address alignment, work-group and work-item limits,
 * vector widths, floating-point configurations, fp64, queue properties and
 * extensions; and what clae derives from them: the kernel build options, the
 * work-group size, the buffer alignment and the GEMM engine. Nothing is
 * compiled. On success *props is one allocation of *count entries together
 * with all their strings: the caller frees it with clae_free(*props). */
clae_status clae_device_properties(const char *spec, clae_device_property **props, size_t *count);

/* ------------------------------------------------------------------------ */
/* Runtime: one device, its context, queue and compiled programs             */
/* ------------------------------------------------------------------------ */

typedef struct clae_runtime clae_runtime;

/* Opens a device; a kernel program is compiled (or loaded from the disk cache) when a model first needs it.
 * spec: "P:D" index, a case-insensitive name substring, a type word
 * ("gpu", "cpu", "accelerator", "cpu-ref"), or NULL/"" for the environment
 * variable CLAE_DEVICE, and if that is unset the default (first GPU, else first
 * OpenCL CPU, else cpu-ref). An unknown spec fails with CLAE_ERR_DEVICE and a
 * message listing the devices that exist.
 * On success *out is a runtime the caller closes with clae_runtime_close().
 * On failure *out is NULL and clae_last_error() holds the message. */
clae_status clae_runtime_open(const char *spec, clae_runtime **out);

/* OpenCL's own handle types, declared here so this header needs no OpenCL headers: they are cl_context,
 * cl_device_id, cl_command_queue and cl_mem of <CL/cl.h>. */
struct _cl_context;
struct _cl_device_id;
struct _cl_command_queue;
struct _cl_mem;

/* A runtime on the caller's OpenCL objects, for an application that already has OpenCL set up: clae builds its
 * programs in ctx for device and enqueues all its work on queue, which must be an in-order queue of that context
 * and device (CLAE_ERR_ARG otherwise; CLAE_ERR_DEVICE when no platform lists the device, e.g. a sub-device).
 * clae retains ctx and queue and releases only those references at clae_runtime_close(); the caller keeps and
 * releases its own. Ordering: clae's commands follow whatever the caller enqueued before a call, and the caller's
 * later commands follow clae's, so a buffer a call writes (see the *_cl calls) is ready for the caller's next
 * kernel on the same queue without any wait. clae never calls clFinish on the queue: where it must wait (a
 * blocking read such as a returned loss, model creation and loading) it waits for a marker it enqueued, i.e.
 * for the commands before it; its close waits only for its own last upload. Threads: one thread at a time per
 * runtime, as for clae_runtime_open's; the caller's other threads may use the queue between clae's calls. GEMM
 * tiles are not searched on a wrapped runtime (the timing would wait for the caller's work): it uses the tile
 * table earlier runs on this device stored, or the device's tile. */
clae_status clae_runtime_wrap(struct _cl_context *ctx, struct _cl_device_id *device, struct _cl_command_queue *queue,
                              clae_runtime **out);

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
    unsigned cache_failed;        /* entries that could not be written (read-only or full directory, …) */
    double build_seconds;         /* wall time spent building/loading programs */
} clae_runtime_stats;

/* Counters of what the runtime did when it opened. */
clae_status clae_runtime_stats_get(const clae_runtime *rt, clae_runtime_stats *out);

/* A note for the user about this runtime, or "" (owned by the runtime; valid until the next call on it):
 * - opened without a spec and without CLAE_DEVICE on a machine with no OpenCL device, so the default fell back to
 *   cpu-ref: why ("no OpenCL platform found (clGetPlatformIDs: CL_PLATFORM_NOT_FOUND_KHR; …): running on cpu-ref,
 *   the plain C reference path");
 * - otherwise, once a compiled program could not be stored in the program cache (a read-only, full or missing
 *   directory; stats.cache_failed counts them): the first failure and what to do. Training is not affected.
 * A command-line tool prints it as a note on stderr. */
const char *clae_runtime_note(const clae_runtime *rt);

/* Why the device list holds no OpenCL device, as one sentence into buf (cap bytes, terminated; the caller owns
 * buf): no platform (with the ICD loader's status) or platforms without devices; "" when an OpenCL device exists.
 * CLAE_ERR_ARG on a NULL buf or a cap too small for the sentence. */
clae_status clae_opencl_absence(char *buf, size_t cap);

/* The directory of the program cache this runtime used, or "" when the cache is
 * off (CLAE_CACHE=off) or the runtime is cpu-ref. Owned by the runtime. */
const char *clae_runtime_cache_dir(const clae_runtime *rt);

/* How rt multiplies matrices, as text into buf (cap bytes, terminated; the caller owns buf): the GEMM engine,
 * and for clae's own tiled engine (CPU devices) its default tile and the tile table: each GEMM shape met so far
 * (this run, or earlier runs through the program cache) with the tile its timed search chose and every
 * candidate's time. A shape is searched at its first run (a few launches of each tile on the call's own
 * operands); CLAE_GEMM_TUNE=off keeps the default tile everywhere. The tile never changes a result's bits.
 * CLAE_ERR_ARG on NULL arguments or when cap is too small. */
clae_status clae_runtime_gemm_report(clae_runtime *rt, char *buf, size_t cap);

/* ------------------------------------------------------------------------ */
/* Random numbers: Philox4x32-10 (Salmon et al. 2011), the same on every path */
/* ------------------------------------------------------------------------ */

/* out = Philox4x32-10(ctr, key). Pure function. */
void clae_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* ------------------------------------------------------------------------ */
/* Data                                                                      */
/* ------------------------------------------------------------------------ */

/* Which reader produced a dataset. */
typedef enum clae_data_format { CLAE_FORMAT_IDX = 0, CLAE_FORMAT_CSV, CLAE_FORMAT_NPY } clae_data_format;

/* A dense float matrix of rows × cols, row-major, values as loaded and scaled.
 *
 * The one rule for values, in every format: a number stored as text (CSV) or
 * as a float (NPY '<f4', '<f8') is taken as it is; a number stored as an
 * unsigned byte (IDX type 0x08, NPY '|u1') is divided by 255, the byte's
 * range, so byte pixels land in [0,1] as MNIST, torchvision's ToTensor and
 * Keras do. So the bytes b as IDX or '|u1' NPY, and the floats (float)b/255
 * as '<f4' NPY or as CSV printed with "%.9g", load as the same floats; CSV
 * pixels written as 0..255 stay 0..255 (scale them: --scale minmax). */
typedef struct clae_dataset {
    size_t rows;
    size_t cols;
    float *x;                /* rows*cols floats, owned by the dataset */
    char path[1024];         /* the file it came from ("<stdin>" for "-") */
    char **names;            /* cols column names from a CSV header, else NULL; owned */
    clae_data_format format; /* the reader that loaded it */
} clae_dataset;

/* Every loader accepts the path "-" for standard input, and reads a file
 * (or input) that is gzip-compressed as if it were not.
 *
 * Reads an IDX file (MNIST / Fashion-MNIST format, uint8 images; plain or
 * gzip-compressed) into a dataset of rows × (product of the other dimensions),
 * uint8 scaled to [0,1]. Errors: CLAE_ERR_IO (missing/unreadable file),
 * CLAE_ERR_FORMAT (wrong magic or type), CLAE_ERR_TRUNCATED (fewer bytes than
 * the header promises); each message names the file.
 * On success the caller frees *out with clae_dataset_free(). */
clae_status clae_dataset_load_idx(const char *path, clae_dataset **out);

/* Keeps only the first `rows` rows (no-op if rows >= ds->rows). */
void clae_dataset_truncate(clae_dataset *ds, size_t rows);

/* Frees a dataset (its names too). NULL is allowed. */
void clae_dataset_free(clae_dataset *ds);

/* Removes the columns cols[0..n) (counted from 0; repeats are fine) from every
 * row, in place, keeping the others in order (names too). CLAE_ERR_ARG naming
 * ds->path for a column past the last or when no column would be left; the
 * data is then untouched. */
clae_status clae_dataset_drop_columns(clae_dataset *ds, const size_t *cols, size_t n);

/* Moves rows [rows, ds->rows) into a new dataset *tail (same path, format and
 * names) and keeps the first `rows` in ds: a hold-out split in file order.
 * CLAE_ERR_ARG unless 0 < rows < ds->rows; CLAE_ERR_NOMEM. The caller frees
 * *tail with clae_dataset_free(); on failure *tail is NULL and ds unchanged. */
clae_status clae_dataset_split(clae_dataset *ds, size_t rows, clae_dataset **tail);

/* Fills order[0..rows) with a permutation of 0..rows-1 for the given epoch:
 * a Fisher–Yates shuffle driven by Philox (stream tag 8), so the same
 * (seed, epoch) gives the same order on every machine. */
void clae_shuffle_order(size_t rows, uint64_t seed, uint32_t epoch, size_t *order);

/* Copies rows idx[0..n) of ds into out (n × ds->cols floats). */
clae_status clae_dataset_gather(const clae_dataset *ds, const size_t *idx, size_t n, float *out);

/* ------------------------------------------------------------------------ */
/* Data in and out: CSV and NPY files, matrix writers, column scaling       */
/* ------------------------------------------------------------------------ */

/* Every loader below returns a dataset of at least one row and one column
 * whose values are all finite (a NaN or infinity in the file is
 * CLAE_ERR_FORMAT naming where it is), sets ds->path to the path given, and on
 * failure leaves *out NULL; the caller frees a loaded dataset with
 * clae_dataset_free(). Every error message names the file. */

/* Reads a text file of numbers, one row per line.
 * - Separator: ',' by default; ';' or a tab when the first non-blank line has
 *   no ',' but has that character. Cells may be surrounded by spaces and by
 *   double quotes ("" inside quotes is one quote); CRLF line ends are fine.
 * - Header: the first non-blank line is a header, and skipped, when any of its
 *   cells is not a number. Its cell count must match the data rows'; its
 *   cells (unquoted, trimmed) are kept as ds->names.
 * - Values are taken as written (the rule at clae_dataset).
 * - Blank (empty or all-space) lines are skipped; line numbers in messages
 *   count every physical line from 1, columns count cells from 1.
 * - Numbers are read with strtod in the "C" locale's notation (a program that
 *   calls setlocale() with a decimal comma must switch LC_NUMERIC back).
 * Errors: CLAE_ERR_IO (cannot open or read); CLAE_ERR_FORMAT for an empty or
 * bad cell ("data.csv:7:3: 'abc' is not a number"), a row whose cell count
 * differs from the first row's (naming the line and both counts), a NUL byte,
 * an unterminated quote, or a file with no data rows. */
clae_status clae_dataset_load_csv(const char *path, clae_dataset **out);

/* Reads a NumPy .npy file (format versions 1.0, 2.0 and 3.0) holding a
 * C-order array of dtype '<f4' (float32), '<f8' (float64, rounded to float) or
 * '|u1' (uint8, divided by 255 like IDX images so pixel data lands in [0,1]).
 * Shape (n,) loads as n rows × 1 column; (n, d1, d2, ...) as n rows ×
 * d1·d2·... columns. Bytes after the data are ignored.
 * Errors: CLAE_ERR_IO (cannot open or read); CLAE_ERR_FORMAT for a wrong magic
 * string, an unsupported version or dtype (named, e.g. '<i2'),
 * fortran_order True, a 0-d array, a dimension of 0, or a header that does
 * not parse; CLAE_ERR_TRUNCATED when the file ends inside the header or
 * before the data the shape promises (with both byte counts). */
clae_status clae_dataset_load_npy(const char *path, clae_dataset **out);

/* Loads any supported file, choosing the reader by name, then content:
 * a name ending in ".csv" or ".tsv" (any case, optionally followed by ".gz")
 * → clae_dataset_load_csv; ".npy" (or ".npy.gz") → clae_dataset_load_npy;
 * otherwise a file whose (decompressed) data starts with the NPY magic
 * "\x93NUMPY" → NPY; everything else → clae_dataset_load_idx. Standard input
 * ("-") has no name, so its content decides: NPY magic → NPY, an IDX magic
 * (0, 0, a type byte IDX defines, 1 to 4 dimensions) → IDX, anything else → CSV.
 * The chosen reader's errors are returned unchanged. */
clae_status clae_dataset_load(const char *path, clae_dataset **out);

/* Writes x (rows × cols, row-major) as CSV: one line per row, cells printed
 * with "%.9g" (which reads back as the same float) and separated by ',',
 * preceded by a header line of cols names when header is non-NULL (names
 * containing ',', '"' or a line break are quoted). Non-finite values are
 * written as printf spells them ("nan", "inf"), which clae_dataset_load_csv
 * refuses. The file is written to "<path>.tmp.<pid>" and renamed, so it
 * appears complete or not at all. CLAE_ERR_ARG for NULL x with rows·cols > 0
 * or a NULL header entry; CLAE_ERR_IO naming the path on a failed write. */
clae_status clae_matrix_save_csv(const char *path, const float *x, size_t rows, size_t cols,
                                 const char *const *header);

/* Writes x (rows × cols) as a version 1.0 .npy file of dtype '<f4', C order,
 * shape (rows, cols), the header padded so the data starts at a multiple of
 * 64 bytes as the format asks. Written to a temporary name and renamed like
 * clae_matrix_save_csv. CLAE_ERR_ARG / CLAE_ERR_IO as there. */
clae_status clae_matrix_save_npy(const char *path, const float *x, size_t rows, size_t cols);

/* Per-column scaling x' = (x − offset[j]) · scale[j], fitted on training data
 * and stored with a model so the same transform is re-applied on use. */
typedef enum clae_scale_kind {
    CLAE_SCALE_NONE = 0, /* x' = x */
    CLAE_SCALE_MINMAX,   /* offset = column min, scale = 1/(max − min): training data to [0,1] */
    CLAE_SCALE_ZSCORE,   /* offset = column mean, scale = 1/std (population std, divisor n) */
    CLAE_SCALE_NORMALIZE, /* offset = column mean, scale = 1/(max − min): h2o's autoencoder scaling,
                           * training data into [-1, 1] with each column's mean at 0 */
    CLAE_SCALE_COUNT
} clae_scale_kind;

typedef struct clae_scaling {
    clae_scale_kind kind;
    size_t cols;   /* the width it was fitted on */
    float *offset; /* cols entries (NULL for CLAE_SCALE_NONE), owned; free with clae_scaling_free() */
    float *scale;  /* cols entries (NULL for CLAE_SCALE_NONE), owned */
} clae_scaling;

/* "none", "minmax", "zscore", "normalize"; the parser returns CLAE_ERR_ARG for any other word. */
const char *clae_scale_kind_name(clae_scale_kind kind);
clae_status clae_scale_kind_parse(const char *word, clae_scale_kind *out);

/* Fits kind on ds's columns (statistics in double precision). A column whose
 * range (minmax, normalize) or standard deviation (zscore) is zero, or so small that its
 * inverse overflows a float, gets scale 1, so it is shifted but never blown
 * up. For CLAE_SCALE_NONE only kind and cols are set. On success the caller
 * releases out with clae_scaling_free(); on failure out is left empty
 * (kind NONE, NULL arrays). CLAE_ERR_ARG for NULL arguments, an empty dataset
 * or an unknown kind; CLAE_ERR_NOMEM. */
clae_status clae_scaling_fit(const clae_dataset *ds, clae_scale_kind kind, clae_scaling *out);

/* Fills out from stored parameters (e.g. read back from a model file),
 * copying cols entries of offset and scale (ignored, and may be NULL, for
 * CLAE_SCALE_NONE). Every scale must be finite and non-zero, every offset
 * finite: CLAE_ERR_ARG naming the column otherwise. Release with clae_scaling_free(). */
clae_status clae_scaling_set(clae_scale_kind kind, size_t cols, const float *offset, const float *scale,
                             clae_scaling *out);

/* Scales ds->x in place. CLAE_SCALE_NONE changes nothing. CLAE_ERR_SHAPE,
 * naming ds->path and both widths, when ds->cols differs from s->cols (for
 * NONE too, when s->cols is non-zero); the data is then untouched. */
clae_status clae_scaling_apply(const clae_scaling *s, clae_dataset *ds);

/* The inverse, in place on a rows × cols matrix: x = x'/scale + offset (to show
 * reconstructions in the data's own units). CLAE_ERR_SHAPE when cols differs
 * from s->cols (unless the kind is NONE with cols 0). */
clae_status clae_scaling_invert(const clae_scaling *s, float *x, size_t rows, size_t cols);

/* Frees the arrays and resets s to kind NONE, cols 0. NULL is allowed. */
void clae_scaling_free(clae_scaling *s);

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

/* Activation sparsity; the formulas are in the README, "The math". */
typedef enum clae_sparsity {
    CLAE_SPARSITY_NONE = 0,
    CLAE_SPARSITY_KL,  /* β·Σ_j KL(ρ‖ρ̂_j), ρ̂ the batch mean (of (a+1)/2 for tanh); Ng, CS294A */
    CLAE_SPARSITY_L1,  /* (λ/B)·Σ|a| over the code */
    CLAE_SPARSITY_L2,  /* (λ/2B)·Σa² over the code */
    CLAE_SPARSITY_H2O, /* h2o's average_activation/sparsity_beta on every hidden layer: after each bias
                        * update b_j ← b_j − r_j·β(ā_j − ρ), r_j that update's rate, ā an EMA */
    CLAE_SPARSITY_COUNT
} clae_sparsity;

/* Input corruption of the denoising autoencoder (Vincent et al. 2008, 2010), training only. */
typedef enum clae_noise {
    CLAE_NOISE_NONE = 0,
    CLAE_NOISE_GAUSSIAN,   /* x + σ·ε */
    CLAE_NOISE_MASK,       /* with probability ν: the feature's training mean (clae_model_set_feature_stats) */
    CLAE_NOISE_SALTPEPPER, /* with probability ν: the feature's training min or max, each with probability ½ */
    CLAE_NOISE_COUNT
} clae_noise;

/* Names <-> enums, as for the types above. */
const char *clae_sparsity_name(clae_sparsity s); /* "none","kl","l1","l2","h2o" */
const char *clae_noise_name(clae_noise n);       /* "none","gaussian","mask","saltpepper" */
clae_status clae_sparsity_parse(const char *word, clae_sparsity *out);
clae_status clae_noise_parse(const char *word, clae_noise *out);

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

    /* Regularized variants (README, "The math": the variants); all off by default. */
    clae_sparsity sparsity;
    float sparsity_rho;    /* KL / h2o target ρ (0.05) */
    float sparsity_beta;   /* KL / h2o weight β (3) */
    float sparsity_lambda; /* L1 / L2 weight λ (1e-3) */
    int ksparse_k;         /* k-sparse: keep the k largest codes per row (0 = off) */
    float ksparse_alpha;   /* k-sparse inference keeps round(α·k) (1) */
    int ksparse_k_start;   /* k schedule: start at this k (0 = no schedule) ... */
    int ksparse_schedule_steps; /* ... and reach ksparse_k after this many steps */
    float wta_rate;        /* winner-take-all: share of the batch each code unit may win (0 = off);
                              ⌈share·B⌉ winners of B rows, the share read as the shortest decimal
                              that rounds to this float (0.05f: 5 of 100 rows, not 6) */
    clae_noise noise;
    float noise_level;     /* σ for gaussian, ν for mask and salt-and-pepper */
    float contractive;     /* λ of the contractive penalty on every encoder layer (0 = off) */
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

/* The training fields alone (loss, optimizer and its rates, init, batch), for a configuration whose net
 * comes from a spec string (clae_model_create_arch). CLAE_ERR_ARG naming the field. */
clae_status clae_model_config_validate_training(const clae_model_config *cfg);

typedef struct clae_model clae_model;

/* Creates a dense autoencoder on rt with weights drawn from Philox (identical
 * on every device for the same seed) and zero optimizer state. The runtime
 * must outlive the model. On success the caller frees *out with
 * clae_model_destroy(). */
clae_status clae_model_create(clae_runtime *rt, const clae_model_config *cfg, clae_model **out);

/* Flags of clae_model_create_ex(). */
#define CLAE_MODEL_INFERENCE 1u /* inference only: no gradients or optimizer state; train_step, loss,
                                   gradients and checkpoint save/restore fail with CLAE_ERR_ARG */
#define CLAE_MODEL_UNPLANNED 2u /* every tensor gets its own allocation (as with env CLAE_PLAN=off) */
#define CLAE_MODEL_PLAN_ONLY 4u /* make the plan but allocate nothing: for clae_model_plan_* only */

/* clae_model_create with flags. Every tensor a step or an inference call
 * touches is planned first (see clae_model_plan_summary): tensors whose
 * lifetimes over one step do not overlap share memory in one device arena.
 * A plan that does not fit the device fails with CLAE_ERR_DEVICE_MEM and a
 * message giving the bytes needed and available. The environment variable
 * CLAE_PLAN=off has the effect of CLAE_MODEL_UNPLANNED. */
clae_status clae_model_create_ex(clae_runtime *rt, const clae_model_config *cfg, unsigned flags,
                                 clae_model **out);

/* Architectures as spec strings (README, "The spec string"): the input width, then one token per
 * layer, comma-separated and shell-safe, e.g.
 *   784,noise:mask:0.25,dense:256:relu,dense:64:relu@code+l1:1e-4,dense:256:relu,dense:784:sigmoid
 * Kinds: dense:UNITS[:ACT][:tied=K], noise:KIND[:LEVEL], topk:K[:alpha=A][:from=K0:steps=T], wta:PERCENT;
 * after a dense layer, "+kl[:RHO[:BETA]]", "+l1[:LAMBDA]", "+l2[:LAMBDA]", "+h2o[:RHO[:BETA]]" or
 * "+contractive:LAMBDA" attach a regularizer to its output; "@code" marks the code (default: the
 * middle). The configuration's layer and variant fields are a shorthand for such a string; new model
 * kinds are configured through it, not through new clae_model_config fields. */

/* clae_model_create_ex for the net `spec` describes; cfg supplies the training hyperparameters (loss,
 * optimizer, rates, batch, seed, init: NULL for clae_model_config_default's) and its layer and variant
 * fields are ignored. CLAE_ERR_ARG naming the token for a bad spec. The caller frees *out with
 * clae_model_destroy(). */
clae_status clae_model_create_arch(clae_runtime *rt, const clae_model_config *cfg, const char *spec, unsigned flags,
                                   clae_model **out);

/* The spec string cfg's --layers and variant fields expand to, into buf (cap bytes); tied = 1 makes
 * every decoder layer use its mirror encoder layer's weight transposed (--tied). CLAE_ERR_ARG when the
 * configuration is invalid (clae_model_config_validate) or, tied, not symmetric. */
clae_status clae_model_config_arch(const clae_model_config *cfg, int tied, char *buf, size_t cap);

/* Checks a spec string and writes what its net can say in cfg's layer and variant fields (widths,
 * activations, code layer, the first of each variant) into cfg, the training fields untouched; when
 * canonical is non-NULL, also its canonical form (every default spelled out, "@code" marked, cap bytes).
 * CLAE_ERR_ARG naming the token. */
clae_status clae_model_config_set_arch(clae_model_config *cfg, const char *spec, char *canonical, size_t cap);

/* The model's canonical spec string, owned by the model (valid until clae_model_destroy). */
const char *clae_model_arch(const clae_model *m);

/* The buffer plan of a model. Sizes in bytes; positions index the schedule
 * of one training step followed by one inference pass. */
typedef struct clae_plan_summary {
    int planned;                 /* 0 when every tensor has its own allocation */
    int n_tensors;
    int n_steps;                 /* schedule positions */
    uint64_t align_bytes;        /* every offset is a multiple (CL_DEVICE_MEM_BASE_ADDR_ALIGN) */
    uint64_t peak_bytes;         /* the arena (planned) or the sum of allocations (unplanned) */
    uint64_t lower_bound_bytes;  /* the most bytes live at any one position: no plan can go lower */
    int lower_bound_step;        /* a position where that many bytes are live */
    uint64_t unplanned_bytes;    /* the sum of all tensors, each in its own region */
    uint64_t inference_peak_bytes; /* what an inference-only model (CLAE_MODEL_INFERENCE) needs */
} clae_plan_summary;

typedef struct clae_plan_entry {
    char name[48];   /* e.g. "layers.0.weight", "act.2", "grad.1", "adam.m.layers.0.weight" */
    uint64_t bytes;
    uint64_t offset; /* byte offset inside the arena */
    int first, last; /* schedule positions (inclusive) where the tensor is live */
    int persistent;  /* 1 for parameters and training state, which live as long as the model */
} clae_plan_entry;

clae_status clae_model_plan_summary(const clae_model *m, clae_plan_summary *out);

/* The GEMMs of m's training step and inference pass (as its dry run met them), one line each into buf (cap
 * bytes, terminated; the caller owns buf): the pass, the transposes, M, N, K and how the device's GEMM engine
 * runs the shape (clae_runtime_gemm_report's terms: the tile in use, or "not searched yet"). CLAE_ERR_ARG on
 * NULL arguments or when cap is too small. */
clae_status clae_model_gemm_report(const clae_model *m, char *buf, size_t cap);
/* Entry i (0 <= i < n_tensors) of the plan. */
clae_status clae_model_plan_entry(const clae_model *m, int i, clae_plan_entry *out);
/* The name of schedule position `step` ("load", "forward 0", "loss", "backward 3", ...);
 * owned by the model, "" when out of range. */
const char *clae_model_plan_step_name(const clae_model *m, int step);

/* Frees the model and its device memory. NULL is allowed. */
void clae_model_destroy(clae_model *m);

/* The model's configuration (a copy). */
void clae_model_get_config(const clae_model *m, clae_model_config *out);

/* One optimizer step on `rows` rows of x (rows × n_0 floats, 1 <= rows <= batch).
 * If loss is non-NULL it receives the training loss of the batch before the
 * update (sum over features, mean over rows). The loss is read back once the
 * whole step, update included, has been handed to the device, so the step
 * waits for the device once, at its end; CLAE_ERR_NUMERIC if it is not finite,
 * in which case the update has been applied (and counted in the steps) and
 * the weights may hold the non-finite values. With loss NULL no loss is
 * computed at all (no kernel, no read back, no wait for the device beyond the
 * input upload): the weights come out bit for bit as with a loss pointer, and
 * clae_model_last_penalty keeps its previous value. */
clae_status clae_model_train_step(clae_model *m, const float *x, size_t rows, float *loss);

/* clae_model_train_step, also telling the model which data-set rows the batch
 * holds (row_ids[r] for row r), so that random corruption depends only on
 * (seed, step, row, feature): identical on every device and for any batch
 * split. NULL numbers the rows steps·batch + r. */
clae_status clae_model_train_step_rows(clae_model *m, const float *x, const uint32_t *row_ids, size_t rows,
                                       float *loss);

/* The per-feature values the denoising corruption writes, in the units the model trains on
 * (after any scaling): mask sets a dropped input i to mean[i] (as h2o's input_dropout_ratio,
 * 0 after zscore or normalize scaling), salt-and-pepper to min[i] or max[i]. Each array has
 * sizes[0] floats, is copied, and may be NULL to keep the current values, which start as mean 0,
 * min 0, max 1 (the [0, 1] image case). They are persistent state: a checkpoint stores them
 * ("noise.feature_mean", "noise.feature_min", "noise.feature_max") and restores them. A model
 * that corrupts no input, or one created for inference, ignores them (CLAE_OK). CLAE_ERR_ARG
 * naming the feature for a non-finite value or min above max. */
clae_status clae_model_set_feature_stats(clae_model *m, const float *mean, const float *min, const float *max);

/* clae_model_set_feature_stats with each column's mean (summed in double, row order), minimum
 * and maximum over ds's rows: call it with the training data, after scaling. CLAE_ERR_ARG for
 * an empty dataset, CLAE_ERR_SHAPE when ds->cols differs from sizes[0]. */
clae_status clae_model_fit_feature_stats(clae_model *m, const clae_dataset *ds);

/* The regularizers' share of the loss last reported by train_step/loss (0 without any). */
float clae_model_last_penalty(const clae_model *m);

/* A one-line description of the model's variant(s), e.g. "dense", "denoising mask 0.25 + sparse kl". */
void clae_model_describe(const clae_model *m, char *buf, size_t cap);

/* Training loss of x without updating (same normalisation as train_step). */
clae_status clae_model_loss(clae_model *m, const float *x, size_t rows, float *loss);

/* Writes the code layer's activations of x into codes (rows × sizes[code_layer]). */
clae_status clae_model_encode(clae_model *m, const float *x, size_t rows, float *codes);

/* For a concrete autoencoder (a concrete selector layer): the input feature each of its K selectors picks,
 * argmax_d Λ_kd (the lowest d on ties; the same feature may be picked twice), into picks (cap entries, NULL
 * for the count alone), K into *count, and into *mean_max_prob (if non-NULL) the mean over the selectors of
 * the pick's probability softmax(Λ_k) at temperature 1 (the reference code's convergence measure: ≥ 0.998). */
clae_status clae_model_selection(const clae_model *m, size_t *picks, size_t cap, size_t *count, double *mean_max_prob);

/* For a minimum-description-length autoencoder (an mdl layer at its code): per row of x, the bits of its two-part
 * code (Hinton & Zemel 1994): the rounded code's rate −Σ log2 P(ŷ) under the learned logistic prior plus the
 * residual's Σ (x − x̂)²/(2σ_x² ln 2) + D·(½ log2(2πσ_x²) − log2 Δ_x), into out (rows floats). */
clae_status clae_model_code_length(clae_model *m, const float *x, size_t rows, float *out);

/* For a variational autoencoder (its code a gauss layer): per row of x, the importance-weighted estimate of
 * log p(x) in nats from `samples` draws z_k ~ q(z|x) (Burda, Grosse & Salakhutdinov 2015):
 * logsumexp_k [log p(x|z_k) + log N(z_k; 0, I) − log N(z_k; μ, σ²)] − log K, accumulated in double. The draws
 * are Philox numbers keyed by the row's index in x (stream 2, e = (row·K + k)·L + l, step 0): every device
 * and every run gives the same estimate. log p(x|z) is the Bernoulli decoder's with --loss bce, the Gaussian
 * of σ = 1 with sse. out holds rows floats. */
clae_status clae_model_log_likelihood(clae_model *m, const float *x, size_t rows, unsigned samples, float *out);

/* As clae_model_log_likelihood, the mean over the draws of log p(x|z_k): the reconstruction probability of
 * An & Cho (2015), low for anomalies. */
clae_status clae_model_recon_prob(clae_model *m, const float *x, size_t rows, unsigned samples, float *out);

/* The phases of a training step. Every model has the reconstruction phase (forward, loss, backward, update);
 * an adversarial autoencoder (an adv layer after its code, Makhzani et al. 2015) adds two more, in this order
 * after it: the discriminator learns to tell prior draws from codes, then the encoder learns to fool it. */
typedef enum clae_phase {
    CLAE_PHASE_RECONSTRUCTION = 0, /* L_R, the reconstruction loss (clae_model_loss): encoder and decoder */
    CLAE_PHASE_DISCRIMINATOR,      /* L_D = (1/B)·Σ [softplus(−D(z_prior)) + softplus(D(q(x)))]: the discriminator */
    CLAE_PHASE_GENERATOR,          /* L_G = (1/B)·Σ softplus(−D(q(x))): the encoder */
    CLAE_PHASE_COUNT
} clae_phase;

/* The adversary's figures of the last training step (or clae_model_phase_gradient call): its phases' losses
 * in nats per row, the share of the 2B inputs (B prior draws, B codes) the discriminator classified right
 * before its update (a logit > 0 says "prior draw"), and the share of codes it then took for prior draws
 * in the generator phase. */
typedef struct clae_adversary_stats {
    float disc_loss, disc_accuracy;
    float gen_loss, fooled;
} clae_adversary_stats;

/* For an adversarial autoencoder: the figures above into *out. CLAE_ERR_ARG when the model has no adversary
 * or was created for inference only. */
clae_status clae_model_adversary_stats(clae_model *m, clae_adversary_stats *out);

/* A training step on rows of x with nothing updated (a gradient check's view of one phase, the other nets
 * held): the phase's loss into *loss (if non-NULL) and the gradient of that loss with respect to the parameter
 * `name` into out (count floats, the tensor's size): "layers.<i>.*" for the reconstruction and generator
 * phases, "aae.disc.<j>.weight"/".bias" for the discriminator's. The phases see the same prior draws and noise
 * as the next training step would. A name the phase does not train gives zeros. CLAE_ERR_ARG for a phase the
 * model lacks, a name that is not a parameter or a wrong count. */
clae_status clae_model_phase_gradient(clae_model *m, const float *x, size_t rows, clae_phase phase, const char *name,
                                      float *loss, float *out, size_t count);

/* Decodes rows codes (rows × the code's width, as clae_model_encode gives them) into out (rows × the
 * input width), the inference pass from the code on. CLAE_ERR_ARG when the decoder has an unpool (it needs
 * its encoder's switches). */
clae_status clae_model_decode(clae_model *m, const float *codes, size_t rows, float *out);

/* Draws count codes from the model's prior and decodes them into out (count × the input width): N(0, I) for
 * a variational autoencoder (its code a gauss layer), the adversary's prior (N(0, I) or its mixture) for an
 * adversarial one. Philox stream 4, element i·L + l, step 0, key seed: the same numbers on every device. */
clae_status clae_model_sample(clae_model *m, size_t count, uint64_t seed, float *out);

/* Writes the reconstruction x̂ of x into out (rows × n_0). */
clae_status clae_model_reconstruct(clae_model *m, const float *x, size_t rows, float *out);

/* Per-row reconstruction MSE: err[r] = (1/D) Σ_i (x̂_ri − x_ri)². Any row count:
 * the model processes x in chunks of its batch size. */
clae_status clae_model_row_errors(clae_model *m, const float *x, size_t rows, float *err);

/* The calls above on the caller's OpenCL buffers (memory objects of the model's runtime's context, typically
 * one made by clae_runtime_wrap): rows × D floats of x start x_offset floats into it, and results are written
 * at their offset (in floats) into codes (rows × code width), out (rows × D) or err (rows). The rows are copied
 * on the device into the model's own buffers, and results copied out, so nothing passes through host memory;
 * the results and the weights equal the host-array calls' bit for bit. The calls return once the work is
 * enqueued, without waiting: the results are there for the next command on the runtime's queue, and for the
 * host after a clFinish (or a read) of that queue. train_step_cl waits only when loss is not NULL (as the host
 * call reads the loss back). CLAE_ERR_ARG for a cpu-ref model, a NULL or foreign buffer, or one too small
 * (naming it and the floats asked for); train_step_cl takes 1..batch rows, the others any number. */
clae_status clae_model_train_step_cl(clae_model *m, struct _cl_mem *x, size_t x_offset, size_t rows, float *loss);
clae_status clae_model_encode_cl(clae_model *m, struct _cl_mem *x, size_t x_offset, size_t rows, struct _cl_mem *codes,
                                 size_t codes_offset);
clae_status clae_model_reconstruct_cl(clae_model *m, struct _cl_mem *x, size_t x_offset, size_t rows,
                                      struct _cl_mem *out, size_t out_offset);
clae_status clae_model_row_errors_cl(clae_model *m, struct _cl_mem *x, size_t x_offset, size_t rows,
                                     struct _cl_mem *err, size_t err_offset);

/* Checks that a dataset fits the model's input layer: CLAE_ERR_SHAPE with a
 * message naming the data file and both widths when ds->cols != sizes[0].
 * The config form lets a program check before it opens a device. */
clae_status clae_model_check_data(clae_model *m, const clae_dataset *ds);
clae_status clae_model_config_check_data(const clae_model_config *cfg, const clae_dataset *ds);

/* Number of optimizer steps taken so far. */
uint64_t clae_model_steps(const clae_model *m);

/* The float counts of weight layer l's W and b as clae_model_get_layer gives them: out×in for dense,
 * F×C·K·K for conv, C_in×F·K·K for convT; a tied layer's W counts the weight it uses. */
clae_status clae_model_layer_sizes(const clae_model *m, int l, size_t *nw, size_t *nb);

/* Copies weight layer l's W and b (clae_model_layer_sizes floats: for dense layers sizes[l+1] × sizes[l],
 * row-major, PyTorch layout) to the caller's arrays; either may be NULL. */
clae_status clae_model_get_layer(clae_model *m, int l, float *W, float *b);

/* The gradient of the training loss (as clae_model_loss reports it) on rows of x with respect to the
 * parameter `name` ("layers.1.logvar.weight", …), nothing updated, into out (count floats, the tensor's
 * size). CLAE_ERR_ARG for a name that is not a parameter or a wrong count. */
clae_status clae_model_tensor_gradient(clae_model *m, const float *x, size_t rows, const char *name, float *out,
                                       size_t count);

/* Tensors by name: the way to read or write any persistent tensor of a model
 * (parameters "layers.<i>.weight" (out×in) and "layers.<i>.bias", optimizer
 * state such as "adam.m.layers.<i>.weight", variant state such as
 * "sparsity.ema.layers.<i>" or "noise.feature_mean"): the names a checkpoint
 * stores them under, listed by clae_model_plan_entry (persistent = 1).
 * Transient tensors (activations, gradients, workspace) share memory and are
 * refused. Errors: CLAE_ERR_ARG naming an unknown or transient tensor (or a
 * non-finite value to set), CLAE_ERR_SHAPE when count differs from the
 * tensor's element count. tensor_info sets *ndim (2 for weights, else 1) and
 * shape[0..ndim). The caller owns the arrays; nothing is kept. */
clae_status clae_model_tensor_info(const clae_model *m, const char *name, int *ndim, size_t shape[2]);
clae_status clae_model_tensor_get(clae_model *m, const char *name, float *out, size_t count);
clae_status clae_model_tensor_set(clae_model *m, const char *name, const float *in, size_t count);

/* Replaces weight layer l's W and b (either may be NULL to keep it). */
clae_status clae_model_set_layer(clae_model *m, int l, const float *W, const float *b);

/* Gradients of the loss on x with respect to layer l's W and b, without
 * updating (used for gradient checks). Either output may be NULL. */
clae_status clae_model_gradients(clae_model *m, const float *x, size_t rows, int l,
                                 float *dW, float *db);

/* Deep features (h2o.deepfeatures): the activations of act layer `layer`
 * (1..n_layers; sizes[layer] columns each; the code layer is
 * cfg.code_layer) for every row of x, in chunks of the batch size. */
clae_status clae_model_encode_layer(clae_model *m, const float *x, size_t rows, int layer, float *out);

/* ------------------------------------------------------------------------ */
/* The PCA baseline: what a linear autoencoder's optimum is                  */
/* ------------------------------------------------------------------------ */

/* A principal component analysis of training rows, computed on the host in double (README, "Linear
 * autoencoders and PCA"): the mean μ, the covariance Σ = (1/N)·X_cᵀX_c of the centred rows X_c = X − 1μᵀ, and
 * Σ's eigenvalues and eigenvectors by LAPACK's dsyevr. The k-component reconstruction of a row x is
 * x̂ = μ + U_k·U_kᵀ·(x − μ), U_k the D×k matrix of the top k eigenvectors. */
typedef struct clae_pca clae_pca;

/* Fits PCA with k components (1 <= k <= train->cols) to every row of train. Each direction's sign puts its
 * largest component (the first of equals) positive. Errors: CLAE_ERR_ARG (NULL arguments, no rows, k out of
 * range: the message names train->path, its column count and the range), CLAE_ERR_NUMERIC (a value that is not
 * finite, naming the file and column; the eigensolver failing), CLAE_ERR_NOMEM. Costs N·D²/2 multiply-adds
 * for Σ (it is symmetric) and O(D³) for the eigensolver, on one core: about 2 s for 20 000 rows of 784. On
 * success the caller frees *out with clae_pca_free(); on failure *out is NULL. train is not kept. */
clae_status clae_pca_fit(const clae_dataset *train, int k, clae_pca **out);

/* Frees a PCA. NULL is allowed. */
void clae_pca_free(clae_pca *p);

/* The number of features D and of components k (0 for NULL). */
size_t clae_pca_dim(const clae_pca *p);
int clae_pca_components(const clae_pca *p);

/* Arrays owned by the PCA, valid until clae_pca_free (NULL for NULL): the mean μ (D doubles); all D
 * eigenvalues of Σ, descending (the smallest may be a rounding-sized negative for a singular Σ); the k
 * principal directions as a D×k row-major matrix U_k (element (i, j) at i·k + j; its columns are orthonormal,
 * column j the direction of eigenvalue j). */
const double *clae_pca_mean(const clae_pca *p);
const double *clae_pca_eigenvalues(const clae_pca *p);
const double *clae_pca_directions(const clae_pca *p);

/* (1/D)·Σ_{i>k} λ_i: what the training rows' mean reconstruction error (clae_pca_mse) equals, up to rounding,
 * and no rank-k linear map with an offset does better on them (NAN for NULL). */
double clae_pca_identity_mse(const clae_pca *p);

/* The share of the variance the k directions keep, Σ_{i≤k} λ_i / Σ_i λ_i (NAN for NULL or a zero Σ). */
double clae_pca_explained_variance(const clae_pca *p);

/* Per-row reconstruction MSE of rows × D floats x: err[r] = (1/D)·Σ_i (x̂_ri − x_ri)², computed in double and
 * rounded once, as clae_model_row_errors reports a model's. CLAE_ERR_ARG for NULL arguments (rows > 0);
 * CLAE_ERR_NOMEM. The caller owns x and err. */
clae_status clae_pca_row_errors(const clae_pca *p, const float *x, size_t rows, float *err);

/* The mean of those errors over the rows, summed in double, into *mse: the figure to hold against
 * clae_pca_identity_mse to double precision. CLAE_ERR_ARG for NULL arguments or rows = 0. */
clae_status clae_pca_mse(const clae_pca *p, const float *x, size_t rows, double *mse);

/* The cosines of the principal angles (Björck & Golub 1973) between the column space of the model's last
 * weight layer's W (the D×k decoder of a net such as D,dense:k:linear,dense:D:linear) and the PCA's top-k
 * subspace, into cosines (k doubles, descending, each in [0, 1]; all 1 when the spaces coincide, the smallest
 * the cosine of the largest angle). W's columns are orthonormalised in double (modified Gram–Schmidt, twice),
 * then the cosines are the singular values of Q_Wᵀ·U_k (LAPACK's dgesvd). Errors: CLAE_ERR_SHAPE naming the
 * net when the last weight layer is not a dense layer of D outputs and k inputs; CLAE_ERR_NUMERIC when W's
 * columns span fewer than k dimensions or are not finite; CLAE_ERR_ARG for NULL arguments. The model is read,
 * not changed. */
clae_status clae_model_principal_angles(clae_model *m, const clae_pca *p, double *cosines);

/* ------------------------------------------------------------------------ */
/* Model files and checkpoints (safetensors)                                 */
/* ------------------------------------------------------------------------ */

/* A model file is a safetensors file PyTorch's `safetensors` package loads by
 * name: dense layer i stores "layers.<i>.weight" (out×in, row j the incoming weights of unit j, as
 * torch.nn.Linear) and "layers.<i>.bias"; a fitted scaling stores
 * "scaling.offset" and "scaling.scale". The "__metadata__" records
 * format ("clae-model-1"), clae_version, the architecture (layers,
 * activations, code_layer), loss, optimizer and its hyperparameters, seed,
 * steps, the variant and its parameters, and the data scaling kind.
 * A checkpoint (format "clae-checkpoint-1") adds every other persistent
 * tensor under its plan name — optimizer state ("adam.m.layers.<i>.weight",
 * "adam.v…", "velocity…", "adadelta.eg2…", "adadelta.edx2…") and variant state
 * ("sparsity.ema.layers.<i>", "noise.feature_mean", …) — and the training position. Files are written to a
 * temporary name and renamed, so a crash never leaves half a file. */

/* Where a training run stands; everything else that is random follows from
 * the seed (the shuffle from (seed, epoch), the noise from (seed, step, row)). */
typedef struct clae_train_position {
    uint64_t epoch;         /* epochs completed */
    uint64_t step_in_epoch; /* steps taken in the current epoch */
} clae_train_position;

/* Writes the model's weights (and scaling, if non-NULL and not NONE) with its
 * metadata. CLAE_ERR_IO naming the path on failure; CLAE_ERR_NUMERIC naming
 * the tensor when a weight is NaN or infinite (a diverged run), in which case
 * nothing is written and an older file at path is kept. The same holds for
 * clae_model_save_checkpoint. */
clae_status clae_model_save(clae_model *m, const char *path, const clae_scaling *scaling);

/* Creates a model on rt from a model file or a checkpoint (flags as for
 * clae_model_create_ex, e.g. CLAE_MODEL_INFERENCE for encode/score) with the
 * file's architecture and weights. The batch size is the file's unless
 * batch > 0. If scaling is non-NULL it receives the stored scaling (kind
 * NONE when there is none; release with clae_scaling_free). Errors name the
 * file and the tensor or metadata field: CLAE_ERR_IO, CLAE_ERR_FORMAT (not a
 * clae file, a missing tensor or field), CLAE_ERR_SHAPE (a tensor whose shape
 * does not fit the recorded architecture). */
clae_status clae_model_load(clae_runtime *rt, const char *path, unsigned flags, int batch, clae_model **out,
                            clae_scaling *scaling);

/* What a safetensors file holds: a clae model file, a clae checkpoint, weights
 * alone (no clae metadata, but "layers.0.weight": e.g. the file
 * safetensors.torch.save_file writes from a PyTorch model whose dense layers
 * are layers.<i>.weight (out×in, torch.nn.Linear's layout) and
 * layers.<i>.bias), or anything else. */
typedef enum clae_file_kind {
    CLAE_FILE_OTHER = 0,
    CLAE_FILE_MODEL,
    CLAE_FILE_CHECKPOINT,
    CLAE_FILE_WEIGHTS
} clae_file_kind;

/* Sets *out to the kind of the safetensors file at path. Errors as
 * clae_model_load's for a file that is not safetensors at all. */
clae_status clae_model_file_kind(const char *path, clae_file_kind *out);

/* Reads the configuration a clae model file or checkpoint records, without
 * creating a model (e.g. to take a checkpoint's settings before the data is
 * loaded). CLAE_ERR_FORMAT naming the field for a file that is not clae's; a
 * weights-only file gets a message saying how to give its architecture. */
clae_status clae_model_read_config(const char *path, clae_model_config *out);

/* Sets cfg's layer widths (n_layers, sizes, code_layer = the middle) from the
 * shapes of a file's layers.<i>.weight tensors, i = 0, 1, … while present.
 * The hidden layers get cfg->activation[0] and the output layer
 * cfg->activation[cfg->n_layers − 1] as they were on entry; everything else
 * in cfg is left as it is. CLAE_ERR_FORMAT when there is no layers.0.weight,
 * CLAE_ERR_SHAPE naming the tensor when consecutive layers do not chain. */
clae_status clae_model_config_from_weights(const char *path, clae_model_config *cfg);

/* Creates a model from cfg (flags as for clae_model_create_ex) and loads its
 * weights from path, which may be weights only (CLAE_FILE_WEIGHTS) or any clae
 * file: a model made elsewhere, given its architecture by the caller. The
 * shapes must match cfg (CLAE_ERR_SHAPE naming the tensor otherwise). On
 * success the caller frees *out with clae_model_destroy(). */
clae_status clae_model_import(clae_runtime *rt, const char *path, const clae_model_config *cfg, unsigned flags,
                              clae_model **out);

/* Replaces m's weights with those of a model file or checkpoint (--init). The
 * file's layer shapes must equal m's: CLAE_ERR_SHAPE naming the tensor and both
 * shapes otherwise. Optimizer state and step count are left as they are. */
clae_status clae_model_load_weights(clae_model *m, const char *path);

/* Writes a checkpoint: weights, optimizer and variant state, the step count,
 * the position and the scaling (NULL ok). */
clae_status clae_model_save_checkpoint(clae_model *m, const char *path, const clae_train_position *pos,
                                       const clae_scaling *scaling);

/* Restores a checkpoint into m, which must have been created with the same
 * configuration (clae_model_load creates one from the file): weights,
 * optimizer and variant state, the step count; pos (non-NULL) receives the
 * position. Training on from there gives the same weights as a run that was
 * never interrupted. CLAE_ERR_FORMAT if the file is not a checkpoint or lacks a
 * tensor m needs; CLAE_ERR_SHAPE on a shape mismatch; each naming the tensor. */
clae_status clae_model_restore_checkpoint(clae_model *m, const char *path, clae_train_position *pos);

/* The message of the last failing call on this model ("" if none). */
const char *clae_model_error(const clae_model *m);

/* ------------------------------------------------------------------------ */
/* The trainer: epochs, batches, checkpoints                                 */
/* ------------------------------------------------------------------------ */

/* The loop every clae program trains with (`clae train`, `clae compare`,
 * `clae bench`): it picks each step's rows, gathers them, calls
 * clae_model_train_step_rows with their data-set indices, watches the loss,
 * writes checkpoints and tells the caller after every step and epoch. It
 * never prints: progress, tests and messages are the callbacks' business. */

/* Which rows each step trains on; every epoch has ceil(rows / batch) steps. */
typedef enum clae_batch_order {
    /* Epoch e takes clae_shuffle_order(rows, the model's seed, e) in batches;
     * the last batch of an epoch is short when batch does not divide rows. */
    CLAE_BATCHES_SHUFFLED = 0,
    /* File order every epoch, the last batch short as above. */
    CLAE_BATCHES_IN_ORDER,
    /* Full batches of consecutive rows, wrapping from the last row to the
     * first: step t (counted from position {0, 0}) takes rows (t·batch + k) mod
     * rows, so every step does the same work (benchmarks). */
    CLAE_BATCHES_WRAP
} clae_batch_order;

/* What a callback is told, and what clae_model_train reports at its end. */
typedef struct clae_train_report {
    uint64_t epoch;           /* the 0-based epoch of the step or epoch reported */
    uint64_t step_in_epoch;   /* steps of that epoch taken (on_epoch_begin: where it starts) */
    uint64_t steps_per_epoch; /* ceil(rows / batch) */
    uint64_t steps;           /* steps this call has taken (a failed step not counted) */
    size_t rows;              /* on_step: the batch's rows */
    const float *x;           /* on_step: the batch (rows × cols), valid during the callback only */
    const uint32_t *row_ids;  /* on_step: the data-set rows it holds, valid during the callback only */
    float loss;               /* the last step's loss (clae_model_train_step_rows) */
    float penalty;            /* the regularizers' share of it (clae_model_last_penalty) */
    double step_seconds;      /* wall seconds of the last step's clae_model_train_step_rows call alone */
    size_t epoch_rows;        /* rows this call trained in the epoch */
    double epoch_loss;        /* their mean loss, each batch weighted by its rows; NAN before any */
    double epoch_seconds;     /* wall seconds from the epoch's start to its last step so far */
    size_t rows_seen;         /* rows this call trained, all epochs */
    double train_seconds;     /* epoch_seconds summed over this call's epochs */
    clae_train_position position; /* where training stands: a finished epoch e is {e + 1, 0} */
    uint64_t checkpoint_steps;    /* clae_model_steps at the last checkpoint this call wrote; UINT64_MAX: none */
    int last;                 /* on_epoch_end: training ends after this epoch and the end files are written */
    int stopped;              /* a callback asked to stop */
    int diverged;             /* the run ended on a non-finite or diverging loss (CLAE_ERR_NUMERIC) */
    /* An adversarial autoencoder's figures (clae_adversary_stats), each the mean over the epoch's steps so far
     * weighted by their rows; NAN for other models. */
    double epoch_disc_loss, epoch_disc_accuracy, epoch_gen_loss, epoch_fooled;
} clae_train_report;

/* A callback returns 0 to go on; anything else stops training cleanly, as
 * when the steps run out (the end files are written). */
typedef int (*clae_train_callback)(const clae_train_report *r, void *user);

/* Data-parallel training's reduction across processes: replace values[0..n) by their elementwise sum over the
 * shard_count processes, the same bits in every process, and return CLAE_OK (MPI_Allreduce with MPI_SUM over
 * MPI_FLOAT does this: on 2 processes a + b is one rounding, the same everywhere). Called from inside each
 * training step, once per layer's bucket of gradients and once for the step's loss, in the same sequence in
 * every process, so every process must call it the same number of times (a process that stops calling it leaves
 * the others waiting: an error in one process is the caller's to turn into an abort of them all). values is the
 * library's (valid during the call); another status fails the step with it, the message kept when the hook set
 * one through no public means (its status name otherwise). */
typedef clae_status (*clae_gradient_reduce_fn)(float *values, size_t n, void *user);

typedef struct clae_trainer_options {
    /* Train until the position reaches epoch `epochs`; UINT64_MAX: no limit
     * (max_steps or a callback must stop it). A start at or past it trains
     * nothing (the end files are still written). */
    uint64_t epochs;
    uint64_t max_steps;         /* stop once clae_model_steps(m) reaches it (a resumed run's steps count); 0: none */
    clae_batch_order order;
    clae_train_position start;  /* where to begin: {0, 0}, or a checkpoint's position to resume from */
    const char *checkpoint_path; /* NULL: no checkpoints */
    /* Also checkpoint whenever clae_model_steps(m) is a multiple of this (after
     * that step's on_step); 0: only at the end. */
    uint64_t checkpoint_every;
    const char *model_path;        /* NULL, or where clae_model_save writes the model at the end */
    const clae_scaling *scaling;   /* stored in both files; NULL: none. Not copied: keep it alive */
    /* A step loss above diverge_factor·|this call's first loss| + diverge_floor
     * stops the run as diverged (0: no check). */
    double diverge_factor, diverge_floor;
    clae_train_callback on_epoch_begin; /* before an epoch's first step (its resumed one) */
    clae_train_callback on_step;        /* after every step, before its periodic checkpoint */
    clae_train_callback on_epoch_end;   /* after an epoch's last step or when training stops within it */
    void *user;                         /* handed to every callback */
    /* Data-parallel training (README, Data-parallel training). Each global batch (the model's batch of B rows,
     * chosen exactly as without it) is split into P = shard_count·(1 + n_replicas) contiguous parts: part k of
     * the batch's n rows is rows [k·n/P, (k+1)·n/P) (integer division), and each part's step is the model's
     * step on those rows alone. The parts' gradients, each weighted by its share n_k/n, are summed before
     * every update, so the update is that of the whole batch's mean loss; the reported loss is the weighted
     * sum of the parts' losses, the whole batch's. Refused (CLAE_ERR_ARG): nets whose math mixes a batch's rows
     * (kl and h2o sparsity, wta, adv), a batch of fewer rows than parts (the last, short batch counts). */
    /* Across processes: this process trains part shard_index of shard_count (0, 1: no split), through reduce
     * (with reduce_user), which every process must set. At the start, the model's every persistent tensor
     * (weights, optimizer state, noise statistics) is made shard 0's through reduce (the others add zeros), so
     * the processes need only the same configuration, data set and options; clae_model_steps must already agree.
     * The files of checkpoint_path and model_path are written by every process that names them: name them in
     * one (shard 0's) and pass NULL in the others. Callbacks run in every process. */
    int shard_index, shard_count;
    clae_gradient_reduce_fn reduce;
    void *reduce_user;
    /* Within this process: n_replicas further models of m's configuration (spec and training fields; CLAE_ERR_ARG
     * otherwise), each on its own runtime (none m's, no two the same), that train parts 1..n_replicas while m
     * trains part 0, each on a thread of its own; the parts' gradients are summed in double in part order 0..P-1
     * and rounded once, so every replica gets the same bits. At the start each replica becomes a copy of m's
     * persistent tensors and step count, so after a training that ends without an error they still equal m
     * as far as their devices' updates agree bit for bit (devices of one kind: exactly); only m's files are
     * written, and a resumed run needs only m loaded. Not combined with shard_count > 1. The caller owns the replicas (and
     * keeps their runtimes open); the trainer keeps nothing. */
    clae_model **replicas;
    int n_replicas;
} clae_trainer_options;

/* One epoch, shuffled, from the start, no files, divergence at 1e3 times the
 * first loss plus 1e-3, no callbacks, no data parallelism (shard 0 of 1, no replicas). */
void clae_trainer_options_default(clae_trainer_options *o);

/* Trains m on train's rows (train->cols == the model's input width) as o
 * says, from o->start; batches of the model's batch size. When training ends
 * without an error (epochs or max_steps reached, or a callback's stop) the
 * end files are written once: the checkpoint at the end position (unless
 * the last periodic one already holds these steps) and the model file; for
 * a stop within an epoch, or at the last epoch's end, before that epoch's
 * on_epoch_end. A non-finite loss (the step's CLAE_ERR_NUMERIC, whose
 * message names the step) or one past the divergence bound returns
 * CLAE_ERR_NUMERIC naming the step, epoch and both losses, and writes no end
 * file (a periodic checkpoint already written stays). Other errors:
 * CLAE_ERR_ARG (NULL argument, a start past the epoch's steps, no way to
 * stop), CLAE_ERR_SHAPE (data width), CLAE_ERR_NOMEM, and those of the step
 * and the saves, passed on with their messages. out (may be NULL) receives
 * the state where training stopped, also on failure. The trainer keeps
 * nothing: the caller owns m, train, o and what o points to. */
clae_status clae_model_train(clae_model *m, const clae_dataset *train, const clae_trainer_options *o,
                             clae_train_report *out);

/* ------------------------------------------------------------------------ */
/* Greedy pretraining (README, Pretraining)                                  */
/* ------------------------------------------------------------------------ */

/* How a deep autoencoder's encoder layers are pretrained, one after another from the input, before the whole
 * net is fine-tuned by clae_model_train. */
typedef enum clae_pretrain_kind {
    CLAE_PRETRAIN_NONE = 0,
    CLAE_PRETRAIN_LAYERWISE, /* each layer a shallow autoencoder on the codes of the one below (a denoising one
                              * when the net corrupts its input); Bengio et al. 2007, Vincent et al. 2010 */
    CLAE_PRETRAIN_RBM,       /* each layer an RBM trained by CD-1 on the hidden probabilities of the one below,
                              * unrolled into encoder and decoder; Hinton & Salakhutdinov 2006 */
    CLAE_PRETRAIN_COUNT
} clae_pretrain_kind;

/* "none", "layerwise", "rbm" <-> the enum; the parser returns CLAE_ERR_ARG for another word. */
const char *clae_pretrain_name(clae_pretrain_kind k);
clae_status clae_pretrain_parse(const char *word, clae_pretrain_kind *out);

/* What the pretraining callback is told after every epoch of a layer, and what clae_model_pretrain reports at
 * its end (the last layer's last epoch). */
typedef struct clae_pretrain_report {
    int layer, layers;    /* the encoder layer being pretrained (0 = the first) and how many are */
    uint64_t epoch;       /* epochs of this layer done */
    uint64_t epochs;      /* the epochs each layer takes */
    double recon_mse;     /* the layer's reconstruction error of its input, per element: for an RBM the mean over
                           * the epoch's steps of its one-step reconstruction (v1 against v0), for an autoencoder
                           * its reconstruction of all its training rows after the epoch */
    double seconds;       /* since this layer began */
    int stopped;          /* the callback asked to stop: the layers pretrained so far are in the model */
} clae_pretrain_report;

typedef struct clae_pretrain_options {
    clae_pretrain_kind kind;
    uint64_t epochs;      /* per layer (1) */
    float lr;             /* 0: layerwise, the model's rate and optimizer; rbm, Hinton & Salakhutdinov's 0.1
                           * (0.001 for a linear code layer) with momentum 0.5, then 0.9 after 5 epochs */
    float weight_decay;   /* rbm: wc of the weights' update (2e-4) */
    /* After each epoch of each layer; a non-zero return stops pretraining after that epoch. */
    int (*on_epoch)(const clae_pretrain_report *r, void *user);
    void *user;
} clae_pretrain_options;

/* kind NONE, epochs 1, lr 0 (the defaults above), weight_decay 2e-4, no callback. */
void clae_pretrain_options_default(clae_pretrain_options *o);

/* Pretrains m's encoder on train's rows and writes the result into m's weights: encoder layer l from the l-th
 * shallow model, decoder layer M−1−l from its decoder (an RBM's: W transposed and the visible bias). m must be a
 * training model whose net is a symmetric stack of dense layers (widths n_0, …, n_{M/2}, …, n_0, the code in the
 * middle), optionally after a noise layer (layerwise only: each shallow model then corrupts its own input) and
 * with regularizers (they act in fine-tuning only); tied nets take the encoder weights and both biases. RBM
 * pretraining needs sigmoid hidden layers and a sigmoid or linear code (the top RBM's hidden units are then
 * linear with unit Gaussian noise), and the input in [0, 1] for a sigmoid output (Bernoulli visible units) or
 * any real values for a linear one (Gaussian visible units). Everything random comes from the model's seed, so
 * the result is the same on every device. The optimizer state and the step count of m are untouched (0 for a
 * new model). Errors: CLAE_ERR_ARG naming what the net lacks; the model's weights are then untouched. If
 * report is non-NULL it receives the last epoch's report. */
clae_status clae_model_pretrain(clae_model *m, const clae_dataset *train, const clae_pretrain_options *o,
                                clae_pretrain_report *report);

#if defined(__GNUC__) && __GNUC__ >= 4
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* CLAE_H */
