/* program.c — what the kernels are built for (device probe, build options), their sources (embedded or
 * CLAE_KERNEL_DIR), the scan that places each kernel, and each program's build on first use, cache first. */
#include "runtime/runtime_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* Build options                                                             */
/* ------------------------------------------------------------------------ */

/* Tuned values per device family, first match wins, in the spirit of CLBlast's
 * database: NULL/-1 fields match anything. Unlisted devices get the defaults. */
typedef struct tune_entry {
    const char *vendor;  /* substring of CL_DEVICE_VENDOR */
    const char *name;    /* substring of CL_DEVICE_NAME */
    int type;            /* clae_device_type or -1 */
    unsigned wg;         /* CLAE_WG: work-group size of the 1-D kernels */
} tune_entry;

static const tune_entry tune_table[] = {
    {"NVIDIA", NULL, CLAE_DEVICE_GPU, 256},
    {"Advanced Micro Devices", NULL, CLAE_DEVICE_GPU, 256},
    {"AMD", NULL, CLAE_DEVICE_GPU, 256},
    {"Intel", NULL, CLAE_DEVICE_GPU, 128},
    {"ARM", "Mali", CLAE_DEVICE_GPU, 64},
    {"Qualcomm", NULL, CLAE_DEVICE_GPU, 128},
    {NULL, NULL, CLAE_DEVICE_CPU, 64},
};

unsigned clae_rt_tuned_wg(const clae_device_info *d)
{
    unsigned wg = 256;
    for (size_t i = 0; i < sizeof tune_table / sizeof tune_table[0]; i++) {
        const tune_entry *e = &tune_table[i];
        if (e->vendor && !clae_rt_str_icontains(d->vendor, e->vendor)) continue;
        if (e->name && !clae_rt_str_icontains(d->name, e->name)) continue;
        if (e->type >= 0 && (int)d->type != e->type) continue;
        wg = e->wg;
        break;
    }
    if (d->max_work_group_size > 0 && wg > d->max_work_group_size) wg = (unsigned)d->max_work_group_size;
    return wg ? wg : 1;
}

/* "OpenCL C 1.2 pocl" → major 1, minor 2; 0 if the string has no version. */
static int parse_c_version(const char *s, int *major, int *minor)
{
    const char *p = strstr(s, "OpenCL C ");
    if (!p) return 0;
    p += strlen("OpenCL C ");
    if (sscanf(p, "%d.%d", major, minor) != 2) return 0;
    return 1;
}

static void make_options(clae_runtime *rt)
{
    const clae_device_info *d = &rt->info;
    char *o = rt->options;
    size_t cap = sizeof rt->options, len = 0;
    int major = 0, minor = 0;
    o[0] = '\0';
    /* The device's OpenCL C version, not the platform's: PoCL rejects a
     * -cl-std above what its compiler supports. */
    if (parse_c_version(d->opencl_c_version, &major, &minor) && (major > 1 || (major == 1 && minor >= 2)))
        len += (size_t)snprintf(o + len, cap - len, "-cl-std=CL%d.%d ", major, minor);
    if (len < cap)
        len += (size_t)snprintf(o + len, cap - len,
                                "-DCLAE_HAS_FP64=%d -DCLAE_VEC_FLOAT=%u -DCLAE_MAX_WG=%zu -DCLAE_DEVICE_IS_CPU=%d "
                                "-DCLAE_WG=%u",
                                rt->has_fp64, rt->vector_width_float, d->max_work_group_size,
                                d->type == CLAE_DEVICE_CPU, clae_rt_tuned_wg(d));
    /* OpenCL lets float division and sqrt be off by ulps; ask for IEEE rounding
     * where the device offers it, so results match the C reference bit for bit. */
    cl_device_fp_config fp = 0;
    if (!rt->is_ref && clGetDeviceInfo(rt->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL) == CL_SUCCESS &&
        (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) && len < cap)
        len += (size_t)snprintf(o + len, cap - len, " -cl-fp32-correctly-rounded-divide-sqrt");
    const char *extra = getenv("CLAE_BUILD_OPTIONS");
    if (extra && *extra && len < cap) snprintf(o + len, cap - len, " %s", extra);
}

/* What the kernels are built for, read from rt->device (no context needed):
 * alignment, fp64, vector width, and from them the build options. */
