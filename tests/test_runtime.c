/* test_runtime.c — Check suite for device discovery, runtime open, build options, kernels built on first use,
 * buffers and the program disk cache (including corrupt entries and broken kernel sources). */
#include "test_util.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops/gemm/gemm.h"
#include "ops/ops.h"
#include "runtime/runtime.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* Environment variables the runtime reads; each test restores them so tests
 * stay independent while running in one process. */
static const char *const env_names[] = {"CLAE_CACHE_DIR", "CLAE_CACHE",          "CLAE_KERNEL_DIR",
                                        "CLAE_DEVICE",    "CLAE_BUILD_OPTIONS", "CLAE_DUMP_SOURCE"};
#define N_ENV (sizeof env_names / sizeof env_names[0])
static char *env_saved[N_ENV];

static void env_save(void)
{
    for (size_t i = 0; i < N_ENV; i++) {
        const char *v = getenv(env_names[i]);
        free(env_saved[i]);
        env_saved[i] = v ? strdup(v) : NULL;
    }
}

static void env_restore(void)
{
    for (size_t i = 0; i < N_ENV; i++) {
        if (env_saved[i]) setenv(env_names[i], env_saved[i], 1);
        else unsetenv(env_names[i]);
        free(env_saved[i]);
        env_saved[i] = NULL;
    }
}

static void make_tmpdir(char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, cap, "%s/clae-rt-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_msg(mkdtemp(out) != NULL, "mkdtemp %s failed", out);
}

/* Removes a directory tree of plain files and directories. */
static int name_ends(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcmp(name + n - s, suffix) == 0;
}

/* An embedded source as a terminated string (malloc'd; the caller frees it). */
static char *source_text(const clae_kernel_source *ks)
{
    char *src = malloc(ks->size + 1);
    ck_assert(src != NULL);
    memcpy(src, ks->data, ks->size);
    src[ks->size] = '\0';
    return src;
}

/* A 16-8-16 dense autoencoder at batch 4 (sigmoid output, as bce needs): one step touches every program a
 * dense model uses. */
static clae_model_config small_dense_config(void)
{
    clae_model_config c;
    clae_model_config_default(&c);
    c.n_layers = 2;
    c.sizes[0] = 16;
    c.sizes[1] = 8;
    c.sizes[2] = 16;
    c.activation[1] = CLAE_ACT_SIGMOID;
    c.code_layer = 1;
    c.batch = 4;
    return c;
}

static unsigned count_programs(void)
{
    unsigned n = 0;
    for (size_t i = 0; i < clae_kernel_source_count; i++)
        if (name_ends(clae_kernel_sources[i].name, ".cl")) n++;
    return n;
}

/* The .cl file that sorts last: the runtime builds it last, so a fault there
 * shows that earlier programs are cleaned up after a failure. */
static const char *last_program(void)
{
    const char *last = NULL;
    for (size_t i = 0; i < clae_kernel_source_count; i++) {
        const char *n = clae_kernel_sources[i].name;
        if (name_ends(n, ".cl") && (!last || strcmp(n, last) > 0)) last = n;
    }
    return last;
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert(size == 0 || fwrite(data, 1, size, f) == size);
    ck_assert_int_eq(fclose(f), 0);
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    ck_assert(p != NULL);
    ck_assert(fread(p, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return p;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int cmp_name(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

/* Sorted names of the *.bin entries in a cache directory; returns the count. */
static size_t cache_entries(const char *dir, char names[][128], size_t cap)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (name_ends(e->d_name, ".bin")) {
            if (n < cap) snprintf(names[n], 128, "%s", e->d_name);
            n++;
        }
    closedir(d);
    qsort(names, n < cap ? n : cap, 128, cmp_name);
    return n;
}

static int contains_bytes(const unsigned char *hay, size_t n, const unsigned char *needle, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(hay + i, needle, m) == 0) return 1;
    return 0;
}

/* Test kernels appended to the last program: they exercise launches and buffer
 * offsets independently of the op kernels' signatures. */
static const char test_kernels[] =
    "\n__kernel void clae_rt_test_axpb(__global float *x, ulong off, ulong n, float a, float b)\n"
    "{\n"
    "    size_t i = get_global_id(0);\n"
    "    if (i < n) x[off + i] = a * x[off + i] + b;\n"
    "}\n"
    "__kernel void clae_rt_test_fill2d(__global float *x, ulong off, ulong rows, ulong cols)\n"
    "{\n"
    "    size_t c = get_global_id(0), r = get_global_id(1);\n"
    "    if (r < rows && c < cols) x[off + r * cols + c] = (float)(r * 1000 + c);\n"
    "}\n";

/* Writes every embedded source into dir, one program (`target`, NULL for the last one) optionally
 * with the test kernels or a syntax error appended. */
static void write_sources(const char *dir, const char *target, const char *append_last, const char *skip)
{
    const char *last = target ? target : last_program();
    for (size_t i = 0; i < clae_kernel_source_count; i++) {
        const clae_kernel_source *ks = &clae_kernel_sources[i];
        if (skip && strcmp(ks->name, skip) == 0) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, ks->name);
        FILE *f = fopen(path, "wb");
        ck_assert_msg(f != NULL, "cannot create %s", path);
        ck_assert(ks->size == 0 || fwrite(ks->data, 1, ks->size, f) == ks->size);
        if (append_last && strcmp(ks->name, last) == 0) fputs(append_last, f);
        ck_assert_int_eq(fclose(f), 0);
    }
}

static const clae_device_info *first_of_type(const clae_device_info *list, size_t n, clae_device_type t)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].type == t) return &list[i];
    return NULL;
}

static void open_ok(const char *spec, clae_runtime **rt)
{
    clae_status s = clae_runtime_open(spec, rt);
    ck_assert_msg(s == CLAE_OK, "open '%s': %s: %s", spec ? spec : "(null)", clae_status_string(s),
                  clae_last_error());
    ck_assert(*rt != NULL);
}

/* open_ok, then every program built or loaded: opening builds nothing (each program is built when
 * one of its kernels is first asked for), and the cache tests want every program through the cache. */
static void open_all(const char *spec, clae_runtime **rt)
{
    open_ok(spec, rt);
    clae_status s = clae_rt_build_all_programs(*rt);
    ck_assert_msg(s == CLAE_OK, "building every program: %s: %s", clae_status_string(s), clae_runtime_error(*rt));
}

static void assert_device_id(clae_runtime *rt, const char *id)
{
    clae_device_info d;
    ck_assert_int_eq(clae_runtime_device(rt, &d), CLAE_OK);
    ck_assert_str_eq(d.id, id);
}

/* ------------------------------------------------------------------------ */
/* Errors and names                                                          */
/* ------------------------------------------------------------------------ */

