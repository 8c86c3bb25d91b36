/* runtime.h — internal view of a runtime: device, context, queue, programs, device buffers.
 * The ops and the models build on this; the public API exposes only the opaque handle. */
#ifndef CLAE_RUNTIME_H
#define CLAE_RUNTIME_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include "clae.h"
#include "runtime/error.h"

struct clae_ops;
struct clae_gemm_engine;
struct clae_trace;

/* A span of device (or, for cpu-ref, host) memory holding floats. `off` is in
 * floats from the start of `mem` (OpenCL) or already applied to `host` (cpu-ref)
 * so a buffer can live inside a larger arena. */
typedef struct clae_buf {
    float *host;   /* cpu-ref: the data; OpenCL: NULL */
    cl_mem mem;    /* OpenCL: the memory object; cpu-ref: NULL */
    size_t off;    /* OpenCL: offset in floats into mem */
    size_t n;      /* number of floats */
    int owns;      /* 1 if clae_buf_free releases the memory */
} clae_buf;

/* One embedded kernel source file (generated build/kernels.c). */
typedef struct clae_kernel_source {
    const char *name;          /* file name within cl/, e.g. "elementwise.cl" */
    const unsigned char *data; /* file contents, not NUL-terminated */
    size_t size;
} clae_kernel_source;

extern const clae_kernel_source clae_kernel_sources[];
extern const size_t clae_kernel_source_count;

#define CLAE_MAX_PROGRAMS 32
#define CLAE_MAX_KERNELS 128

/* A kernel some program declares, found by scanning the program's source at open, so a kernel's
 * program can be built the first time the kernel is asked for without building any other. */
typedef struct clae_kernel_decl {
    char name[64];
    int program; /* index into rt->programs */
} clae_kernel_decl;

typedef struct clae_kernel_entry {
    char name[64];
    cl_kernel kernel;
    size_t wg; /* its 1-D work-group size, worked out once (clae_rt_kernel_wg) */
} clae_kernel_entry;

struct clae_runtime {
    int is_ref;                     /* 1 for the cpu-ref pseudo-device */
    clae_device_info info;
    cl_platform_id platform;
    cl_device_id device;
    cl_context ctx;
    cl_command_queue queue;
    /* Every .cl file is one program, in name order; each is built (or loaded from the cache) the
     * first time one of its kernels is asked for (clae_rt_kernel_get), so NULL until then. */
    cl_program programs[CLAE_MAX_PROGRAMS];
    char program_names[CLAE_MAX_PROGRAMS][64];
    size_t program_source[CLAE_MAX_PROGRAMS]; /* its index in clae_kernel_sources */
    int n_programs;
    clae_kernel_decl *decls;        /* the kernels each program declares, in program order */
    size_t n_decls;
    clae_kernel_entry kernels[CLAE_MAX_KERNELS];
    int n_kernels;
    char options[2048];             /* build options shared by every program */
    char cache_dir[1024];           /* "" when the cache is off */
    unsigned mem_align_bytes;       /* CL_DEVICE_MEM_BASE_ADDR_ALIGN / 8 */
    int has_fp64;
    unsigned vector_width_float;
    clae_runtime_stats stats;
    /* Filled by the ops layer as it opens the runtime (lib/ops/ops_select.c); the runtime only holds them,
     * so it needs no op or GEMM declaration. */
    const struct clae_ops *ops;     /* &clae_ops_ref or &clae_ops_cl */
    const struct clae_gemm_engine *gemm; /* GEMM engine chosen for the device */
    int wrapped;                    /* context and queue are the caller's (clae_runtime_wrap): never finished */
    cl_event stage_event;           /* a wrapped runtime's last staged write (its sync point), or NULL */
    float *stage;                   /* host copies behind clae_buf_write_staged (malloc) */
    size_t stage_cap;               /* its capacity in floats */
    size_t stage_used;              /* floats of it that writes not known to be done may still read */
    int stage_pending;              /* some staged write may not be done */
    void *gemm_state;               /* the GEMM engines' own per-runtime state (the tile table), or NULL */
    void (*gemm_state_free)(void *); /* frees it at clae_runtime_close */
    cl_mem gemm_workspace;          /* lent by the model running now (clae_rt_set_gemm_workspace) */
    size_t gemm_workspace_bytes;
    struct clae_trace *trace;       /* non-NULL during a model's dry run (clae_rt_trace) */
    char note[512];                 /* clae_runtime_note: why the user got this device, when they should know */
    char cache_note[512];           /* the first failed write to the program cache, for clae_runtime_note */
    char error[CLAE_ERROR_MAX];
};

