/* runtime.c — device discovery, runtime open/close, program build and cache, kernels and buffers.
 * Everything the ops need from OpenCL goes through here; cpu-ref runs the same API on host memory. */
#include "runtime/runtime.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include "ops/gemm/gemm.h"
#include "ops/ops.h"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

static void copy_str(char *dst, size_t cap, const char *src)
{
    if (cap == 0) return;
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int lower_char(int c) { return tolower((unsigned char)c); }

static int str_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (lower_char(*a) != lower_char(*b)) return 0;
    return *a == *b;
}

static int str_icontains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0) return 1;
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && lower_char(hay[i]) == lower_char(needle[i])) i++;
        if (i == n) return 1;
    }
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Device strings can be longer than our fixed fields; CL refuses a too-small
 * buffer outright, so ask for the size first and truncate ourselves. */
static char *device_string_alloc(cl_device_id dev, cl_device_info param)
{
    size_t size = 0;
    if (clGetDeviceInfo(dev, param, 0, NULL, &size) != CL_SUCCESS) size = 0;
    char *s = malloc(size + 1);
    if (!s) return NULL;
    if (size == 0 || clGetDeviceInfo(dev, param, size, s, NULL) != CL_SUCCESS) size = 0;
    s[size] = '\0';
    return s;
}

static void device_string(cl_device_id dev, cl_device_info param, char *dst, size_t cap)
{
    char *s = device_string_alloc(dev, param);
    copy_str(dst, cap, s ? s : "");
    free(s);
}

static void platform_string(cl_platform_id p, cl_platform_info param, char *dst, size_t cap)
{
    size_t size = 0;
    dst[0] = '\0';
    if (clGetPlatformInfo(p, param, 0, NULL, &size) != CL_SUCCESS || size == 0) return;
    char *s = malloc(size + 1);
    if (!s) return;
    if (clGetPlatformInfo(p, param, size, s, NULL) == CL_SUCCESS) {
        s[size] = '\0';
        copy_str(dst, cap, s);
    }
    free(s);
}

/* ------------------------------------------------------------------------ */
/* Device discovery                                                          */
/* ------------------------------------------------------------------------ */

typedef struct device_list {
    clae_device_info *info;
    cl_platform_id *platform; /* NULL for cpu-ref */
    cl_device_id *device;
    size_t count;
} device_list;

static void device_list_free(device_list *l)
{
    free(l->info);
    free(l->platform);
    free(l->device);
    memset(l, 0, sizeof *l);
}

static int device_list_grow(device_list *l, size_t cap)
{
    clae_device_info *info = realloc(l->info, cap * sizeof *info);
    if (!info) return -1;
    l->info = info;
    cl_platform_id *pl = realloc(l->platform, cap * sizeof *pl);
    if (!pl) return -1;
    l->platform = pl;
    cl_device_id *dv = realloc(l->device, cap * sizeof *dv);
    if (!dv) return -1;
    l->device = dv;
    return 0;
}

static clae_device_type map_type(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU) return CLAE_DEVICE_GPU;
    if (t & CL_DEVICE_TYPE_CPU) return CLAE_DEVICE_CPU;
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return CLAE_DEVICE_ACCELERATOR;
    return CLAE_DEVICE_OTHER;
}

static void fill_device_info(clae_device_info *d, cl_platform_id p, cl_device_id dev, unsigned pi, unsigned di)
{
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "%u:%u", pi, di);
    device_string(dev, CL_DEVICE_NAME, d->name, sizeof d->name);
    platform_string(p, CL_PLATFORM_NAME, d->platform, sizeof d->platform);
    platform_string(p, CL_PLATFORM_VERSION, d->platform_version, sizeof d->platform_version);
    device_string(dev, CL_DEVICE_VENDOR, d->vendor, sizeof d->vendor);
    device_string(dev, CL_DRIVER_VERSION, d->driver_version, sizeof d->driver_version);
    device_string(dev, CL_DEVICE_OPENCL_C_VERSION, d->opencl_c_version, sizeof d->opencl_c_version);
    cl_device_type t = 0;
    clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof t, &t, NULL);
    d->type = map_type(t);
    cl_uint cu = 0;
    clGetDeviceInfo(dev, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    d->compute_units = cu;
    cl_ulong v = 0;
    clGetDeviceInfo(dev, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof v, &v, NULL);
    d->global_mem_bytes = v;
    v = 0;
    clGetDeviceInfo(dev, CL_DEVICE_LOCAL_MEM_SIZE, sizeof v, &v, NULL);
    d->local_mem_bytes = v;
    v = 0;
    clGetDeviceInfo(dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof v, &v, NULL);
    d->max_alloc_bytes = v;
    size_t wg = 0;
    clGetDeviceInfo(dev, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    d->max_work_group_size = wg;
}

static void fill_ref_info(clae_device_info *d)
{
    memset(d, 0, sizeof *d);
    copy_str(d->id, sizeof d->id, "cpu-ref");
    copy_str(d->name, sizeof d->name, "cpu-ref (plain C reference)");
    copy_str(d->platform, sizeof d->platform, "clae");
    copy_str(d->platform_version, sizeof d->platform_version, "clae " CLAE_VERSION_STRING);
    copy_str(d->vendor, sizeof d->vendor, "clae");
    copy_str(d->driver_version, sizeof d->driver_version, CLAE_VERSION_STRING);
    d->type = CLAE_DEVICE_CPU_REF;
    d->compute_units = 1;
    d->max_work_group_size = 1;
    /* The host's physical memory is cpu-ref's "global memory", so a plan that
     * cannot fit fails at creation as it would on a device. */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) d->global_mem_bytes = d->max_alloc_bytes = (uint64_t)pages * (uint64_t)page;
}

/* First GPU, else first OpenCL CPU, else cpu-ref (always last). */
static size_t default_index(const device_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->info[i].type == CLAE_DEVICE_GPU) return i;
    for (size_t i = 0; i < l->count; i++)
        if (l->info[i].type == CLAE_DEVICE_CPU) return i;
    return l->count - 1;
}