START_TEST(test_status_strings)
{
    ck_assert_str_eq(clae_status_string(CLAE_OK), "CLAE_OK");
    ck_assert_str_eq(clae_status_string(CLAE_ERR_BUILD), "CLAE_ERR_BUILD");
    ck_assert_str_eq(clae_status_string(CLAE_ERR_NUMERIC), "CLAE_ERR_NUMERIC");
    for (int s = 0; s < CLAE_STATUS_COUNT; s++)
        ck_assert_msg(strncmp(clae_status_string((clae_status)s), "CLAE_", 5) == 0, "status %d", s);
    ck_assert_ptr_nonnull(clae_status_string((clae_status)999));
    ck_assert_str_eq(clae_device_type_string(CLAE_DEVICE_CPU_REF), "cpu-ref");
    ck_assert_str_eq(clae_device_type_string(CLAE_DEVICE_GPU), "gpu");
    ck_assert_str_eq(clae_device_type_string(CLAE_DEVICE_ACCELERATOR), "accelerator");
    ck_assert_str_eq(clae_cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    ck_assert_str_eq(clae_cl_error_name(CL_INVALID_DEVICE_PARTITION_COUNT), "CL_INVALID_DEVICE_PARTITION_COUNT");
    ck_assert_str_eq(clae_cl_error_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
    ck_assert_str_eq(clae_cl_error_name(-12345), "CL_UNKNOWN_ERROR");

    ck_assert_int_eq(clae_fail(CLAE_ERR_IO, "%s: cannot open", "x.bin"), CLAE_ERR_IO);
    ck_assert_str_eq(clae_last_error(), "x.bin: cannot open");
    clae_fail_append("; %d more", 2);
    ck_assert_str_eq(clae_last_error(), "x.bin: cannot open; 2 more");
    char buf[CLAE_ERROR_MAX];
    clae_error_copy_to(buf);
    ck_assert_str_eq(buf, "x.bin: cannot open; 2 more");
    /* A message longer than the buffer is truncated, never overrun. */
    char *big = malloc(2 * CLAE_ERROR_MAX);
    ck_assert(big != NULL);
    memset(big, 'a', 2 * CLAE_ERROR_MAX - 1);
    big[2 * CLAE_ERROR_MAX - 1] = '\0';
    clae_fail(CLAE_ERR_ARG, "%s", big);
    ck_assert_uint_eq(strlen(clae_last_error()), CLAE_ERROR_MAX - 1);
    clae_fail_append("%s", "more");
    ck_assert_uint_eq(strlen(clae_last_error()), CLAE_ERROR_MAX - 1);
    free(big);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Devices and specs                                                         */
/* ------------------------------------------------------------------------ */

START_TEST(test_devices_list)
{
    clae_device_info *list = NULL;
    size_t n = 0;
    ck_assert_int_eq(clae_devices(&list, &n), CLAE_OK);
    ck_assert_uint_ge(n, 2);
    const clae_device_info *ref = &list[n - 1];
    ck_assert_str_eq(ref->id, "cpu-ref");
    ck_assert_int_eq(ref->type, CLAE_DEVICE_CPU_REF);
    ck_assert_str_eq(ref->name, "cpu-ref (plain C reference)");
    ck_assert_str_eq(ref->platform, "clae");

    const clae_device_info *cpu = first_of_type(list, n, CLAE_DEVICE_CPU);
    ck_assert_msg(cpu != NULL, "no OpenCL CPU device (PoCL) listed");
    const clae_device_info *gpu = first_of_type(list, n, CLAE_DEVICE_GPU);
    const clae_device_info *want_default = gpu ? gpu : cpu;
    int defaults = 0;
    for (size_t i = 0; i < n; i++) {
        const clae_device_info *d = &list[i];
        defaults += d->is_default;
        if (d->is_default) ck_assert_ptr_eq(d, want_default);
        if (d->type == CLAE_DEVICE_CPU_REF) continue;
        unsigned p, q;
        char extra;
        ck_assert_msg(sscanf(d->id, "%u:%u%c", &p, &q, &extra) == 2, "bad id '%s'", d->id);
        ck_assert_msg(d->name[0] && d->platform[0] && d->opencl_c_version[0], "device %s lacks strings", d->id);
        ck_assert_uint_gt(d->compute_units, 0);
        ck_assert_uint_gt(d->global_mem_bytes, 0);
        ck_assert_uint_gt(d->max_alloc_bytes, 0);
        ck_assert_uint_gt(d->max_work_group_size, 0);
    }
    ck_assert_int_eq(defaults, 1);
    clae_free(list);
    ck_assert_int_eq(clae_devices(NULL, &n), CLAE_ERR_ARG);
}
END_TEST

START_TEST(test_open_ref)
{
    clae_runtime *rt = NULL;
    open_ok("CPU-Ref", &rt);
    ck_assert_int_eq(rt->is_ref, 1);
    assert_device_id(rt, "cpu-ref");
    ck_assert_str_eq(clae_runtime_build_options(rt), "");
    ck_assert_str_eq(clae_runtime_cache_dir(rt), "");
    ck_assert_str_eq(clae_runtime_error(rt), "");
    ck_assert_ptr_eq(rt->ops, &clae_ops_ref);
    ck_assert_ptr_eq(rt->gemm, &clae_gemm_ref);
    clae_runtime_stats st;
    ck_assert_int_eq(clae_runtime_stats_get(rt, &st), CLAE_OK);
    ck_assert_uint_eq(st.programs_built + st.programs_from_cache, 0);
    ck_assert_ptr_null(clae_rt_kernel(rt, "bias_add"));
    ck_assert_msg(strstr(clae_runtime_error(rt), "bias_add") != NULL, "error: %s", clae_runtime_error(rt));
    clae_runtime_close(rt);

    /* The environment decides when the spec is empty. */
    setenv("CLAE_DEVICE", "cpu-ref", 1);
    rt = NULL;
    open_ok(NULL, &rt);
    ck_assert_int_eq(rt->is_ref, 1);
    clae_runtime_close(rt);
    rt = NULL;
    open_ok("", &rt);
    ck_assert_int_eq(rt->is_ref, 1);
    clae_runtime_close(rt);
    clae_runtime_close(NULL);
}
END_TEST

START_TEST(test_open_specs)
{
    clae_device_info *list = NULL;
    size_t n = 0;
    ck_assert_int_eq(clae_devices(&list, &n), CLAE_OK);
    const clae_device_info *cpu = first_of_type(list, n, CLAE_DEVICE_CPU);
    ck_assert_ptr_nonnull(cpu);
    const clae_device_info *def = NULL;
    for (size_t i = 0; i < n; i++)
        if (list[i].is_default) def = &list[i];
    ck_assert_ptr_nonnull(def);

    clae_runtime *rt = NULL;
    open_ok("cpu", &rt);
    assert_device_id(rt, cpu->id);
    ck_assert_int_eq(rt->is_ref, 0);
    ck_assert_ptr_eq(rt->ops, &clae_ops_cl);
    ck_assert_ptr_eq(rt->gemm, &clae_gemm_tiled); /* the engine table gives CPU devices the tiled GEMM */
    ck_assert_uint_ge(rt->mem_align_bytes, 4);
    ck_assert_uint_ge(rt->vector_width_float, 1);
    clae_runtime_close(rt);

    rt = NULL;
    open_ok(cpu->id, &rt);
    assert_device_id(rt, cpu->id);
    clae_runtime_close(rt);

    /* A name substring, in the wrong case, taken from the list rather than
     * assuming what the driver calls its device. */
    char sub[64];
    size_t len = strlen(cpu->name);
    size_t take = len < 8 ? len : 8;
    for (size_t i = 0; i < take; i++) sub[i] = (char)toupper((unsigned char)cpu->name[i]);
    sub[take] = '\0';
    rt = NULL;
    open_ok(sub, &rt);
    clae_device_info got;
    ck_assert_int_eq(clae_runtime_device(rt, &got), CLAE_OK);
    for (size_t i = 0; i < take; i++)
        ck_assert_msg(toupper((unsigned char)got.name[i]) == sub[i], "'%s' opened '%s'", sub, got.name);
    clae_runtime_close(rt);

    unsetenv("CLAE_DEVICE");
    rt = NULL;
    open_ok(NULL, &rt);
    assert_device_id(rt, def->id);
    clae_runtime_close(rt);
    clae_free(list);
}
END_TEST

START_TEST(test_open_unknown)
{
    clae_device_info *list = NULL;
    size_t n = 0;
    ck_assert_int_eq(clae_devices(&list, &n), CLAE_OK);
    const clae_device_info *cpu = first_of_type(list, n, CLAE_DEVICE_CPU);
    ck_assert_ptr_nonnull(cpu);

    clae_runtime *rt = (clae_runtime *)&rt; /* must be reset to NULL */
    ck_assert_int_eq(clae_runtime_open("no-such-device", &rt), CLAE_ERR_DEVICE);
    ck_assert_ptr_null(rt);
    const char *msg = clae_last_error();
    ck_assert_msg(strstr(msg, "no-such-device") != NULL, "message: %s", msg);
    ck_assert_msg(strstr(msg, "cpu-ref") != NULL, "message: %s", msg);
    ck_assert_msg(strstr(msg, cpu->name) != NULL && strstr(msg, cpu->id) != NULL, "message: %s", msg);

    ck_assert_int_eq(clae_runtime_open("99:99", &rt), CLAE_ERR_DEVICE);
    ck_assert_ptr_null(rt);
    if (!first_of_type(list, n, CLAE_DEVICE_ACCELERATOR)) {
        ck_assert_int_eq(clae_runtime_open("accelerator", &rt), CLAE_ERR_DEVICE);
        ck_assert_ptr_null(rt);
    }
    setenv("CLAE_DEVICE", "still-no-such-device", 1);
    ck_assert_int_eq(clae_runtime_open(NULL, &rt), CLAE_ERR_DEVICE);
    ck_assert_msg(strstr(clae_last_error(), "still-no-such-device") != NULL, "message: %s", clae_last_error());
    ck_assert_int_eq(clae_runtime_open("cpu", NULL), CLAE_ERR_ARG);
    clae_free(list);
}
END_TEST

START_TEST(test_build_options)
{
    clae_runtime *rt = test_rt_cl();
    const char *o = clae_runtime_build_options(rt);
    ck_assert_msg(strstr(o, "-cl-std=CL") != NULL, "options: %s", o);
    ck_assert_msg(strstr(o, "-DCLAE_HAS_FP64=") != NULL, "options: %s", o);
    ck_assert_msg(strstr(o, "-DCLAE_VEC_FLOAT=") != NULL, "options: %s", o);
    ck_assert_msg(strstr(o, "-DCLAE_MAX_WG=") != NULL, "options: %s", o);
    ck_assert_msg(strstr(o, "-DCLAE_DEVICE_IS_CPU=1") != NULL || rt->info.type != CLAE_DEVICE_CPU, "options: %s", o);
    ck_assert_msg(strstr(o, "-DCLAE_WG=") != NULL, "options: %s", o);
    ck_assert_msg(strstr(o, "fast-relaxed") == NULL && strstr(o, "mad-enable") == NULL, "options: %s", o);
    /* -cl-std comes from the device's OpenCL C version, not the platform's. */
    int major = 0, minor = 0;
    const char *v = strstr(rt->info.opencl_c_version, "OpenCL C ");
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(sscanf(v, "OpenCL C %d.%d", &major, &minor), 2);
    char want[32];
    snprintf(want, sizeof want, "-cl-std=CL%d.%d", major, minor);
    ck_assert_msg(strstr(o, want) != NULL, "options %s lack %s", o, want);
    char fp[32];
    snprintf(fp, sizeof fp, "-DCLAE_HAS_FP64=%d", rt->has_fp64);
    ck_assert_msg(strstr(o, fp) != NULL, "options: %s", o);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */
/* ------------------------------------------------------------------------ */

/* A staged write returns before the device has the data, so the caller may scribble over its source at
 * once: what arrives is what src held at the call. Back-to-back staged writes (the second does not fit
 * beside the first: it waits, and the staging memory grows), writes sharing the staging memory between two
 * waits, and a view at an offset all arrive whole. */
START_TEST(test_buffers_staged)
{
    for (int p = 0; p < 2; p++) {
        clae_runtime *rt = test_rt(p);
        clae_buf b;
        const size_t n = 5000;
        ck_assert_int_eq(clae_buf_alloc(rt, 2 * n, &b), CLAE_OK);
        float *x = malloc(2 * n * sizeof *x), *y = malloc(2 * n * sizeof *y);
        ck_assert(x && y);
        for (size_t i = 0; i < n; i++) x[i] = (float)i + 0.25f;
        ck_assert_int_eq(clae_buf_write_staged(rt, b, 0, x, 10), CLAE_OK);
        for (size_t i = 0; i < 10; i++) x[i] = -1.0f; /* the caller's memory, reused at once */
        ck_assert_int_eq(clae_buf_write_staged(rt, clae_buf_view(b, 10, n), 0, x + 10, n - 10), CLAE_OK);
        for (size_t i = 10; i < n; i++) x[i] = -2.0f;
        ck_assert_int_eq(clae_buf_read(rt, b, 0, y, n), CLAE_OK);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(y[i] == (float)i + 0.25f, "path %d float %zu: %g", p, i, (double)y[i]);
        for (size_t i = 0; i < 2 * n; i++) x[i] = (float)(2 * n - i);
        ck_assert_int_eq(clae_buf_write_staged(rt, b, 0, x, 2 * n), CLAE_OK);
        memset(x, 0, 2 * n * sizeof *x);
        ck_assert_int_eq(clae_rt_finish(rt), CLAE_OK);
        ck_assert_int_eq(clae_buf_read(rt, b, 0, y, 2 * n), CLAE_OK);
        for (size_t i = 0; i < 2 * n; i++) ck_assert(y[i] == (float)(2 * n - i));
        /* Two halves staged one after the other into the grown memory, sources cleared at once. */
        for (size_t i = 0; i < 2 * n; i++) x[i] = (float)i * 0.5f;
        ck_assert_int_eq(clae_buf_write_staged(rt, b, 0, x, n), CLAE_OK);
        ck_assert_int_eq(clae_buf_write_staged(rt, b, n, x + n, n), CLAE_OK);
        memset(x, 0, 2 * n * sizeof *x);
        ck_assert_int_eq(clae_buf_read(rt, b, 0, y, 2 * n), CLAE_OK);
        for (size_t i = 0; i < 2 * n; i++) ck_assert(y[i] == (float)i * 0.5f);
        /* Out of range: an argument error, as for clae_buf_write. */
        ck_assert_int_eq(clae_buf_write_staged(rt, b, 1, x, 2 * n), CLAE_ERR_ARG);
        free(x);
        free(y);
        clae_buf_free(&b);
    }
}
END_TEST

START_TEST(test_buffers)
{
    for (int p = 0; p < 2; p++) {
        clae_runtime *rt = test_rt(p);
        clae_buf b, empty;
        ck_assert_int_eq(clae_buf_alloc(rt, 100, &b), CLAE_OK);
        ck_assert_uint_eq(b.n, 100);
        ck_assert_int_eq(b.owns, 1);
        ck_assert_int_eq(clae_buf_alloc(rt, 0, &empty), CLAE_OK);
        ck_assert_uint_eq(empty.n, 0);
        ck_assert_int_eq(clae_buf_zero(rt, empty), CLAE_OK);
        ck_assert_int_eq(clae_buf_write(rt, empty, 0, NULL, 0), CLAE_OK);

        float x[100], y[100];
        for (int i = 0; i < 100; i++) x[i] = (float)i + 0.5f;
        ck_assert_int_eq(clae_buf_write(rt, b, 0, x, 100), CLAE_OK);
        clae_buf v = clae_buf_view(b, 10, 20);
        ck_assert_uint_eq(v.n, 20);
        ck_assert_int_eq(v.owns, 0);
        ck_assert_int_eq(clae_buf_read(rt, v, 5, y, 10), CLAE_OK);
        for (int i = 0; i < 10; i++) ck_assert_float_eq(y[i], x[15 + i]);
        /* A view of a view keeps adding offsets. */
        clae_buf vv = clae_buf_view(v, 4, 3);
        const float w[3] = {-1.0f, -2.0f, -3.0f};
        ck_assert_int_eq(clae_buf_write(rt, vv, 0, w, 3), CLAE_OK);
        ck_assert_int_eq(clae_buf_zero(rt, clae_buf_view(b, 50, 5)), CLAE_OK);
        ck_assert_int_eq(clae_rt_finish(rt), CLAE_OK);
        ck_assert_int_eq(clae_buf_read(rt, b, 0, y, 100), CLAE_OK);
        for (int i = 0; i < 100; i++) {
            float want = (i >= 14 && i < 17) ? w[i - 14] : (i >= 50 && i < 55) ? 0.0f : x[i];
            ck_assert_msg(y[i] == want, "path %d float %d: %g != %g", p, i, (double)y[i], (double)want);
        }
        /* Out-of-range access is an argument error, not memory corruption. */
        ck_assert_int_eq(clae_buf_read(rt, v, 15, y, 10), CLAE_ERR_ARG);
        ck_assert_msg(strstr(clae_runtime_error(rt), "clae_buf_read") != NULL, "%s", clae_runtime_error(rt));
        ck_assert_int_eq(clae_buf_write(rt, b, 101, x, 0), CLAE_ERR_ARG);
        clae_buf clamped = clae_buf_view(b, 90, 50);
        ck_assert_uint_eq(clamped.n, 10);
        clae_buf_free(&v); /* a view does not own memory: no effect on b */
        ck_assert_int_eq(clae_buf_read(rt, b, 0, y, 1), CLAE_OK);
        clae_buf_free(&b);
        ck_assert_uint_eq(b.n, 0);
        ck_assert_ptr_null(b.host);
        ck_assert_ptr_null(b.mem);
        clae_buf_free(&empty);
    }
}
END_TEST

START_TEST(test_kernel_lookup)
{
    clae_runtime *rt = test_rt_cl();
    ck_assert_int_eq(rt->n_programs, (int)count_programs());
    /* Every kernel declared in the sources can be created, and is cached. */
    int found = 0;
    for (size_t i = 0; i < clae_kernel_source_count; i++) {
        const clae_kernel_source *ks = &clae_kernel_sources[i];
        if (!name_ends(ks->name, ".cl")) continue;
        char *src = source_text(ks);
        for (char *p = strstr(src, "kernel void "); p; p = strstr(p + 1, "kernel void ")) {
            char name[64];
            if (sscanf(p + strlen("kernel void "), "%63[A-Za-z0-9_]", name) != 1) continue;
            cl_kernel k = clae_rt_kernel(rt, name);
            ck_assert_msg(k != NULL, "%s: %s", name, clae_runtime_error(rt));
            ck_assert_ptr_eq(clae_rt_kernel(rt, name), k);
            found++;
        }
        free(src);
    }
    ck_assert_int_eq(found > 0, count_programs() > 0);
    ck_assert_ptr_null(clae_rt_kernel(rt, "no_such_kernel_xyz"));
    ck_assert_msg(strstr(clae_runtime_error(rt), "no_such_kernel_xyz") != NULL, "%s", clae_runtime_error(rt));
    ck_assert_msg(strstr(clae_last_error(), "no_such_kernel_xyz") != NULL, "%s", clae_last_error());
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Programs built on first use                                               */
/* ------------------------------------------------------------------------ */

static int program_index(const clae_runtime *rt, const char *file)
{
    for (int p = 0; p < rt->n_programs; p++)
        if (strcmp(rt->program_names[p], file) == 0) return p;
    ck_abort_msg("no program %s", file);
    return -1;
}

/* How many programs rt has built or loaded, asserting the stats say the same. */
static unsigned programs_ready(clae_runtime *rt)
{
    unsigned n = 0;
    for (int p = 0; p < rt->n_programs; p++) n += rt->programs[p] != NULL;
    clae_runtime_stats st;
    ck_assert_int_eq(clae_runtime_stats_get(rt, &st), CLAE_OK);
    ck_assert_uint_eq(st.programs_built + st.programs_from_cache, n);
    return n;
}

START_TEST(test_lazy_open)
{
    clae_runtime *rt = NULL;
    open_ok("cpu", &rt);
    clae_runtime_stats st;
    ck_assert_int_eq(clae_runtime_stats_get(rt, &st), CLAE_OK);
    ck_assert_uint_eq(st.programs_built + st.programs_from_cache + st.cache_written + st.cache_rejected, 0);
    ck_assert(st.build_seconds == 0.0);
    ck_assert_int_eq(rt->n_programs, (int)count_programs());
    ck_assert_uint_eq(programs_ready(rt), 0);

    /* The scan at open placed every kernel a source declares in that source's program, and
     * listed nothing its program's text does not declare. */
    size_t found = 0;
    for (size_t i = 0; i < clae_kernel_source_count; i++) {
        const clae_kernel_source *ks = &clae_kernel_sources[i];
        if (!name_ends(ks->name, ".cl")) continue;
        char *src = source_text(ks);
        for (char *p = strstr(src, "__kernel void "); p; p = strstr(p + 1, "__kernel void ")) {
            char name[64];
            if (sscanf(p + strlen("__kernel void "), "%63[A-Za-z0-9_]", name) != 1) continue;
            int placed = 0;
            for (size_t d = 0; d < rt->n_decls; d++)
                placed |= !strcmp(rt->decls[d].name, name) &&
                          !strcmp(rt->program_names[rt->decls[d].program], ks->name);
            ck_assert_msg(placed, "%s of %s was not placed in its program", name, ks->name);
            found++;
        }
        for (size_t d = 0; d < rt->n_decls; d++) {
            if (strcmp(rt->program_names[rt->decls[d].program], ks->name) != 0) continue;
            char decl[80];
            snprintf(decl, sizeof decl, "__kernel void %s(", rt->decls[d].name);
            ck_assert_msg(strstr(src, decl) != NULL, "%s listed for %s, which does not declare it", rt->decls[d].name,
                          ks->name);
        }
        free(src);
    }
    ck_assert_uint_gt(found, 0);
    ck_assert_uint_eq(rt->n_decls, found);

    /* A kernel builds its own program and no other; a second ask builds nothing. */
    int elementwise = program_index(rt, "elementwise.cl"), rbm = program_index(rt, "rbm.cl");
    cl_kernel k = clae_rt_kernel(rt, "bias_add");
    ck_assert_msg(k != NULL, "%s", clae_runtime_error(rt));
    ck_assert_uint_eq(programs_ready(rt), 1);
    ck_assert_ptr_nonnull(rt->programs[elementwise]);
    ck_assert_ptr_eq(clae_rt_kernel(rt, "bias_add"), k);
    ck_assert_uint_eq(programs_ready(rt), 1);
    ck_assert_int_eq(clae_runtime_stats_get(rt, &st), CLAE_OK);
    ck_assert(st.build_seconds > 0.0);
    double after_one = st.build_seconds;

    /* A kernel of a program not built yet: built on the spot, and it runs (Y += a·X). */
    enum { N = 300 };
    cl_kernel axpy = NULL;
    size_t wg = 0;
    ck_assert_int_eq(clae_rt_kernel_get(rt, "axpy", &axpy, &wg), CLAE_OK);
    ck_assert_ptr_nonnull(axpy);
    ck_assert_uint_gt(wg, 0);
    ck_assert_uint_eq(programs_ready(rt), 2);
    ck_assert_ptr_nonnull(rt->programs[rbm]);
    ck_assert_int_eq(clae_runtime_stats_get(rt, &st), CLAE_OK);
    ck_assert(st.build_seconds > after_one); /* the time adds up over the runtime's life */
    float x[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)i;
        y[i] = 1.0f;
    }
    clae_buf X, Y;
    ck_assert_int_eq(clae_buf_alloc(rt, N, &X), CLAE_OK);
    ck_assert_int_eq(clae_buf_alloc(rt, N, &Y), CLAE_OK);
    ck_assert_int_eq(clae_buf_write(rt, X, 0, x, N), CLAE_OK);
    ck_assert_int_eq(clae_buf_write(rt, Y, 0, y, N), CLAE_OK);
    cl_ulong n = N, off = 0;
    float a = 0.5f;
    ck_assert_int_eq(clSetKernelArg(axpy, 0, sizeof n, &n), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(axpy, 1, sizeof a, &a), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(axpy, 2, sizeof X.mem, &X.mem), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(axpy, 3, sizeof off, &off), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(axpy, 4, sizeof Y.mem, &Y.mem), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(axpy, 5, sizeof off, &off), CL_SUCCESS);
    ck_assert_int_eq(clae_rt_enqueue_1d(rt, axpy, "axpy", N, wg), CLAE_OK);
    ck_assert_int_eq(clae_buf_read(rt, Y, 0, y, N), CLAE_OK);
    for (int i = 0; i < N; i++) ck_assert_float_eq(y[i], 1.0f + 0.5f * (float)i);
    clae_buf_free(&X);
    clae_buf_free(&Y);

    /* Failures of the lookup itself build nothing and say why. */
    cl_kernel none = (cl_kernel)&none;
    ck_assert_int_eq(clae_rt_kernel_get(rt, NULL, &none, NULL), CLAE_ERR_ARG);
    ck_assert_ptr_null(none);
    char longname[100];
    memset(longname, 'k', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_int_eq(clae_rt_kernel_get(rt, longname, &none, NULL), CLAE_ERR_OPENCL);
    ck_assert_msg(strstr(clae_runtime_error(rt), "name too long") != NULL, "%s", clae_runtime_error(rt));
    ck_assert_uint_eq(programs_ready(rt), 2);
    clae_runtime_close(rt);
}
END_TEST

/* A model on a fresh runtime builds only the programs its step uses, each through the cache:
 * compiled and written into an empty cache, loaded from it by the next runtime. */
START_TEST(test_lazy_model)
{
    char dir[1024];
    make_tmpdir(dir, sizeof dir);
    setenv("CLAE_CACHE_DIR", dir, 1);
    unsetenv("CLAE_CACHE");
    unsetenv("CLAE_KERNEL_DIR");
    unsetenv("CLAE_BUILD_OPTIONS");
    clae_model_config c = small_dense_config();
    float x[4 * 16];
    test_fill_uniform(x, 4 * 16, 5, 0.0f, 1.0f);
    /* Not one program for the convolutional, variational, adversarial or regularized layers. */
    static const char *const unused[] = {"conv.cl", "vae.cl", "aae.cl", "mdl.cl", "concrete.cl",
                                         "rbm.cl",  "noise.cl", "select.cl", "penalty.cl"};
    unsigned used = 0;
    for (int round = 0; round < 2; round++) {
        clae_runtime *rt = NULL;
        open_ok("cpu", &rt);
        clae_model *m = NULL;
        ck_assert_msg(clae_model_create(rt, &c, &m) == CLAE_OK, "%s", clae_last_error());
        /* Cache misses on the way set the thread's error; a step that succeeds leaves it as it was. */
        clae_fail(CLAE_OK, "before the step");
        float loss = 0.0f;
        ck_assert_msg(clae_model_train_step(m, x, 4, &loss) == CLAE_OK, "%s", clae_last_error());
        ck_assert_str_eq(clae_last_error(), "before the step");
        ck_assert_str_eq(clae_runtime_error(rt), "");
        unsigned ready = programs_ready(rt);
        ck_assert_uint_gt(ready, 0);
        ck_assert_uint_lt(ready, count_programs());
        /* The tiled GEMM, on a CPU: its main program, its other tiles (a search, or the table's choice) or its NT
         * kernels (a batch of 4 rows). */
        ck_assert(rt->programs[program_index(rt, "gemm.cl")] || rt->programs[program_index(rt, "gemm_tiles.cl")] ||
                  rt->programs[program_index(rt, "gemm_nt.cl")]);
        ck_assert_ptr_nonnull(rt->programs[program_index(rt, "optim.cl")]);
        ck_assert_ptr_nonnull(rt->programs[program_index(rt, "loss.cl")]);
        for (size_t u = 0; u < sizeof unused / sizeof unused[0]; u++)
            ck_assert_msg(rt->programs[program_index(rt, unused[u])] == NULL, "%s was built", unused[u]);
        clae_runtime_stats st;
        ck_assert_int_eq(clae_runtime_stats_get(rt, &st), CLAE_OK);
        if (round == 0) {
            used = ready;
            ck_assert_uint_eq(st.programs_built, ready);
            ck_assert_uint_eq(st.cache_written, ready);
            /* One entry per program built, and the tiled engine's tile table (its searches of the step's shapes). */
            char names[64][128];
            ck_assert_uint_eq(cache_entries(dir, names, 64), ready + (rt->gemm == &clae_gemm_tiled));
        } else {
            /* The same programs or fewer: the tile table read back may spare the one the searches needed. */
            ck_assert_uint_le(ready, used);
            ck_assert_uint_eq(st.programs_from_cache, ready);
            ck_assert_uint_eq(st.programs_built + st.cache_written + st.cache_rejected, 0);
        }
        clae_model_destroy(m);
        clae_runtime_close(rt);
    }
    test_rm_rf(dir);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Cache primitives                                                          */
/* ------------------------------------------------------------------------ */

START_TEST(test_sha256)
{
    char hex[65];
    clae_sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    clae_sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(test_cache_primitives)
{
    char dir[1024], sub[1100], path[2048], other[2048];
    make_tmpdir(dir, sizeof dir);
    snprintf(sub, sizeof sub, "%s/a/b", dir); /* store creates missing parents */
    unsigned char payload[1000];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (unsigned char)(i * 7 + 3);
    unsigned char *got = NULL;
    size_t size = 0;

    ck_assert_int_eq(clae_cache_load(sub, "key one", &got, &size), CLAE_ERR_CACHE);
    ck_assert_ptr_null(got);
    ck_assert_int_eq(clae_cache_store(sub, "key one", payload, sizeof payload), CLAE_OK);
    clae_cache_entry_path(sub, "key one", path, sizeof path);
    ck_assert(file_exists(path));
    ck_assert_int_eq(clae_cache_load(sub, "key one", &got, &size), CLAE_OK);
    ck_assert_uint_eq(size, sizeof payload);
    ck_assert(memcmp(got, payload, size) == 0);
    free(got);
    got = NULL;

    /* Overwriting an entry replaces it whole; an empty payload round-trips. */
    ck_assert_int_eq(clae_cache_store(sub, "key one", payload, 0), CLAE_OK);
    ck_assert_int_eq(clae_cache_load(sub, "key one", &got, &size), CLAE_OK);
    ck_assert_uint_eq(size, 0);
    free(got);
    got = NULL;
    ck_assert_int_eq(clae_cache_store(sub, "key one", payload, sizeof payload), CLAE_OK);

    /* An entry found under another key's name (a hash collision, or a file
     * copied by hand) is rejected and deleted. */
    clae_cache_entry_path(sub, "key two", other, sizeof other);
    ck_assert_int_eq(rename(path, other), 0);
    ck_assert_int_eq(clae_cache_load(sub, "key two", &got, &size), CLAE_ERR_FORMAT);
    ck_assert_ptr_null(got);
    ck_assert(!file_exists(other));
    ck_assert_msg(strstr(clae_last_error(), other) != NULL, "%s", clae_last_error());

    /* Truncation, a flipped payload byte, a bad magic and trailing bytes are
     * each caught. */
    size_t full = 0;
    ck_assert_int_eq(clae_cache_store(sub, "key one", payload, sizeof payload), CLAE_OK);
    unsigned char *orig = slurp(path, &full);
    ck_assert_ptr_nonnull(orig);
    const size_t cuts[] = {0, 5, full / 2, full - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        write_file(path, orig, cuts[c]);
        ck_assert_int_eq(clae_cache_load(sub, "key one", &got, &size), CLAE_ERR_FORMAT);
        ck_assert(!file_exists(path));
    }
    unsigned char *bad = malloc(full + 1);
    ck_assert_ptr_nonnull(bad);
    for (int variant = 0; variant < 3; variant++) {
        memcpy(bad, orig, full);
        size_t len = full;
        if (variant == 0) bad[full - 10] ^= 0x40;
        if (variant == 1) bad[0] = 'X';
        if (variant == 2) bad[len++] = 0;
        write_file(path, bad, len);
        ck_assert_int_eq(clae_cache_load(sub, "key one", &got, &size), CLAE_ERR_FORMAT);
        ck_assert_ptr_null(got);
        ck_assert(!file_exists(path));
    }
    write_file(path, orig, full);
    ck_assert_int_eq(clae_cache_load(sub, "key one", &got, &size), CLAE_OK);
    ck_assert(size == sizeof payload && memcmp(got, payload, size) == 0);
    free(got);
    free(bad);
    free(orig);

    /* No temporary files are left behind. */
    char names[8][128];
    DIR *d = opendir(sub);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') {
            files++;
            ck_assert_msg(name_ends(e->d_name, ".bin"), "stray file %s", e->d_name);
        }
    closedir(d);
    ck_assert_int_eq(files, 1);
    ck_assert_uint_eq(cache_entries(sub, names, 8), 1);

    /* A path that cannot be a directory is an I/O error, not a crash. */
    char blocked[1100];
    snprintf(blocked, sizeof blocked, "%s/file", dir);
    write_file(blocked, "x", 1);
    snprintf(sub, sizeof sub, "%s/file/sub", dir);
    ck_assert_int_eq(clae_cache_store(sub, "k", payload, 4), CLAE_ERR_IO);
    test_rm_rf(dir);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The disk cache through clae_runtime_open                                  */
/* ------------------------------------------------------------------------ */

/* One kernel directory (real sources + test kernels) and one cache directory,
 * warmed by a single cold open, shared by the tests of the "cache" case so that
 * PoCL's cold compiles are paid once. */
static struct {
    int ready;
    char root[1024];
    char kernels[1100];
    char cache[1100];
    clae_runtime_stats cold;
    char cold_cache_dir[1100];
    char cold_options[2048];
} fx;

static void cache_fixture_cleanup(void)
{
    if (fx.ready) test_rm_rf(fx.root);
    memset(&fx, 0, sizeof fx);
}

static void use_fixture_env(void)
{
    setenv("CLAE_KERNEL_DIR", fx.kernels, 1);
    setenv("CLAE_CACHE_DIR", fx.cache, 1);
    setenv("CLAE_BUILD_OPTIONS", "-DCLAE_RT_TEST_EXTRA=1", 1);
    unsetenv("CLAE_CACHE");
}

static void cache_fixture(void)
{
    if (fx.ready) {
        use_fixture_env();
        return;
    }
    make_tmpdir(fx.root, sizeof fx.root);
    snprintf(fx.kernels, sizeof fx.kernels, "%s/kernels", fx.root);
    snprintf(fx.cache, sizeof fx.cache, "%s/cache", fx.root);
    ck_assert_int_eq(mkdir(fx.kernels, 0755), 0);
    write_sources(fx.kernels, NULL, test_kernels, NULL);
    fx.ready = 1;
    use_fixture_env();
    clae_runtime *rt = NULL;
    open_all("cpu", &rt);
    ck_assert_int_eq(clae_runtime_stats_get(rt, &fx.cold), CLAE_OK);
    snprintf(fx.cold_cache_dir, sizeof fx.cold_cache_dir, "%s", clae_runtime_cache_dir(rt));
    snprintf(fx.cold_options, sizeof fx.cold_options, "%s", clae_runtime_build_options(rt));
    clae_runtime_close(rt);
}

/* Runs the appended test kernels through both launch helpers, with buffer
 * offsets and ranges that are not multiples of the work-group size. */
static void check_test_kernels(clae_runtime *rt)
{
    enum { N = 1000, OFF = 37, ROWS = 13, COLS = 29 };
    clae_buf b;
    ck_assert_int_eq(clae_buf_alloc(rt, OFF + N + 11, &b), CLAE_OK);
    clae_buf v = clae_buf_view(b, OFF, N);
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);
    ck_assert(x && y);
    for (int i = 0; i < N; i++) x[i] = (float)i * 0.25f;
    ck_assert_int_eq(clae_buf_zero(rt, b), CLAE_OK);
    ck_assert_int_eq(clae_buf_write(rt, v, 0, x, N), CLAE_OK);

    cl_kernel k = clae_rt_kernel(rt, "clae_rt_test_axpb");
    ck_assert_msg(k != NULL, "%s", clae_runtime_error(rt));
    cl_ulong off = v.off, n = N;
    float a = 2.0f, c = 1.0f;
    ck_assert_int_eq(clSetKernelArg(k, 0, sizeof v.mem, &v.mem), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 1, sizeof off, &off), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 2, sizeof n, &n), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 3, sizeof a, &a), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 4, sizeof c, &c), CL_SUCCESS);
    ck_assert_int_eq(clae_rt_enqueue_1d(rt, k, "clae_rt_test_axpb", N, 64), CLAE_OK);
    ck_assert_int_eq(clae_rt_enqueue_1d(rt, k, "clae_rt_test_axpb", N, 0), CLAE_OK);
    ck_assert_int_eq(clae_rt_enqueue_1d(rt, k, "clae_rt_test_axpb", 0, 64), CLAE_OK);
    ck_assert_int_eq(clae_buf_read(rt, v, 0, y, N), CLAE_OK);
    for (int i = 0; i < N; i++) ck_assert_float_eq(y[i], 2.0f * (2.0f * x[i] + 1.0f) + 1.0f);
    float edge[2];
    ck_assert_int_eq(clae_buf_read(rt, b, OFF - 1, edge, 1), CLAE_OK);
    ck_assert_int_eq(clae_buf_read(rt, b, OFF + N, edge + 1, 1), CLAE_OK);
    ck_assert_float_eq(edge[0], 0.0f);
    ck_assert_float_eq(edge[1], 0.0f);

    /* A local size the device cannot take is reported with the kernel's name. */
    ck_assert_int_eq(clae_rt_enqueue_1d(rt, k, "clae_rt_test_axpb", N, rt->info.max_work_group_size + 1),
                     CLAE_ERR_OPENCL);
    ck_assert_msg(strstr(clae_runtime_error(rt), "clae_rt_test_axpb") != NULL &&
                      strstr(clae_runtime_error(rt), "CL_INVALID_") != NULL,
                  "%s", clae_runtime_error(rt));

    cl_kernel k2 = clae_rt_kernel(rt, "clae_rt_test_fill2d");
    ck_assert_msg(k2 != NULL, "%s", clae_runtime_error(rt));
    cl_ulong rows = ROWS, cols = COLS;
    ck_assert_int_eq(clSetKernelArg(k2, 0, sizeof v.mem, &v.mem), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k2, 1, sizeof off, &off), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k2, 2, sizeof rows, &rows), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k2, 3, sizeof cols, &cols), CL_SUCCESS);
    ck_assert_int_eq(clae_rt_enqueue_2d(rt, k2, "clae_rt_test_fill2d", COLS, ROWS, 8, 4), CLAE_OK);
    ck_assert_int_eq(clae_rt_finish(rt), CLAE_OK);
    ck_assert_int_eq(clae_buf_read(rt, v, 0, y, N), CLAE_OK);
    for (int r = 0; r < ROWS; r++)
        for (int col = 0; col < COLS; col++) ck_assert_float_eq(y[r * COLS + col], (float)(r * 1000 + col));
    ck_assert_float_eq(y[ROWS * COLS], 2.0f * (2.0f * x[ROWS * COLS] + 1.0f) + 1.0f);
    ck_assert_int_eq(clae_rt_enqueue_2d(rt, k2, "clae_rt_test_fill2d", COLS, ROWS, 0, 0), CLAE_OK);
    ck_assert_int_eq(clae_rt_finish(rt), CLAE_OK);
    free(x);
    free(y);
    clae_buf_free(&b);
}