void clae_rt_probe_device(clae_runtime *rt)
{
    cl_device_id device = rt->device;
    cl_uint align_bits = 0;
    clGetDeviceInfo(device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, NULL);
    rt->mem_align_bytes = align_bits >= 8 ? align_bits / 8 : 4;

    cl_device_fp_config fp64 = 0;
    if (clGetDeviceInfo(device, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp64, &fp64, NULL) != CL_SUCCESS) fp64 = 0;
    char *ext = clae_rt_device_string_alloc(device, CL_DEVICE_EXTENSIONS);
    rt->has_fp64 = fp64 != 0 || (ext && strstr(ext, "cl_khr_fp64") != NULL);
    free(ext);

    cl_uint vw = 0;
    clGetDeviceInfo(device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof vw, &vw, NULL);
    rt->vector_width_float = vw ? vw : 1;

    make_options(rt);
}

/* ------------------------------------------------------------------------ */
/* Program sources                                                           */
/* ------------------------------------------------------------------------ */

static int name_has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcmp(name + n - s, suffix) == 0;
}

static int cmp_source_index(const void *a, const void *b)
{
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    return strcmp(clae_kernel_sources[ia].name, clae_kernel_sources[ib].name);
}

typedef struct text {
    char *p;
    size_t len, cap;
} text;

static int text_append(text *t, const void *data, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1) cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) return -1;
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, data, n);
    t->len += n;
    t->p[t->len] = '\0';
    return 0;
}

static clae_status read_file(const char *path, char **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return clae_fail(CLAE_ERR_IO, "%s: cannot open kernel source (%s)", path, strerror(errno));
    text t = {0};
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (text_append(&t, buf, n) != 0) {
            fclose(f);
            free(t.p);
            return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory reading kernel source", path);
        }
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(t.p);
        return clae_fail(CLAE_ERR_IO, "%s: cannot read kernel source", path);
    }
    if (!t.p && text_append(&t, "", 0) != 0) return clae_fail(CLAE_ERR_NOMEM, "out of memory");
    *data = t.p;
    *size = t.len;
    return CLAE_OK;
}

/* Appends one source file (embedded, or from CLAE_KERNEL_DIR), preceded by a
 * #line so compiler logs point at the right file and line. */
static clae_status append_source(text *t, size_t idx, const char *kernel_dir)
{
    const clae_kernel_source *ks = &clae_kernel_sources[idx];
    char line[300];
    snprintf(line, sizeof line, "#line 1 \"%s\"\n", ks->name);
    if (text_append(t, line, strlen(line)) != 0) return clae_fail(CLAE_ERR_NOMEM, "out of memory");
    if (kernel_dir && *kernel_dir) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", kernel_dir, ks->name);
        char *data = NULL;
        size_t size = 0;
        clae_status s = read_file(path, &data, &size);
        if (s != CLAE_OK) return s;
        int r = text_append(t, data, size);
        free(data);
        if (r != 0) return clae_fail(CLAE_ERR_NOMEM, "out of memory");
    } else if (ks->size > 0 && text_append(t, ks->data, ks->size) != 0) {
        return clae_fail(CLAE_ERR_NOMEM, "out of memory");
    }
    if (text_append(t, "\n", 1) != 0) return clae_fail(CLAE_ERR_NOMEM, "out of memory");
    return CLAE_OK;
}

/* Every header (sorted by name) followed by the .cl file itself. */
static clae_status program_source(const size_t *order, size_t n, size_t cl_idx, char **out, size_t *out_len)
{
    const char *kernel_dir = getenv("CLAE_KERNEL_DIR");
    text t = {0};
    clae_status s = CLAE_OK;
    for (size_t i = 0; i < n && s == CLAE_OK; i++)
        if (name_has_suffix(clae_kernel_sources[order[i]].name, ".h")) s = append_source(&t, order[i], kernel_dir);
    if (s == CLAE_OK) s = append_source(&t, cl_idx, kernel_dir);
    if (s != CLAE_OK) {
        free(t.p);
        return s;
    }
    *out = t.p;
    *out_len = t.len;
    return CLAE_OK;
}

static void dump_source(const char *name, const char *src, size_t len)
{
    const char *dir = getenv("CLAE_DUMP_SOURCE");
    if (!dir || !*dir) return;
    /* A debugging aid only: failures to write are ignored rather than turned
     * into an open failure. */
    mkdir(dir, 0755);
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(src, 1, len, f);
    fclose(f);
}

/* ------------------------------------------------------------------------ */
/* Program build and cache                                                   */
/* ------------------------------------------------------------------------ */