static clae_status enumerate(device_list *l)
{
    memset(l, 0, sizeof *l);
    cl_uint np = 0;
    cl_platform_id *plats = NULL;
    /* Any failure of the ICD loader (no driver, CL_PLATFORM_NOT_FOUND_KHR, a
     * broken vendor file) means "no OpenCL": cpu-ref must stay usable. */
    if (clGetPlatformIDs(0, NULL, &np) != CL_SUCCESS) np = 0;
    if (np > 0) {
        plats = malloc(np * sizeof *plats);
        if (!plats) return clae_fail(CLAE_ERR_NOMEM, "out of memory listing OpenCL platforms");
        if (clGetPlatformIDs(np, plats, NULL) != CL_SUCCESS) np = 0;
    }
    for (cl_uint pi = 0; pi < np; pi++) {
        cl_uint nd = 0;
        /* A platform whose device query fails is skipped, not fatal, so one
         * broken driver does not hide the others. */
        if (clGetDeviceIDs(plats[pi], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0) continue;
        cl_device_id *devs = malloc(nd * sizeof *devs);
        if (!devs) {
            free(plats);
            device_list_free(l);
            return clae_fail(CLAE_ERR_NOMEM, "out of memory listing OpenCL devices");
        }
        if (clGetDeviceIDs(plats[pi], CL_DEVICE_TYPE_ALL, nd, devs, NULL) != CL_SUCCESS) nd = 0;
        if (device_list_grow(l, l->count + nd + 1) != 0) {
            free(devs);
            free(plats);
            device_list_free(l);
            return clae_fail(CLAE_ERR_NOMEM, "out of memory listing OpenCL devices");
        }
        for (cl_uint di = 0; di < nd; di++) {
            fill_device_info(&l->info[l->count], plats[pi], devs[di], pi, di);
            l->platform[l->count] = plats[pi];
            l->device[l->count] = devs[di];
            l->count++;
        }
        free(devs);
    }
    free(plats);
    if (device_list_grow(l, l->count + 1) != 0) {
        device_list_free(l);
        return clae_fail(CLAE_ERR_NOMEM, "out of memory listing devices");
    }
    fill_ref_info(&l->info[l->count]);
    l->platform[l->count] = NULL;
    l->device[l->count] = NULL;
    l->count++;
    l->info[default_index(l)].is_default = 1;
    return CLAE_OK;
}

clae_status clae_devices(clae_device_info **list, size_t *count)
{
    if (!list || !count) return clae_fail(CLAE_ERR_ARG, "clae_devices: list and count must not be NULL");
    *list = NULL;
    *count = 0;
    device_list l;
    clae_status s = enumerate(&l);
    if (s != CLAE_OK) return s;
    *list = l.info;
    *count = l.count;
    l.info = NULL;
    device_list_free(&l);
    return CLAE_OK;
}

static int is_index_spec(const char *s)
{
    const char *p = s;
    if (!isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
    if (*p++ != ':') return 0;
    if (!isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
    return *p == '\0';
}

/* Resolves a spec against the list; -1 if nothing matches. */
static long match_spec(const device_list *l, const char *spec)
{
    if (is_index_spec(spec)) {
        unsigned long pi = strtoul(spec, NULL, 10), di = strtoul(strchr(spec, ':') + 1, NULL, 10);
        char id[64];
        snprintf(id, sizeof id, "%lu:%lu", pi, di); /* "00:1" names the same device as "0:1" */
        for (size_t i = 0; i < l->count; i++)
            if (strcmp(l->info[i].id, id) == 0) return (long)i;
        return -1;
    }
    static const struct {
        const char *word;
        clae_device_type type;
    } words[] = {{"cpu-ref", CLAE_DEVICE_CPU_REF},
                 {"gpu", CLAE_DEVICE_GPU},
                 {"cpu", CLAE_DEVICE_CPU},
                 {"accelerator", CLAE_DEVICE_ACCELERATOR}};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        if (!str_ieq(spec, words[w].word)) continue;
        for (size_t i = 0; i < l->count; i++)
            if (l->info[i].type == words[w].type) return (long)i;
        return -1;
    }
    for (size_t i = 0; i < l->count; i++)
        if (str_icontains(l->info[i].name, spec)) return (long)i;
    return -1;
}

/* What a spec that matched nothing asked for: a type word says which type is
 * missing ("--device gpu" on a machine without one), anything else that no
 * device goes by that id or name. `from_env` says the spec was CLAE_DEVICE's. */
static clae_status unknown_device(const device_list *l, const char *spec, int from_env)
{
    static const struct {
        const char *word, *what;
    } types[] = {{"gpu", "GPU"}, {"cpu", "OpenCL CPU"}, {"accelerator", "accelerator"}};
    const char *what = NULL;
    for (size_t w = 0; w < sizeof types / sizeof types[0]; w++)
        if (str_ieq(spec, types[w].word)) what = types[w].what;
    const char *env = from_env ? " (from CLAE_DEVICE)" : "";
    if (what)
        clae_fail(CLAE_ERR_DEVICE, "no %s device found for '%s'%s; devices: ", what, spec, env);
    else
        clae_fail(CLAE_ERR_DEVICE, "unknown device '%s'%s; devices: ", spec, env);
    for (size_t i = 0; i < l->count; i++) {
        const clae_device_info *d = &l->info[i];
        if (d->type == CLAE_DEVICE_CPU_REF)
            clae_fail_append("%s%s", i ? ", " : "", d->id);
        else
            clae_fail_append("%s%s %s %s (%s)", i ? ", " : "", d->id, clae_device_type_string(d->type),
                             d->name, d->platform);
    }
    return CLAE_ERR_DEVICE;
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

static unsigned tuned_wg(const clae_device_info *d)
{
    unsigned wg = 256;
    for (size_t i = 0; i < sizeof tune_table / sizeof tune_table[0]; i++) {
        const tune_entry *e = &tune_table[i];
        if (e->vendor && !str_icontains(d->vendor, e->vendor)) continue;
        if (e->name && !str_icontains(d->name, e->name)) continue;
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
                                d->type == CLAE_DEVICE_CPU, tuned_wg(d));
    /* OpenCL lets float division and sqrt be off by ulps; ask for IEEE rounding
     * where the device offers it, so results match the C reference bit for bit. */
    cl_device_fp_config fp = 0;
    if (!rt->is_ref && clGetDeviceInfo(rt->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL) == CL_SUCCESS &&
        (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) && len < cap)
        len += (size_t)snprintf(o + len, cap - len, " -cl-fp32-correctly-rounded-divide-sqrt");
    const char *extra = getenv("CLAE_BUILD_OPTIONS");
    if (extra && *extra && len < cap) snprintf(o + len, cap - len, " %s", extra);
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

static void cache_dir_from_env(char *dir, size_t cap)
{
    dir[0] = '\0';
    const char *onoff = getenv("CLAE_CACHE");
    if (onoff && (str_ieq(onoff, "off") || str_ieq(onoff, "0") || str_ieq(onoff, "no"))) return;
    const char *d = getenv("CLAE_CACHE_DIR");
    if (d && *d) {
        copy_str(dir, cap, d);
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
    /* A cache that cannot be written only costs time on the next open. */
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof ptrs, ptrs, NULL) == CL_SUCCESS &&
        clae_cache_store(rt->cache_dir, key, bin, size) == CLAE_OK)
        rt->stats.cache_written++;
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

static clae_status build_programs(clae_runtime *rt)
{
    /* Cache misses and unwritable cache entries set the thread's last error on
     * the way; a successful open must not leave those behind as if it failed. */
    char saved_error[CLAE_ERROR_MAX];
    copy_str(saved_error, sizeof saved_error, clae_last_error());
    double t0 = now_seconds();
    size_t n = clae_kernel_source_count;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order) return clae_fail(CLAE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) order[i] = i;
    qsort(order, n, sizeof *order, cmp_source_index);

    clae_status s = CLAE_OK;
    for (size_t i = 0; i < n && s == CLAE_OK; i++) {
        const char *name = clae_kernel_sources[order[i]].name;
        if (!name_has_suffix(name, ".cl")) continue;
        if (rt->n_programs >= CLAE_MAX_PROGRAMS) {
            s = clae_fail(CLAE_ERR_BUILD, "%s: more than %d kernel programs", name, CLAE_MAX_PROGRAMS);
            break;
        }
        char *src = NULL;
        size_t len = 0;
        s = program_source(order, n, order[i], &src, &len);
        if (s != CLAE_OK) break;
        dump_source(name, src, len);
        char *key = cache_key(rt, name, src, len);
        if (!key) {
            free(src);
            s = clae_fail(CLAE_ERR_NOMEM, "out of memory");
            break;
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
        if (s == CLAE_OK) {
            rt->programs[rt->n_programs] = prog;
            copy_str(rt->program_names[rt->n_programs], sizeof rt->program_names[0], name);
            rt->n_programs++;
        }
    }
    free(order);
    rt->stats.build_seconds = now_seconds() - t0;
    if (s == CLAE_OK) clae_fail(CLAE_OK, "%s", saved_error);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Open / close                                                              */
/* ------------------------------------------------------------------------ */

/* The GEMM engine an OpenCL device gets: the first row whose type matches (-1 matches any).
 * CPU devices (PoCL): clae's register-tiled kernel, several times CLBlast there (make
 * bench-gemm); every other device: CLBlast, which carries tuned parameters per GPU.
 * CLAE_GEMM=clblast|tiled overrides the table for any OpenCL device; cpu-ref has only its loops. */
static const struct {
    int type;
    const clae_gemm_engine *engine;
} gemm_table[] = {
    {CLAE_DEVICE_CPU, &clae_gemm_tiled},
    {-1, &clae_gemm_clblast},
};

static const clae_gemm_engine *const gemm_engines[] = {&clae_gemm_clblast, &clae_gemm_tiled};

/* The engine named by CLAE_GEMM (NULL when unset or empty); CLAE_ERR_ARG for any other name, so a
 * typo is caught at open on every device rather than silently ignored. */
static clae_status gemm_override(const clae_gemm_engine **out)
{
    const char *v = getenv("CLAE_GEMM");
    *out = NULL;
    if (!v || !*v) return CLAE_OK;
    for (size_t i = 0; i < sizeof gemm_engines / sizeof gemm_engines[0]; i++)
        if (strcmp(v, gemm_engines[i]->name) == 0) {
            *out = gemm_engines[i];
            return CLAE_OK;
        }
    return clae_fail(CLAE_ERR_ARG, "CLAE_GEMM=%s: unknown GEMM engine (choices: clblast, tiled)", v);
}

static const clae_gemm_engine *gemm_for_device(const clae_device_info *d, const clae_gemm_engine *override)
{
    if (override) return override;
    for (size_t i = 0; i < sizeof gemm_table / sizeof gemm_table[0]; i++)
        if (gemm_table[i].type < 0 || gemm_table[i].type == (int)d->type) return gemm_table[i].engine;
    return &clae_gemm_clblast;
}

/* What the kernels are built for, read from rt->device (no context needed):
 * alignment, fp64, vector width, and from them the build options. */
static void probe_device(clae_runtime *rt)
{
    cl_device_id device = rt->device;
    cl_uint align_bits = 0;
    clGetDeviceInfo(device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, NULL);
    rt->mem_align_bytes = align_bits >= 8 ? align_bits / 8 : 4;

    cl_device_fp_config fp64 = 0;
    if (clGetDeviceInfo(device, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp64, &fp64, NULL) != CL_SUCCESS) fp64 = 0;
    char *ext = device_string_alloc(device, CL_DEVICE_EXTENSIONS);
    rt->has_fp64 = fp64 != 0 || (ext && strstr(ext, "cl_khr_fp64") != NULL);
    free(ext);

    cl_uint vw = 0;
    clGetDeviceInfo(device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof vw, &vw, NULL);
    rt->vector_width_float = vw ? vw : 1;

    make_options(rt);
}

static clae_status open_opencl(clae_runtime *rt, cl_platform_id platform, cl_device_id device,
                               const clae_gemm_engine *gemm)
{
    cl_int err;
    rt->platform = platform;
    rt->device = device;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
    rt->ctx = clCreateContext(props, 1, &device, NULL, NULL, &err);
    if (err != CL_SUCCESS)
        return clae_fail(CLAE_ERR_OPENCL, "%s: clCreateContext failed: %s", rt->info.name, clae_cl_error_name(err));
    rt->queue = clCreateCommandQueue(rt->ctx, device, 0, &err);
    if (err != CL_SUCCESS)
        return clae_fail(CLAE_ERR_OPENCL, "%s: clCreateCommandQueue failed: %s", rt->info.name,
                         clae_cl_error_name(err));

    probe_device(rt);
    cache_dir_from_env(rt->cache_dir, sizeof rt->cache_dir);
    rt->ops = &clae_ops_cl;
    rt->gemm = gemm_for_device(&rt->info, gemm);
    return build_programs(rt);
}

/* The index in l of the device spec selects, as clae_runtime_open documents
 * it; -1 after the error is set. */
static long select_device(const device_list *l, const char *spec)
{
    int from_env = 0;
    if (!spec || !*spec) {
        spec = getenv("CLAE_DEVICE");
        from_env = 1;
    }
    if (!spec || !*spec) return (long)default_index(l);
    long idx = match_spec(l, spec);
    if (idx < 0) unknown_device(l, spec, from_env);
    return idx;
}

/* The device list and the index spec picks in it; on failure the list is
 * already freed and clae_last_error() says why. */
static clae_status find_device(const char *spec, device_list *l, long *idx)
{
    clae_status s = enumerate(l);
    if (s != CLAE_OK) return s;
    *idx = select_device(l, spec);
    if (*idx < 0) {
        device_list_free(l);
        return CLAE_ERR_DEVICE;
    }
    return CLAE_OK;
}

clae_status clae_runtime_open(const char *spec, clae_runtime **out)
{
    if (!out) return clae_fail(CLAE_ERR_ARG, "clae_runtime_open: out must not be NULL");
    *out = NULL;
    const clae_gemm_engine *gemm = NULL;
    clae_status s = gemm_override(&gemm);
    if (s != CLAE_OK) return s;
    device_list l;
    long idx;
    s = find_device(spec, &l, &idx);
    if (s != CLAE_OK) return s;

    clae_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        device_list_free(&l);
        return clae_fail(CLAE_ERR_NOMEM, "out of memory opening a runtime");
    }
    rt->info = l.info[idx];
    if (rt->info.type == CLAE_DEVICE_CPU_REF) {
        rt->is_ref = 1;
        rt->ops = &clae_ops_ref;
        rt->gemm = &clae_gemm_ref;
        rt->mem_align_bytes = sizeof(float);
        rt->has_fp64 = 1;
        rt->vector_width_float = 1;
    } else {
        s = open_opencl(rt, l.platform[idx], l.device[idx], gemm);
    }
    device_list_free(&l);
    if (s != CLAE_OK) {
        clae_runtime_close(rt);
        return s;
    }
    *out = rt;
    return CLAE_OK;
}

void clae_runtime_close(clae_runtime *rt)
{
    if (!rt) return;
    for (int i = 0; i < rt->n_kernels; i++)
        if (rt->kernels[i].kernel) clReleaseKernel(rt->kernels[i].kernel);
    for (int i = 0; i < rt->n_programs; i++)
        if (rt->programs[i]) clReleaseProgram(rt->programs[i]);
    if (rt->queue) {
        clFinish(rt->queue);
        clReleaseCommandQueue(rt->queue);
    }
    if (rt->ctx) clReleaseContext(rt->ctx);
    free(rt);
}

clae_status clae_runtime_device(const clae_runtime *rt, clae_device_info *out)
{
    if (!rt || !out) return clae_fail(CLAE_ERR_ARG, "clae_runtime_device: runtime and out must not be NULL");
    *out = rt->info;
    return CLAE_OK;
}

const char *clae_runtime_build_options(const clae_runtime *rt) { return rt ? rt->options : ""; }

const char *clae_runtime_error(const clae_runtime *rt) { return rt ? rt->error : ""; }

clae_status clae_runtime_stats_get(const clae_runtime *rt, clae_runtime_stats *out)
{
    if (!rt || !out) return clae_fail(CLAE_ERR_ARG, "clae_runtime_stats_get: runtime and out must not be NULL");
    *out = rt->stats;
    return CLAE_OK;
}

const char *clae_runtime_cache_dir(const clae_runtime *rt) { return rt ? rt->cache_dir : ""; }

/* ------------------------------------------------------------------------ */
/* Device queries without opening                                            */
/* ------------------------------------------------------------------------ */

clae_status clae_device_resolve(const char *spec, clae_device_info *out)
{
    if (!out) return clae_fail(CLAE_ERR_ARG, "clae_device_resolve: out must not be NULL");
    device_list l;
    long idx;
    clae_status s = find_device(spec, &l, &idx);
    if (s != CLAE_OK) return s;
    *out = l.info[idx];
    device_list_free(&l);
    return CLAE_OK;
}

/* A growing property list; the strings are copied, then packed by plist_pack. */
typedef struct plist {
    clae_device_property *p;
    char **text; /* the value strings, owned until packed */
    size_t n, cap;
    int nomem;
} plist;

static void plist_add(plist *pl, const char *key, const char *label, const char *value, int numeric, double number)
{
    if (pl->nomem) return;
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? 2 * pl->cap : 64;
        clae_device_property *np = realloc(pl->p, cap * sizeof *np);
        if (np) pl->p = np;
        char **nt = np ? realloc(pl->text, cap * sizeof *nt) : NULL;
        if (!np || !nt) {
            pl->nomem = 1;
            return;
        }
        pl->text = nt;
        pl->cap = cap;
    }
    char *v = malloc(strlen(value) + 1);
    if (!v) {
        pl->nomem = 1;
        return;
    }
    strcpy(v, value);
    pl->p[pl->n] = (clae_device_property){key, label, NULL, numeric, number};
    pl->text[pl->n++] = v;
}

static void plist_num(plist *pl, const char *key, const char *label, double v)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%.17g", v);
    plist_add(pl, key, label, buf, 1, v);
}

static void plist_str(plist *pl, const char *key, const char *label, const char *v)
{
    plist_add(pl, key, label, v ? v : "", 0, 0.0);
}

static void plist_bool(plist *pl, const char *key, const char *label, int v)
{
    plist_add(pl, key, label, v ? "yes" : "no", 0, 0.0);
}

static void plist_free(plist *pl)
{
    for (size_t i = 0; i < pl->n; i++) free(pl->text[i]);
    free(pl->text);
    free(pl->p);
}

/* One block: the entries, then every value string, so one clae_free() frees all.
 * Keys and labels are string literals and need no copy. */
static clae_status plist_pack(plist *pl, clae_device_property **out, size_t *count)
{
    if (pl->nomem) {
        plist_free(pl);
        return clae_fail(CLAE_ERR_NOMEM, "out of memory listing device properties");
    }
    size_t bytes = pl->n * sizeof **out;
    for (size_t i = 0; i < pl->n; i++) bytes += strlen(pl->text[i]) + 1;
    clae_device_property *block = malloc(bytes ? bytes : 1);
    if (!block) {
        plist_free(pl);
        return clae_fail(CLAE_ERR_NOMEM, "out of memory listing device properties");
    }
    char *str = (char *)(block + pl->n);
    for (size_t i = 0; i < pl->n; i++) {
        block[i] = pl->p[i];
        size_t len = strlen(pl->text[i]) + 1;
        memcpy(str, pl->text[i], len);
        block[i].value = str;
        str += len;
    }
    *out = block;
    *count = pl->n;
    plist_free(pl);
    return CLAE_OK;
}

/* Runs of blanks to one space, none at the ends: drivers pad extension lists. */
static void squeeze_blanks(char *s)
{
    char *o = s;
    for (const char *p = s; *p; p++) {
        if (isspace((unsigned char)*p)) {
            if (o > s && o[-1] != ' ') *o++ = ' ';
        } else {
            *o++ = *p;
        }
    }
    if (o > s && o[-1] == ' ') o--;
    *o = '\0';
}

static void dev_str(plist *pl, cl_device_id dev, cl_device_info param, const char *key, const char *label)
{
    char *v = device_string_alloc(dev, param);
    if (v) squeeze_blanks(v);
    plist_str(pl, key, label, v ? v : "");
    free(v);
}

static void plat_str(plist *pl, cl_platform_id p, cl_platform_info param, const char *key, const char *label)
{
    char v[4096];
    platform_string(p, param, v, sizeof v);
    squeeze_blanks(v);
    plist_str(pl, key, label, v);
}

static cl_ulong dev_ulong(cl_device_id dev, cl_device_info param)
{
    cl_ulong v = 0;
    return clGetDeviceInfo(dev, param, sizeof v, &v, NULL) == CL_SUCCESS ? v : 0;
}

static cl_uint dev_uint(cl_device_id dev, cl_device_info param)
{
    cl_uint v = 0;
    return clGetDeviceInfo(dev, param, sizeof v, &v, NULL) == CL_SUCCESS ? v : 0;
}

/* "denorm inf_nan round_to_nearest ..." for a cl_device_fp_config; "" for none. */
static void fp_config_text(cl_device_fp_config f, char *buf, size_t cap)
{
    static const struct {
        cl_device_fp_config bit;
        const char *name;
    } bits[] = {{CL_FP_DENORM, "denorm"},
                {CL_FP_INF_NAN, "inf_nan"},
                {CL_FP_ROUND_TO_NEAREST, "round_to_nearest"},
                {CL_FP_ROUND_TO_ZERO, "round_to_zero"},
                {CL_FP_ROUND_TO_INF, "round_to_inf"},
                {CL_FP_FMA, "fma"},
                {CL_FP_SOFT_FLOAT, "soft_float"},
                {CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT, "correctly_rounded_divide_sqrt"}};
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof bits / sizeof bits[0] && len < cap; i++)
        if (f & bits[i].bit) len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? " " : "", bits[i].name);
}