START_TEST(test_cache_cold_then_warm)
{
    cache_fixture();
    unsigned np = count_programs();
    ck_assert_uint_eq(fx.cold.programs_built, np);
    ck_assert_uint_eq(fx.cold.programs_from_cache, 0);
    ck_assert_uint_eq(fx.cold.cache_written, np);
    ck_assert_uint_eq(fx.cold.cache_rejected, 0);
    ck_assert(fx.cold.build_seconds > 0.0);
    ck_assert_str_eq(fx.cold_cache_dir, fx.cache);
    ck_assert_msg(strstr(fx.cold_options, "-DCLAE_RT_TEST_EXTRA=1") != NULL, "options: %s", fx.cold_options);
    char names[64][128];
    ck_assert_uint_eq(cache_entries(fx.cache, names, 64), np);

    /* The warm open loads nothing until asked; then every program comes from the cache, and the
     * binaries run. */
    char dump[1200];
    snprintf(dump, sizeof dump, "%s/dump", fx.root);
    setenv("CLAE_DUMP_SOURCE", dump, 1);
    clae_runtime *rt = NULL;
    open_ok("cpu", &rt);
    clae_runtime_stats st;
    ck_assert_int_eq(clae_runtime_stats_get(rt, &st), CLAE_OK);
    ck_assert_uint_eq(st.programs_from_cache + st.programs_built, 0);
    ck_assert_int_eq(clae_rt_build_all_programs(rt), CLAE_OK);
    ck_assert_int_eq(clae_runtime_stats_get(rt, &st), CLAE_OK);
    ck_assert_uint_eq(st.programs_from_cache, np);
    ck_assert_uint_eq(st.programs_built, 0);
    ck_assert_uint_eq(st.cache_written, 0);
    ck_assert_uint_eq(st.cache_rejected, 0);
    ck_assert_str_eq(clae_runtime_error(rt), "");
    check_test_kernels(rt);
    clae_runtime_close(rt);

    /* Each dumped program is the headers followed by its own file. */
    for (size_t i = 0; i < clae_kernel_source_count; i++) {
        const clae_kernel_source *ks = &clae_kernel_sources[i];
        if (!name_ends(ks->name, ".cl")) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dump, ks->name);
        size_t size = 0;
        unsigned char *src = slurp(path, &size);
        ck_assert_msg(src != NULL, "no dumped source %s", path);
        src[size] = '\0';
        ck_assert_msg(strstr((char *)src, "clae_rt_test_axpb") != NULL || strcmp(ks->name, last_program()) != 0,
                      "%s lacks the test kernels", path);
        for (size_t h = 0; h < clae_kernel_source_count; h++) {
            const clae_kernel_source *hs = &clae_kernel_sources[h];
            if (!name_ends(hs->name, ".h") || hs->size == 0) continue;
            ck_assert_msg(contains_bytes(src, size, hs->data, hs->size), "%s lacks header %s", path, hs->name);
        }
        free(src);
    }
}
END_TEST