void clae_rt_cache_dir_from_env(char *dir, size_t cap)
{
    dir[0] = '\0';
    const char *onoff = getenv("CLAE_CACHE");
    if (onoff && (clae_rt_str_ieq(onoff, "off") || clae_rt_str_ieq(onoff, "0") || clae_rt_str_ieq(onoff, "no"))) return;
    const char *d = getenv("CLAE_CACHE_DIR");
    if (d && *d) {
        clae_rt_copy_str(dir, cap, d);
        return;
    }
    d = getenv("XDG_CACHE_HOME");
    if (d && *d) {
        snprintf(dir, cap, "%s/clae", d);
        return;
    }
    d = getenv("HOME");
    if (d && *d) snprintf(dir, cap, "%s/.cache/clae", d);
}

static char *cache_key(const clae_runtime *rt, const char *name, const char *src, size_t len)
{
    char hex[65];
    clae_sha256_hex(src, len, hex);
    const clae_device_info *d = &rt->info;
    const char *fmt = "clae-cache-v1\n%s\n%s\n%s\n%s\n%s\n%s\n%s";
    int n = snprintf(NULL, 0, fmt, hex, rt->options, d->platform_version, d->name, d->vendor,
                     d->driver_version, name);
    if (n < 0) return NULL;
    char *key = malloc((size_t)n + 1);
    if (key)
        snprintf(key, (size_t)n + 1, fmt, hex, rt->options, d->platform_version, d->name, d->vendor,
                 d->driver_version, name);
    return key;
}

static cl_program try_cached(clae_runtime *rt, const char *key)
{
    if (!rt->cache_dir[0]) return NULL;
    unsigned char *bin = NULL;
    size_t size = 0;
    clae_status s = clae_cache_load(rt->cache_dir, key, &bin, &size);
    if (s == CLAE_ERR_FORMAT) rt->stats.cache_rejected++;
    if (s != CLAE_OK) return NULL;
    cl_int err, bin_status = CL_SUCCESS;
    const unsigned char *ptr = bin;
    cl_program prog = clCreateProgramWithBinary(rt->ctx, 1, &rt->device, &size, &ptr, &bin_status, &err);
    if (err == CL_SUCCESS && bin_status == CL_SUCCESS) {
        err = clBuildProgram(prog, 1, &rt->device, rt->options, NULL, NULL);
    } else if (err == CL_SUCCESS) {
        err = bin_status;
    }
    free(bin);
    if (err == CL_SUCCESS) return prog;
    /* The driver no longer accepts this binary (e.g. it was updated in place
     * without changing its version string): drop the entry and rebuild. */
    if (prog) clReleaseProgram(prog);
    char path[2048];
    clae_cache_entry_path(rt->cache_dir, key, path, sizeof path);
    remove(path);
    rt->stats.cache_rejected++;
    return NULL;
}

static void store_binary(clae_runtime *rt, cl_program prog, const char *key)
{
    if (!rt->cache_dir[0]) return;
    size_t size = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS || size == 0)
        return;
    unsigned char *bin = malloc(size);
    if (!bin) return;
    unsigned char *ptrs[1] = {bin};
    /* A cache that cannot be written (read-only, full, not a directory) only costs time on the next open:
     * the program is built, so training goes on, and clae_runtime_note says why the next start is slow. */
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof ptrs, ptrs, NULL) == CL_SUCCESS) {
        if (clae_cache_store(rt->cache_dir, key, bin, size) == CLAE_OK) {
            rt->stats.cache_written++;
        } else {
            rt->stats.cache_failed++;
            if (!rt->cache_note[0])
                snprintf(rt->cache_note, sizeof rt->cache_note,
                         "the program cache cannot be written (%.300s): programs are compiled again on every start; "
                         "set CLAE_CACHE_DIR to a writable directory", clae_last_error());
        }
    }
    free(bin);
}

static clae_status build_from_source(clae_runtime *rt, const char *name, const char *src, size_t len,
                                     cl_program *out)
{
    cl_int err;
    const char *srcs[1] = {src};
    cl_program prog = clCreateProgramWithSource(rt->ctx, 1, srcs, &len, &err);
    if (err != CL_SUCCESS)
        return clae_fail(CLAE_ERR_OPENCL, "%s: clCreateProgramWithSource failed: %s", name, clae_cl_error_name(err));
    err = clBuildProgram(prog, 1, &rt->device, rt->options, NULL, NULL);
    if (err != CL_SUCCESS) {
        char *log = NULL;
        size_t log_size = 0;
        if (clGetProgramBuildInfo(prog, rt->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_size) == CL_SUCCESS &&
            log_size > 0 && (log = malloc(log_size + 1)) != NULL) {
            if (clGetProgramBuildInfo(prog, rt->device, CL_PROGRAM_BUILD_LOG, log_size, log, NULL) != CL_SUCCESS)
                log_size = 0;
            log[log_size] = '\0';
        }
        clReleaseProgram(prog);
        clae_fail(CLAE_ERR_BUILD, "%s: kernel program build failed (%s) on %s with options '%s'; build log:\n%s",
                  name, clae_cl_error_name(err), rt->info.name, rt->options, log ? log : "(no log)");
        free(log);
        return CLAE_ERR_BUILD;
    }
    *out = prog;
    return CLAE_OK;
}