static void opencl_properties(plist *pl, clae_runtime *rt, cl_platform_id p, cl_device_id dev)
{
    char buf[1024];
    plat_str(pl, p, CL_PLATFORM_NAME, "platform_name", "Platform name");
    plat_str(pl, p, CL_PLATFORM_VENDOR, "platform_vendor", "Platform vendor");
    plat_str(pl, p, CL_PLATFORM_VERSION, "platform_version", "Platform version");
    plat_str(pl, p, CL_PLATFORM_PROFILE, "platform_profile", "Platform profile");
    plat_str(pl, p, CL_PLATFORM_EXTENSIONS, "platform_extensions", "Platform extensions");
    dev_str(pl, dev, CL_DEVICE_NAME, "name", "Device name");
    dev_str(pl, dev, CL_DEVICE_VENDOR, "vendor", "Device vendor");
    plist_num(pl, "vendor_id", "Device vendor ID", dev_uint(dev, CL_DEVICE_VENDOR_ID));
    dev_str(pl, dev, CL_DEVICE_VERSION, "device_version", "Device version");
    dev_str(pl, dev, CL_DRIVER_VERSION, "driver_version", "Driver version");
    dev_str(pl, dev, CL_DEVICE_OPENCL_C_VERSION, "opencl_c_version", "Device OpenCL C version");
    dev_str(pl, dev, CL_DEVICE_PROFILE, "profile", "Device profile");
    plist_str(pl, "type", "Device type", clae_device_type_string(rt->info.type));
    plist_bool(pl, "available", "Device available", dev_uint(dev, CL_DEVICE_AVAILABLE));
    plist_bool(pl, "compiler_available", "Compiler available", dev_uint(dev, CL_DEVICE_COMPILER_AVAILABLE));
    plist_num(pl, "compute_units", "Max compute units", dev_uint(dev, CL_DEVICE_MAX_COMPUTE_UNITS));
    plist_num(pl, "max_clock_mhz", "Max clock frequency (MHz)", dev_uint(dev, CL_DEVICE_MAX_CLOCK_FREQUENCY));
    plist_num(pl, "address_bits", "Address bits", dev_uint(dev, CL_DEVICE_ADDRESS_BITS));
    plist_bool(pl, "little_endian", "Little endian", dev_uint(dev, CL_DEVICE_ENDIAN_LITTLE));
    plist_num(pl, "global_mem_bytes", "Global memory size (bytes)", (double)dev_ulong(dev, CL_DEVICE_GLOBAL_MEM_SIZE));
    plist_num(pl, "global_mem_cache_bytes", "Global memory cache size (bytes)",
              (double)dev_ulong(dev, CL_DEVICE_GLOBAL_MEM_CACHE_SIZE));
    plist_num(pl, "global_mem_cacheline_bytes", "Global memory cache line (bytes)",
              dev_uint(dev, CL_DEVICE_GLOBAL_MEM_CACHELINE_SIZE));
    plist_num(pl, "max_alloc_bytes", "Max memory allocation (bytes)",
              (double)dev_ulong(dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE));
    plist_num(pl, "mem_base_addr_align_bits", "Memory base address alignment (bits)",
              dev_uint(dev, CL_DEVICE_MEM_BASE_ADDR_ALIGN));
    plist_bool(pl, "host_unified_memory", "Unified memory for host and device",
               dev_uint(dev, CL_DEVICE_HOST_UNIFIED_MEMORY));
    plist_bool(pl, "error_correction", "Error correction support", dev_uint(dev, CL_DEVICE_ERROR_CORRECTION_SUPPORT));
    plist_num(pl, "local_mem_bytes", "Local memory size (bytes)", (double)dev_ulong(dev, CL_DEVICE_LOCAL_MEM_SIZE));
    cl_device_local_mem_type lt = 0;
    clGetDeviceInfo(dev, CL_DEVICE_LOCAL_MEM_TYPE, sizeof lt, &lt, NULL);
    plist_str(pl, "local_mem_type", "Local memory type", lt == CL_LOCAL ? "local" : lt == CL_GLOBAL ? "global" : "none");
    plist_num(pl, "max_constant_buffer_bytes", "Max constant buffer size (bytes)",
              (double)dev_ulong(dev, CL_DEVICE_MAX_CONSTANT_BUFFER_SIZE));
    size_t wg = 0;
    clGetDeviceInfo(dev, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    plist_num(pl, "max_work_group_size", "Max work-group size", (double)wg);
    cl_uint dims = dev_uint(dev, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS);
    plist_num(pl, "max_work_item_dimensions", "Max work-item dimensions", dims);
    size_t sizes[16] = {0};
    if (dims > 16) dims = 16;
    clGetDeviceInfo(dev, CL_DEVICE_MAX_WORK_ITEM_SIZES, dims * sizeof sizes[0], sizes, NULL);
    size_t len = 0;
    buf[0] = '\0';
    for (cl_uint d = 0; d < dims && len < sizeof buf; d++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%zu", d ? " " : "", sizes[d]);
    plist_str(pl, "max_work_item_sizes", "Max work-item sizes", buf);
    plist_num(pl, "preferred_vector_width_float", "Preferred vector width (float)",
              dev_uint(dev, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT));
    plist_num(pl, "native_vector_width_float", "Native vector width (float)",
              dev_uint(dev, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT));
    cl_device_fp_config fp = 0;
    clGetDeviceInfo(dev, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
    fp_config_text(fp, buf, sizeof buf);
    plist_str(pl, "single_fp_config", "Single-precision floating-point config", buf);
    fp = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp, &fp, NULL) != CL_SUCCESS) fp = 0;
    fp_config_text(fp, buf, sizeof buf);
    plist_str(pl, "double_fp_config", "Double-precision floating-point config", fp ? buf : "(none)");
    plist_bool(pl, "fp64", "Double precision (fp64)", rt->has_fp64);
    plist_bool(pl, "image_support", "Image support", dev_uint(dev, CL_DEVICE_IMAGE_SUPPORT));
    size_t res = 0;
    clGetDeviceInfo(dev, CL_DEVICE_PROFILING_TIMER_RESOLUTION, sizeof res, &res, NULL);
    plist_num(pl, "profiling_timer_resolution_ns", "Profiling timer resolution (ns)", (double)res);
    cl_command_queue_properties qp = 0;
    clGetDeviceInfo(dev, CL_DEVICE_QUEUE_PROPERTIES, sizeof qp, &qp, NULL);
    snprintf(buf, sizeof buf, "%s%s%s", (qp & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) ? "out_of_order" : "",
             (qp & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) && (qp & CL_QUEUE_PROFILING_ENABLE) ? " " : "",
             (qp & CL_QUEUE_PROFILING_ENABLE) ? "profiling" : "");
    plist_str(pl, "queue_properties", "Queue properties", buf);
    dev_str(pl, dev, CL_DEVICE_EXTENSIONS, "extensions", "Device extensions");
}

clae_status clae_device_properties(const char *spec, clae_device_property **props, size_t *count)
{
    if (!props || !count) return clae_fail(CLAE_ERR_ARG, "clae_device_properties: props and count must not be NULL");
    *props = NULL;
    *count = 0;
    const clae_gemm_engine *gemm = NULL;
    if (gemm_override(&gemm) != CLAE_OK) gemm = NULL; /* a bad CLAE_GEMM fails at open, not here */
    device_list l;
    long idx;
    clae_status s = find_device(spec, &l, &idx);
    if (s != CLAE_OK) return s;
    /* A runtime that is never opened: probe_device fills what the build
     * options depend on without a context or a compile. */
    clae_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        device_list_free(&l);
        return clae_fail(CLAE_ERR_NOMEM, "out of memory listing device properties");
    }
    rt->info = l.info[idx];
    plist pl;
    memset(&pl, 0, sizeof pl);
    plist_str(&pl, "id", "clae device ID", rt->info.id);
    if (rt->info.type == CLAE_DEVICE_CPU_REF) {
        const clae_device_info *d = &rt->info;
        plist_str(&pl, "platform_name", "Platform name", d->platform);
        plist_str(&pl, "platform_version", "Platform version", d->platform_version);
        plist_str(&pl, "name", "Device name", d->name);
        plist_str(&pl, "vendor", "Device vendor", d->vendor);
        plist_str(&pl, "driver_version", "Driver version", d->driver_version);
        plist_str(&pl, "type", "Device type", clae_device_type_string(d->type));
        plist_num(&pl, "compute_units", "Max compute units", d->compute_units);
        plist_num(&pl, "global_mem_bytes", "Global memory size (bytes)", (double)d->global_mem_bytes);
        plist_num(&pl, "max_alloc_bytes", "Max memory allocation (bytes)", (double)d->max_alloc_bytes);
        plist_num(&pl, "max_work_group_size", "Max work-group size", (double)d->max_work_group_size);
        plist_bool(&pl, "fp64", "Double precision (fp64)", 1);
        plist_str(&pl, "build_options", "clae build options", "(none: plain C, no kernels)");
        plist_str(&pl, "gemm_engine", "clae GEMM engine", clae_gemm_ref.name);
    } else {
        rt->platform = l.platform[idx];
        rt->device = l.device[idx];
        probe_device(rt);
        opencl_properties(&pl, rt, rt->platform, rt->device);
        plist_num(&pl, "work_group_size", "clae work-group size (CLAE_WG)", tuned_wg(&rt->info));
        plist_num(&pl, "mem_align_bytes", "clae buffer alignment (bytes)", rt->mem_align_bytes);
        plist_str(&pl, "build_options", "clae build options", rt->options);
        plist_str(&pl, "gemm_engine", "clae GEMM engine", gemm_for_device(&rt->info, gemm)->name);
    }
    free(rt);
    device_list_free(&l);
    return plist_pack(&pl, props, count);
}