/* Damages the first cache entry with `damage`, opens, and checks the entry was
 * rejected, rebuilt, rewritten and that the runtime works. */
static void reopen_after_damage(void (*damage)(const char *path))
{
    cache_fixture();
    unsigned np = count_programs();
    char names[64][128];
    ck_assert_uint_eq(cache_entries(fx.cache, names, 64), np);
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", fx.cache, names[0]);
    damage(path);
    size_t damaged_size = 0;
    unsigned char *damaged = slurp(path, &damaged_size);

    clae_runtime *rt = NULL;
    open_all("cpu", &rt);
    clae_runtime_stats st;
    ck_assert_int_eq(clae_runtime_stats_get(rt, &st), CLAE_OK);
    ck_assert_uint_ge(st.cache_rejected, 1);
    ck_assert_uint_eq(st.programs_built, 1);
    ck_assert_uint_eq(st.programs_from_cache, np - 1);
    ck_assert_uint_eq(st.cache_written, 1);
    ck_assert_str_eq(clae_runtime_error(rt), "");
    check_test_kernels(rt);
    clae_runtime_close(rt);

    size_t size = 0;
    unsigned char *now = slurp(path, &size);
    ck_assert_msg(now != NULL, "entry %s was not rewritten", path);
    ck_assert(damaged == NULL || size != damaged_size || memcmp(now, damaged, size) != 0);
    free(now);
    free(damaged);
    ck_assert_uint_eq(cache_entries(fx.cache, names, 64), np);
}