/* The indices of clae_kernel_sources sorted by file name (malloc'd, caller frees): programs are
 * listed, and headers prepended, in this order whatever order the Makefile embedded them in. */
static size_t *sorted_sources(void)
{
    size_t n = clae_kernel_source_count;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order) return NULL;
    for (size_t i = 0; i < n; i++) order[i] = i;
    qsort(order, n, sizeof *order, cmp_source_index);
    return order;
}

/* ---- the kernel scan -------------------------------------------------------------------------- */

static int is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }

/* Past blanks, comments and line continuations: what the compiler skips between tokens. */
static const char *skip_blank(const char *p, const char *end)
{
    while (p < end) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v') {
            p++;
        } else if (*p == '\\' && p + 1 < end && (p[1] == '\n' || p[1] == '\r')) {
            p += 2;
        } else if (*p == '/' && p + 1 < end && p[1] == '/') {
            while (p < end && *p != '\n') p++;
        } else if (*p == '/' && p + 1 < end && p[1] == '*') {
            for (p += 2; p + 1 < end && !(p[0] == '*' && p[1] == '/'); p++) continue;
            p = p + 1 < end ? p + 2 : end;
        } else {
            break;
        }
    }
    return p;
}

/* The length of the identifier at p (0 if none starts there). */
static size_t ident_len(const char *p, const char *end)
{
    if (p >= end || !is_ident_start(*p)) return 0;
    const char *q = p;
    while (q < end && is_ident_char(*q)) q++;
    return (size_t)(q - p);
}

static int ident_is(const char *p, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(p, word, len) == 0;
}

/* Past any __attribute__((...)) at p (OpenCL allows them before and after the return type). */
static const char *skip_attributes(const char *p, const char *end)
{
    for (;;) {
        p = skip_blank(p, end);
        size_t len = ident_len(p, end);
        if (!ident_is(p, len, "__attribute__")) return p;
        p = skip_blank(p + len, end);
        if (p >= end || *p != '(') return p;
        int depth = 0;
        for (; p < end; p++) {
            if (*p == '(') depth++;
            else if (*p == ')' && --depth == 0) break;
        }
        if (p < end) p++;
    }
}

static clae_status add_decl(clae_runtime *rt, size_t *cap, const char *name, size_t len, int program)
{
    /* A name longer than a kernel entry holds could never be looked up (clae_rt_kernel_get
     * refuses it), so it needs no entry either. */
    if (len >= sizeof rt->decls[0].name) return CLAE_OK;
    for (size_t i = 0; i < rt->n_decls; i++)
        if (rt->decls[i].program == program && ident_is(name, len, rt->decls[i].name)) return CLAE_OK;
    if (rt->n_decls == *cap) {
        size_t grown = *cap ? 2 * *cap : 64;
        clae_kernel_decl *d = realloc(rt->decls, grown * sizeof *d);
        if (!d) return clae_fail(CLAE_ERR_NOMEM, "out of memory listing kernels");
        rt->decls = d;
        *cap = grown;
    }
    clae_kernel_decl *d = &rt->decls[rt->n_decls++];
    memcpy(d->name, name, len);
    d->name[len] = '\0';
    d->program = program;
    return CLAE_OK;
}

/* Records every `__kernel void NAME(` (or `kernel`, with attributes anywhere around the return
 * type) of one program's whole source, headers included. Comments and string literals are
 * skipped, so a kernel named in a comment is not taken for a declaration. A declaration the scan
 * cannot see (one a macro writes) is still found: clae_rt_kernel_get falls back to asking every
 * program. Preprocessor conditionals are not evaluated, so a name may be listed for a program
 * that does not make it in the end; the lookup then tries the next program that declares it. */