clae_status clae_rt_fail(clae_runtime *rt, clae_status status)
{
    if (rt) clae_error_copy_to(rt->error);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Kernels and launches                                                      */
/* ------------------------------------------------------------------------ */

cl_kernel clae_rt_kernel(clae_runtime *rt, const char *name)
{
    if (!rt || !name) return NULL;
    if (rt->is_ref) {
        clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "kernel %s: cpu-ref has no OpenCL kernels", name));
        return NULL;
    }
    for (int i = 0; i < rt->n_kernels; i++)
        if (strcmp(rt->kernels[i].name, name) == 0) return rt->kernels[i].kernel;
    if (strlen(name) >= sizeof rt->kernels[0].name) {
        clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "kernel %s: name too long", name));
        return NULL;
    }
    if (rt->n_kernels >= CLAE_MAX_KERNELS) {
        clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "kernel %s: more than %d kernels in use", name, CLAE_MAX_KERNELS));
        return NULL;
    }
    cl_int err = CL_INVALID_KERNEL_NAME;
    for (int p = 0; p < rt->n_programs; p++) {
        cl_kernel k = clCreateKernel(rt->programs[p], name, &err);
        if (err == CL_SUCCESS && k) {
            copy_str(rt->kernels[rt->n_kernels].name, sizeof rt->kernels[0].name, name);
            rt->kernels[rt->n_kernels].kernel = k;
            rt->n_kernels++;
            return k;
        }
    }
    clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "kernel %s: not found in any of %d programs (%s)", name,
                               rt->n_programs, clae_cl_error_name(err)));
    return NULL;
}