static void truncate_entry(const char *path)
{
    size_t size = 0;
    unsigned char *p = slurp(path, &size);
    ck_assert_ptr_nonnull(p);
    write_file(path, p, size / 2);
    free(p);
}

static void scribble_entry(const char *path)
{
    size_t size = 0;
    unsigned char *p = slurp(path, &size);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_gt(size, 64);
    for (size_t i = size / 2; i < size / 2 + 16; i++) p[i] = (unsigned char)~p[i];
    write_file(path, p, size);
    free(p);
}

/* A well-formed entry whose payload is not a program binary: the cache format
 * accepts it, so it is the driver that must reject it. */
static void replace_binary(const char *path)
{
    size_t size = 0;
    unsigned char *p = slurp(path, &size);
    ck_assert_ptr_nonnull(p);
    const size_t magic = strlen("CLAECACHE1\n");
    ck_assert_uint_gt(size, magic + 8);
    uint64_t keylen = 0;
    for (int i = 7; i >= 0; i--) keylen = (keylen << 8) | p[magic + (size_t)i];
    ck_assert_uint_le(keylen, size - magic - 8);
    char *key = malloc((size_t)keylen + 1);
    ck_assert_ptr_nonnull(key);
    memcpy(key, p + magic + 8, (size_t)keylen);
    key[keylen] = '\0';
    ck_assert_msg(strncmp(key, "clae-cache-v1\n", 14) == 0, "key: %s", key);
    char check[2048];
    clae_cache_entry_path(fx.cache, key, check, sizeof check);
    ck_assert_str_eq(check, path);
    static const unsigned char junk[] = "this is not a program binary";
    ck_assert_int_eq(clae_cache_store(fx.cache, key, junk, sizeof junk), CLAE_OK);
    free(key);
    free(p);
}