/* A dry run: while a trace is set, every op and every buffer transfer checks its arguments as usual,
 * then reports the buffers it would touch (and GEMM its workspace request) instead of running. The
 * buffers of a dry run are placeholders (no memory, distinct `off` ranges) that the tracer maps back
 * to the tensors it planned; this is how a model learns its tensors' lifetimes from its own code. */
typedef struct clae_trace {
    void (*use)(struct clae_trace *t, clae_buf b);           /* b is read or written now */
    void (*workspace)(struct clae_trace *t, size_t bytes);   /* a GEMM now asks for this much workspace */
    /* A GEMM of this shape runs now (NULL: not wanted). */
    void (*gemm)(struct clae_trace *t, int trans_a, int trans_b, size_t M, size_t N, size_t K);
} clae_trace;

/* As clae_rt_open, on the caller's context, device and in-order queue (clae_runtime_wrap documents it). out
 * must not be NULL. */
clae_status clae_rt_wrap(cl_context ctx, cl_device_id device, cl_command_queue queue, clae_runtime **out);

/* Sets (or, with NULL, clears) the runtime's trace. */
void clae_rt_trace(clae_runtime *rt, clae_trace *t);
/* Reports b to the trace (a no-op for an empty buffer). */
void clae_rt_trace_use(clae_runtime *rt, clae_buf b);

/* Opens the device spec selects (as clae_runtime_open documents it) with ops and gemm left NULL:
 * clae_runtime_open (lib/ops/ops_select.c) fills them. out must not be NULL; *out is NULL on failure. */
clae_status clae_rt_open(const char *spec, clae_runtime **out);

/* The property list clae_device_properties returns, for the device spec selects; its "gemm_engine"
 * value is gemm_engine(the device), so the engine choice stays in the ops layer. props and count
 * must not be NULL. */
clae_status clae_rt_device_properties(const char *spec, const char *(*gemm_engine)(const clae_device_info *d),
                                      clae_device_property **props, size_t *count);

/* Lends the GEMM engine a planned workspace (an OpenCL sub-buffer of `bytes`), or
 * takes it back with mem = NULL. Without one, or when a shape needs more, the
 * engine falls back to allocating its own. */
void clae_rt_set_gemm_workspace(clae_runtime *rt, cl_mem mem, size_t bytes);
/* n floats from a caller's memory object (at src_off floats) into dst at dst_off, on the device (no host copy). */
clae_status clae_buf_copy_from_mem(clae_runtime *rt, clae_buf dst, size_t dst_off, cl_mem src, size_t src_off, size_t n);
/* n floats of src at src_off into a caller's memory object at dst_off, on the device. */
clae_status clae_buf_copy_to_mem(clae_runtime *rt, clae_buf src, size_t src_off, cl_mem dst, size_t dst_off, size_t n);
/* As clae_buf_write, but it returns without waiting for the device: src is copied into the runtime's own
 * staging memory first, so the caller may reuse src at once, and the copy is kept until the write is done.
 * Writes between two waits (a clae_buf_read or clae_rt_finish) take consecutive parts of the staging memory;
 * one that no longer fits waits for the earlier ones first. Saves the blocking round trips of a step's or a
 * call's uploads (a third of a batch-1 inference call). */
clae_status clae_buf_write_staged(clae_runtime *rt, clae_buf dst, size_t off, const float *src, size_t n);

/* Records the thread's last error in the runtime and returns status (for
 * `return clae_rt_fail(rt, clae_fail(...));`). */
clae_status clae_rt_fail(clae_runtime *rt, clae_status status);

/* The kernel `name` into *out (NULL on failure), created once and cached, and *wg (if non-NULL)
 * its 1-D work-group size: the CLAE_WG build define (64 when absent) capped by what the kernel
 * allows on this device, found when the kernel is first made, so a launch neither re-parses the
 * options nor queries the device. The first call for a kernel builds (or loads from the cache)
 * the program that declares it, and only that one, so a failing build is reported here:
 * CLAE_ERR_BUILD with the file, the options and the build log (CLAE_ERR_IO when a CLAE_KERNEL_DIR
 * source cannot be read). CLAE_ERR_OPENCL naming the kernel when no program makes it. Every
 * failure is recorded in rt (clae_runtime_error). */