static size_t round_up(size_t v, size_t m) { return m ? (v + m - 1) / m * m : v; }

clae_status clae_rt_enqueue_1d(clae_runtime *rt, cl_kernel k, const char *what, size_t global, size_t local)
{
    if (!rt || rt->is_ref || !k)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s: enqueue needs an OpenCL runtime and kernel",
                                          what ? what : "kernel"));
    /* An empty range is legal for callers but CL_INVALID_GLOBAL_WORK_SIZE for OpenCL. */
    if (global == 0) return CLAE_OK;
    size_t g = round_up(global, local);
    cl_int err = clEnqueueNDRangeKernel(rt->queue, k, 1, NULL, &g, local ? &local : NULL, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "%s: clEnqueueNDRangeKernel (global %zu, local %zu) failed: %s",
                                          what ? what : "kernel", g, local, clae_cl_error_name(err)));
    return CLAE_OK;
}

clae_status clae_rt_enqueue_2d(clae_runtime *rt, cl_kernel k, const char *what, size_t g0, size_t g1, size_t l0,
                               size_t l1)
{
    if (!rt || rt->is_ref || !k)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s: enqueue needs an OpenCL runtime and kernel",
                                          what ? what : "kernel"));
    if (g0 == 0 || g1 == 0) return CLAE_OK;
    int use_local = l0 > 0 && l1 > 0;
    size_t g[2] = {use_local ? round_up(g0, l0) : g0, use_local ? round_up(g1, l1) : g1};
    size_t l[2] = {l0, l1};
    cl_int err = clEnqueueNDRangeKernel(rt->queue, k, 2, NULL, g, use_local ? l : NULL, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL,
                                          "%s: clEnqueueNDRangeKernel (global %zux%zu, local %zux%zu) failed: %s",
                                          what ? what : "kernel", g[0], g[1], l0, l1, clae_cl_error_name(err)));
    return CLAE_OK;
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */
/* ------------------------------------------------------------------------ */