START_TEST(test_cache_truncated)
{
    reopen_after_damage(truncate_entry);
    /* The rewritten entry is valid: the next open takes everything from the cache. */
    clae_runtime *rt = NULL;
    open_all("cpu", &rt);
    clae_runtime_stats st;
    ck_assert_int_eq(clae_runtime_stats_get(rt, &st), CLAE_OK);
    ck_assert_uint_eq(st.programs_from_cache, count_programs());
    ck_assert_uint_eq(st.cache_rejected, 0);
    clae_runtime_close(rt);
}
END_TEST

START_TEST(test_cache_scribbled) { reopen_after_damage(scribble_entry); }
END_TEST

START_TEST(test_cache_bad_binary) { reopen_after_damage(replace_binary); }
END_TEST

START_TEST(test_cache_off)
{
    cache_fixture();
    setenv("CLAE_CACHE", "off", 1);
    clae_runtime *rt = NULL;
    open_all("cpu", &rt);
    clae_runtime_stats st;
    ck_assert_int_eq(clae_runtime_stats_get(rt, &st), CLAE_OK);
    ck_assert_str_eq(clae_runtime_cache_dir(rt), "");
    ck_assert_uint_eq(st.programs_built, count_programs());
    ck_assert_uint_eq(st.programs_from_cache + st.cache_written + st.cache_rejected, 0);
    clae_runtime_close(rt);
}
END_TEST