static clae_status scan_kernels(clae_runtime *rt, size_t *cap, const char *src, size_t len, int program)
{
    const char *p = src, *end = src + len;
    while (p < end) {
        const char *q = skip_blank(p, end);
        if (q != p) {
            p = q;
            continue;
        }
        if (*p == '"' || *p == '\'') {
            char quote = *p++;
            while (p < end && *p != quote && *p != '\n') p += (*p == '\\' && p + 1 < end) ? 2 : 1;
            if (p < end) p++;
            continue;
        }
        size_t n = ident_len(p, end);
        if (n == 0) {
            /* A number such as 1e5f or 0x1p-24f is one token: its letters start no identifier. */
            if (*p >= '0' && *p <= '9')
                while (p < end && (is_ident_char(*p) || *p == '.')) p++;
            else
                p++;
            continue;
        }
        const char *word = p;
        p += n;
        if (!ident_is(word, n, "__kernel") && !ident_is(word, n, "kernel")) continue;
        q = skip_attributes(p, end);
        size_t vn = ident_len(q, end);
        if (!ident_is(q, vn, "void")) continue;
        q = skip_attributes(q + vn, end);
        size_t kn = ident_len(q, end);
        if (kn == 0) continue;
        const char *after = skip_blank(q + kn, end);
        if (after >= end || *after != '(') continue;
        clae_status s = add_decl(rt, cap, q, kn, program);
        if (s != CLAE_OK) return s;
        p = after;
    }
    return CLAE_OK;
}

clae_status clae_rt_scan_programs(clae_runtime *rt)
{
    size_t *order = sorted_sources();
    if (!order) return clae_fail(CLAE_ERR_NOMEM, "out of memory");
    size_t n = clae_kernel_source_count, cap = 0;
    clae_status s = CLAE_OK;
    for (size_t i = 0; i < n && s == CLAE_OK; i++) {
        const char *name = clae_kernel_sources[order[i]].name;
        if (!name_has_suffix(name, ".cl")) continue;
        if (rt->n_programs >= CLAE_MAX_PROGRAMS) {
            s = clae_fail(CLAE_ERR_BUILD, "%s: more than %d kernel programs", name, CLAE_MAX_PROGRAMS);
            break;
        }
        /* The whole source the program would be built from, so the scan sees the headers and,
         * with CLAE_KERNEL_DIR, the files on disk (a missing one fails the open, as it did when
         * every program was built there). */
        char *src = NULL;
        size_t len = 0;
        s = program_source(order, n, order[i], &src, &len);
        if (s != CLAE_OK) break;
        dump_source(name, src, len);
        int p = rt->n_programs++;
        rt->programs[p] = NULL;
        rt->program_source[p] = order[i];
        clae_rt_copy_str(rt->program_names[p], sizeof rt->program_names[0], name);
        s = scan_kernels(rt, &cap, src, len, p);
        free(src);
    }
    free(order);
    return s;
}

clae_status clae_rt_build_program(clae_runtime *rt, int p)
{
    if (p < 0 || p >= rt->n_programs) return clae_fail(CLAE_ERR_ARG, "program %d of %d", p, rt->n_programs);
    if (rt->programs[p]) return CLAE_OK;
    /* Cache misses and unwritable cache entries set the thread's last error on the way; a
     * successful build must not leave those behind as if the call that needed it failed. */
    char saved_error[CLAE_ERROR_MAX];
    clae_rt_copy_str(saved_error, sizeof saved_error, clae_last_error());
    double t0 = now_seconds();
    const char *name = rt->program_names[p];
    size_t *order = sorted_sources();
    if (!order) return clae_fail(CLAE_ERR_NOMEM, "out of memory");
    char *src = NULL;
    size_t len = 0;
    clae_status s = program_source(order, clae_kernel_source_count, rt->program_source[p], &src, &len);
    free(order);
    if (s != CLAE_OK) return s;
    char *key = cache_key(rt, name, src, len);
    if (!key) {
        free(src);
        return clae_fail(CLAE_ERR_NOMEM, "out of memory");
    }
    cl_program prog = try_cached(rt, key);
    if (prog) {
        rt->stats.programs_from_cache++;
    } else {
        s = build_from_source(rt, name, src, len, &prog);
        if (s == CLAE_OK) {
            rt->stats.programs_built++;
            store_binary(rt, prog, key);
        }
    }
    free(key);
    free(src);
    /* Programs are built as models first use them, so the time adds up over the runtime's life. */
    rt->stats.build_seconds += now_seconds() - t0;
    if (s != CLAE_OK) return s;
    rt->programs[p] = prog;
    clae_fail(CLAE_OK, "%s", saved_error);
    return CLAE_OK;
}

clae_status clae_rt_build_all_programs(clae_runtime *rt)
{
    if (!rt) return clae_fail(CLAE_ERR_ARG, "clae_rt_build_all_programs: runtime must not be NULL");
    for (int p = 0; p < rt->n_programs; p++) {
        clae_status s = clae_rt_build_program(rt, p);
        if (s != CLAE_OK) return clae_rt_fail(rt, s);
    }
    return CLAE_OK;
}