clae_status clae_buf_alloc(clae_runtime *rt, size_t n, clae_buf *out)
{
    if (!rt || !out) return clae_fail(CLAE_ERR_ARG, "clae_buf_alloc: runtime and out must not be NULL");
    memset(out, 0, sizeof *out);
    /* A zero-length buffer still gets real memory so every buffer is valid to
     * pass as a kernel argument. */
    size_t alloc = n ? n : 1;
    if (alloc > SIZE_MAX / sizeof(float))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "clae_buf_alloc: %zu floats overflow size_t", n));
    size_t bytes = alloc * sizeof(float);
    if (rt->is_ref) {
        float *p = calloc(alloc, sizeof(float));
        if (!p) return clae_rt_fail(rt, clae_fail(CLAE_ERR_NOMEM, "out of memory allocating %zu bytes", bytes));
        out->host = p;
    } else {
        if (rt->info.max_alloc_bytes && bytes > rt->info.max_alloc_bytes)
            return clae_rt_fail(rt, clae_fail(CLAE_ERR_DEVICE_MEM,
                                              "%s: a buffer of %zu bytes exceeds the device's largest allocation "
                                              "(%llu bytes)",
                                              rt->info.name, bytes, (unsigned long long)rt->info.max_alloc_bytes));
        cl_int err;
        cl_mem m = clCreateBuffer(rt->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
        if (err != CL_SUCCESS) {
            clae_status s = (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
                             err == CL_INVALID_BUFFER_SIZE)
                                ? CLAE_ERR_DEVICE_MEM
                                : CLAE_ERR_OPENCL;
            return clae_rt_fail(rt, clae_fail(s, "%s: clCreateBuffer of %zu bytes failed: %s", rt->info.name, bytes,
                                              clae_cl_error_name(err)));
        }
        out->mem = m;
    }
    out->n = n;
    out->owns = 1;
    return CLAE_OK;
}