/* Mutes stderr (returns what unmute_stderr restores): PoCL's compiler prints its own "1 error
 * generated." there besides the build log the library returns, and the failure is intended. */
static int mute_stderr(void)
{
    fflush(stderr);
    int saved = dup(STDERR_FILENO), devnull = open("/dev/null", O_WRONLY);
    if (saved >= 0 && devnull >= 0) dup2(devnull, STDERR_FILENO);
    if (devnull >= 0) close(devnull);
    return saved;
}

static void unmute_stderr(int saved)
{
    fflush(stderr);
    if (saved >= 0) {
        dup2(saved, STDERR_FILENO);
        close(saved);
    }
}

static void assert_build_message(const char *msg, const char *file)
{
    ck_assert_msg(strstr(msg, file) != NULL, "message lacks the file %s: %s", file, msg);
    ck_assert_msg(strstr(msg, "-cl-std=") != NULL && strstr(msg, "-DCLAE_RT_TEST_EXTRA=1") != NULL,
                  "message lacks the options: %s", msg);
    ck_assert_msg(strstr(msg, "build log") != NULL && strstr(msg, "error") != NULL, "message lacks the build log: %s",
                  msg);
}

/* A program that does not compile fails the first call that needs one of its kernels, whichever
 * layer makes it (the kernel lookup, an op, a public model call), with CLAE_ERR_BUILD carrying the
 * file, the options and the log; the other programs are not held back by it. */