clae_status clae_rt_kernel_get(clae_runtime *rt, const char *name, cl_kernel *out, size_t *wg);
/* clae_rt_kernel_get for callers that need no status: the kernel, or NULL with the error recorded. */
cl_kernel clae_rt_kernel(clae_runtime *rt, const char *name);
cl_kernel clae_rt_kernel_wg(clae_runtime *rt, const char *name, size_t *wg);
/* Builds (or loads from the cache) every program not built yet, in name order, stopping at the
 * first failure (recorded in rt). For whoever needs the whole set at once: the cache tests, and
 * a kernel the source scan could not place. */
clae_status clae_rt_build_all_programs(clae_runtime *rt);

/* Device-memory helpers. Each works for cpu-ref (host memory) and OpenCL. */
clae_status clae_buf_alloc(clae_runtime *rt, size_t n, clae_buf *out);
void clae_buf_free(clae_buf *b);
/* A view of floats [off, off+n) of `parent` (no ownership). */
clae_buf clae_buf_view(clae_buf parent, size_t off, size_t n);
/* The memory object of exactly view b, for callers that take no offset (the
 * GEMM engines): a sub-buffer of b's region, or b's own object retained when
 * b starts at 0 and is the whole of it. The caller releases *out with
 * clae_mem_release(). cpu-ref views have no memory object: *out = NULL. */
clae_status clae_buf_mem(clae_runtime *rt, clae_buf b, cl_mem *out);
void clae_mem_release(cl_mem mem);
clae_status clae_buf_write(clae_runtime *rt, clae_buf dst, size_t off, const float *src, size_t n);
clae_status clae_buf_read(clae_runtime *rt, clae_buf src, size_t off, float *dst, size_t n);
clae_status clae_buf_zero(clae_runtime *rt, clae_buf b);
/* Host memory the device reads and writes directly: on OpenCL a CL_MEM_ALLOC_HOST_PTR buffer kept mapped for
 * its whole life (PoCL and unified-memory devices then copy nothing more; discrete ones get pinned pages that DMA
 * at full speed), on cpu-ref plain host memory. For transfers that go through the host every step (a data-parallel
 * step's gradient buckets), passed as the host pointer of clae_buf_read/clae_buf_write. */
typedef struct clae_host_staging {
    float *ptr;      /* n floats, valid until clae_host_staging_free */
    size_t n;
    cl_mem mem;      /* OpenCL: the mapped buffer; cpu-ref: NULL */
    cl_command_queue queue; /* the queue it was mapped on (unmapped there) */
} clae_host_staging;
/* n floats (zeroed) on rt's device; CLAE_ERR_NOMEM / CLAE_ERR_DEVICE_MEM / CLAE_ERR_OPENCL, recorded in rt. */
clae_status clae_host_staging_alloc(clae_runtime *rt, size_t n, clae_host_staging *out);
/* Unmaps and releases it (a zeroed or freed one is a no-op); the runtime must still be open. */
void clae_host_staging_free(clae_host_staging *s);
/* Waits until all queued work has finished. */
clae_status clae_rt_finish(clae_runtime *rt);

/* Sets kernel arguments and enqueues a 1-D range of `global` items (rounded up
 * to a multiple of `local`, or local chosen by the driver when 0). Helpers for
 * ops_cl.c; `what` names the kernel in errors. */
clae_status clae_rt_enqueue_1d(clae_runtime *rt, cl_kernel k, const char *what, size_t global, size_t local);
clae_status clae_rt_enqueue_2d(clae_runtime *rt, cl_kernel k, const char *what, size_t g0, size_t g1,
                               size_t l0, size_t l1);

/* Program cache (lib/runtime/cache.c). The key is any string; it is hashed (SHA-256)
 * for the file name and stored whole in the entry header, and the payload
 * carries a checksum. */
/* Loads the entry for key from dir. CLAE_OK with *data malloc'd (caller frees);
 * CLAE_ERR_CACHE if absent; CLAE_ERR_FORMAT if present but corrupt or for
 * another key (the file is then deleted). */
clae_status clae_cache_load(const char *dir, const char *key, unsigned char **data, size_t *size);
/* Writes the entry atomically (temporary file + rename); creates dir if needed. */
clae_status clae_cache_store(const char *dir, const char *key, const unsigned char *data, size_t size);
/* The file path of key's entry in dir (for tests that corrupt entries). */
void clae_cache_entry_path(const char *dir, const char *key, char *path, size_t cap);
/* Lowercase hex SHA-256 of data into hex (65 bytes). */
void clae_sha256_hex(const void *data, size_t size, char hex[65]);

#endif