void clae_buf_free(clae_buf *b)
{
    if (!b) return;
    if (b->owns) {
        free(b->host);
        if (b->mem) clReleaseMemObject(b->mem);
    }
    memset(b, 0, sizeof *b);
}

clae_buf clae_buf_view(clae_buf parent, size_t off, size_t n)
{
    /* No status to return here, so a view is clamped to its parent; the
     * read/write helpers then reject any access past its end. */
    if (off > parent.n) off = parent.n;
    if (n > parent.n - off) n = parent.n - off;
    clae_buf v;
    v.host = parent.host ? parent.host + off : NULL;
    v.mem = parent.mem;
    v.off = parent.mem ? parent.off + off : 0;
    v.n = n;
    v.owns = 0;
    return v;
}

static clae_status check_range(clae_runtime *rt, const char *what, clae_buf b, size_t off, size_t n)
{
    if (!rt) return clae_fail(CLAE_ERR_ARG, "%s: runtime must not be NULL", what);
    if (off > b.n || n > b.n - off)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s: floats [%zu, %zu) outside a buffer of %zu", what, off,
                                          off + n, b.n));
    if (n > 0 && (rt->is_ref ? !b.host : !b.mem))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s: buffer does not belong to this runtime's device", what));
    return CLAE_OK;
}