START_TEST(test_build_error)
{
    cache_fixture();
    static const char broken_file[] = "reduce.cl"; /* the bias gradients of every dense step */
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/broken", fx.root);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    write_sources(dir, broken_file, "\n__kernel void clae_rt_broken(__global float *x) { x[0] = ; }\n", NULL);
    setenv("CLAE_KERNEL_DIR", dir, 1);

    /* Opening compiles nothing, so it succeeds. */
    clae_runtime *rt = NULL;
    open_ok("cpu", &rt);
    int broken = program_index(rt, broken_file);

    int muted = mute_stderr();
    cl_kernel k = (cl_kernel)&k;
    clae_status got_kernel = clae_rt_kernel_get(rt, "act_backward_colsum", &k, NULL);
    char kernel_msg[CLAE_ERROR_MAX];
    snprintf(kernel_msg, sizeof kernel_msg, "%s", clae_runtime_error(rt));
    /* Through the op table, as the layers call it. */
    clae_buf Z, b;
    ck_assert_int_eq(clae_buf_alloc(rt, 12, &Z), CLAE_OK);
    ck_assert_int_eq(clae_buf_alloc(rt, 4, &b), CLAE_OK);
    clae_status got_op = rt->ops->colsum(rt, Z, 3, 4, b);
    char op_msg[CLAE_ERROR_MAX];
    snprintf(op_msg, sizeof op_msg, "%s", clae_last_error());
    clae_buf_free(&Z);
    clae_buf_free(&b);
    /* Through the public API: a model's first step is where its dense layers first sum a bias gradient. */
    clae_model_config c = small_dense_config();
    float x[4 * 16], loss = 0.0f;
    test_fill_uniform(x, 4 * 16, 9, 0.0f, 1.0f);
    clae_model *m = NULL;
    clae_status got_create = clae_model_create(rt, &c, &m);
    clae_status got_model = got_create == CLAE_OK ? clae_model_train_step(m, x, 4, &loss) : got_create;
    char model_msg[CLAE_ERROR_MAX];
    snprintf(model_msg, sizeof model_msg, "%s", clae_runtime_error(rt));
    clae_model_destroy(m);
    unmute_stderr(muted);

    ck_assert_int_eq(got_kernel, CLAE_ERR_BUILD);
    ck_assert_ptr_null(k);
    assert_build_message(kernel_msg, broken_file);
    ck_assert_int_eq(got_op, CLAE_ERR_BUILD);
    assert_build_message(op_msg, broken_file);
    ck_assert_int_eq(got_create, CLAE_OK); /* initialising the weights needs rng.cl alone */
    ck_assert_int_eq(got_model, CLAE_ERR_BUILD);
    assert_build_message(model_msg, broken_file);
    ck_assert_ptr_null(rt->programs[broken]);

    /* The broken program held nothing else back: the rest built and run. */
    ck_assert_ptr_nonnull(rt->programs[program_index(rt, "rng.cl")]);
    ck_assert_msg(clae_rt_kernel(rt, "axpy") != NULL, "%s", clae_runtime_error(rt));
    clae_runtime_close(rt);
    test_rm_rf(dir);
}
END_TEST

/* Declarations the scan must skip (comments, a string) or see through (attributes on both sides
 * of the return type), and one it cannot see (a macro writes it), found by the fallback. */
static const char tricky_kernels[] =
    "\n/* __kernel void clae_rt_in_comment(__global float *x) { x[0] = 0.0f; } */\n"
    "// kernel void clae_rt_in_line_comment(__global float *x) { x[0] = 0.0f; }\n"
    "constant char clae_rt_text[] = \"__kernel void clae_rt_in_string(\";\n"
    "__attribute__((reqd_work_group_size(1, 1, 1))) kernel void __attribute__((vec_type_hint(float)))\n"
    "clae_rt_attr(__global float *x) { x[0] = (float)clae_rt_text[0]; }\n"
    "#define CLAE_RT_MACRO_KERNEL(n) __kernel void n(__global float *x) { x[0] = 2.0f; }\n"
    "CLAE_RT_MACRO_KERNEL(clae_rt_by_macro)\n";

START_TEST(test_scan_declarations)
{
    cache_fixture();
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/tricky", fx.root);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    write_sources(dir, NULL, tricky_kernels, NULL);
    setenv("CLAE_KERNEL_DIR", dir, 1);
    clae_runtime *rt = NULL;
    open_ok("cpu", &rt);
    int last = program_index(rt, last_program());
    int attr = 0;
    for (size_t d = 0; d < rt->n_decls; d++) {
        const char *n = rt->decls[d].name;
        ck_assert_msg(strcmp(n, "clae_rt_in_comment") && strcmp(n, "clae_rt_in_line_comment") &&
                          strcmp(n, "clae_rt_in_string") && strcmp(n, "clae_rt_by_macro"),
                      "%s taken for a declaration", n);
        if (!strcmp(n, "clae_rt_attr")) attr = rt->decls[d].program == last;
    }
    ck_assert_msg(attr, "clae_rt_attr was not placed in %s", last_program());

    ck_assert_msg(clae_rt_kernel(rt, "clae_rt_attr") != NULL, "%s", clae_runtime_error(rt));
    ck_assert_uint_eq(programs_ready(rt), 1);
    ck_assert_ptr_nonnull(rt->programs[last]);
    /* The macro's kernel is in no entry: every program is asked, and the last one makes it. */
    ck_assert_msg(clae_rt_kernel(rt, "clae_rt_by_macro") != NULL, "%s", clae_runtime_error(rt));
    ck_assert_uint_eq(programs_ready(rt), count_programs());
    /* A commented-out kernel exists nowhere. */
    cl_kernel none = NULL;
    ck_assert_int_eq(clae_rt_kernel_get(rt, "clae_rt_in_comment", &none, NULL), CLAE_ERR_OPENCL);
    ck_assert_msg(strstr(clae_runtime_error(rt), "clae_rt_in_comment") != NULL &&
                      strstr(clae_runtime_error(rt), "not found") != NULL,
                  "%s", clae_runtime_error(rt));
    clae_runtime_close(rt);
    test_rm_rf(dir);
}
END_TEST

START_TEST(test_missing_source)
{
    cache_fixture();
    char dir[1200], want[1400];
    snprintf(dir, sizeof dir, "%s/partial", fx.root);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    write_sources(dir, NULL, test_kernels, last_program());
    setenv("CLAE_KERNEL_DIR", dir, 1);
    clae_runtime *rt = (clae_runtime *)&rt;
    ck_assert_int_eq(clae_runtime_open("cpu", &rt), CLAE_ERR_IO);
    ck_assert_ptr_null(rt);
    snprintf(want, sizeof want, "%s/%s", dir, last_program());
    ck_assert_msg(strstr(clae_last_error(), want) != NULL, "message lacks %s: %s", want, clae_last_error());
    test_rm_rf(dir);
}
END_TEST

Suite *suite_runtime(void)
{
    Suite *s = suite_create("runtime");

    TCase *basic = tcase_create("basic");
    tcase_set_timeout(basic, 600); /* the first OpenCL open may compile cold */
    tcase_add_checked_fixture(basic, env_save, env_restore);
    tcase_add_test(basic, test_status_strings);
    tcase_add_test(basic, test_devices_list);
    tcase_add_test(basic, test_open_ref);
    tcase_add_test(basic, test_open_unknown);
    tcase_add_test(basic, test_open_specs);
    tcase_add_test(basic, test_build_options);
    tcase_add_test(basic, test_buffers);
    tcase_add_test(basic, test_buffers_staged);
    tcase_add_test(basic, test_kernel_lookup);
    tcase_add_test(basic, test_lazy_open);
    tcase_add_test(basic, test_lazy_model);
    tcase_add_test(basic, test_sha256);
    tcase_add_test(basic, test_cache_primitives);
    suite_add_tcase(s, basic);

    TCase *cache = tcase_create("cache");
    /* Cold PoCL compiles take seconds per program. */
    tcase_set_timeout(cache, 600);
    tcase_add_checked_fixture(cache, env_save, env_restore);
    tcase_add_unchecked_fixture(cache, NULL, cache_fixture_cleanup);
    tcase_add_test(cache, test_cache_cold_then_warm);
    tcase_add_test(cache, test_cache_truncated);
    tcase_add_test(cache, test_cache_scribbled);
    tcase_add_test(cache, test_cache_bad_binary);
    tcase_add_test(cache, test_build_error);
    tcase_add_test(cache, test_scan_declarations);
    tcase_add_test(cache, test_missing_source);
    tcase_add_test(cache, test_cache_off);
    suite_add_tcase(s, cache);
    return s;
}