clae_status clae_buf_write(clae_runtime *rt, clae_buf dst, size_t off, const float *src, size_t n)
{
    clae_status s = check_range(rt, "clae_buf_write", dst, off, n);
    if (s != CLAE_OK || n == 0) return s;
    if (!src) return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "clae_buf_write: source must not be NULL"));
    if (rt->is_ref) {
        memcpy(dst.host + off, src, n * sizeof(float));
        return CLAE_OK;
    }
    cl_int err = clEnqueueWriteBuffer(rt->queue, dst.mem, CL_TRUE, (dst.off + off) * sizeof(float),
                                      n * sizeof(float), src, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "clEnqueueWriteBuffer of %zu floats failed: %s", n,
                                          clae_cl_error_name(err)));
    return CLAE_OK;
}

clae_status clae_buf_read(clae_runtime *rt, clae_buf src, size_t off, float *dst, size_t n)
{
    clae_status s = check_range(rt, "clae_buf_read", src, off, n);
    if (s != CLAE_OK || n == 0) return s;
    if (!dst) return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "clae_buf_read: destination must not be NULL"));
    if (rt->is_ref) {
        memcpy(dst, src.host + off, n * sizeof(float));
        return CLAE_OK;
    }
    cl_int err = clEnqueueReadBuffer(rt->queue, src.mem, CL_TRUE, (src.off + off) * sizeof(float),
                                     n * sizeof(float), dst, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "clEnqueueReadBuffer of %zu floats failed: %s", n,
                                          clae_cl_error_name(err)));
    return CLAE_OK;
}

clae_status clae_buf_zero(clae_runtime *rt, clae_buf b)
{
    clae_status s = check_range(rt, "clae_buf_zero", b, 0, b.n);
    if (s != CLAE_OK || b.n == 0) return s;
    if (rt->is_ref) {
        memset(b.host, 0, b.n * sizeof(float));
        return CLAE_OK;
    }
    const float zero = 0.0f;
    cl_int err = clEnqueueFillBuffer(rt->queue, b.mem, &zero, sizeof zero, b.off * sizeof(float),
                                     b.n * sizeof(float), 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "clEnqueueFillBuffer of %zu floats failed: %s", b.n,
                                          clae_cl_error_name(err)));
    return CLAE_OK;
}

clae_status clae_rt_finish(clae_runtime *rt)
{
    if (!rt) return clae_fail(CLAE_ERR_ARG, "clae_rt_finish: runtime must not be NULL");
    if (rt->is_ref) return CLAE_OK;
    cl_int err = clFinish(rt->queue);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "clFinish failed: %s", clae_cl_error_name(err)));
    return CLAE_OK;
}

void clae_rt_set_gemm_workspace(clae_runtime *rt, cl_mem mem, size_t bytes)
{
    rt->gemm_workspace = mem;
    rt->gemm_workspace_bytes = mem ? bytes : 0;
}
