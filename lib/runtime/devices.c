/* devices.c — device discovery and selection, and what clae reports about a device without opening it
 * (clae_devices, clae_device_resolve, clae_device_properties' list); cpu-ref is always the last device. */
#include "runtime/runtime_internal.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

void clae_rt_copy_str(char *dst, size_t cap, const char *src)
{
    if (cap == 0) return;
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int lower_char(int c) { return tolower((unsigned char)c); }

int clae_rt_str_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (lower_char(*a) != lower_char(*b)) return 0;
    return *a == *b;
}

int clae_rt_str_icontains(const char *hay, const char *needle)
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

/* Device strings can be longer than our fixed fields; CL refuses a too-small
 * buffer outright, so ask for the size first and truncate ourselves. */
char *clae_rt_device_string_alloc(cl_device_id dev, cl_device_info param)
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
    char *s = clae_rt_device_string_alloc(dev, param);
    clae_rt_copy_str(dst, cap, s ? s : "");
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
        clae_rt_copy_str(dst, cap, s);
    }
    free(s);
}

/* ------------------------------------------------------------------------ */
/* Device discovery                                                          */
/* ------------------------------------------------------------------------ */

void clae_rt_device_list_free(clae_rt_device_list *l)
{
    free(l->info);
    free(l->platform);
    free(l->device);
    memset(l, 0, sizeof *l);
}

static int device_list_grow(clae_rt_device_list *l, size_t cap)
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
    clae_rt_copy_str(d->id, sizeof d->id, "cpu-ref");
    clae_rt_copy_str(d->name, sizeof d->name, "cpu-ref (plain C reference)");
    clae_rt_copy_str(d->platform, sizeof d->platform, "clae");
    clae_rt_copy_str(d->platform_version, sizeof d->platform_version, "clae " CLAE_VERSION_STRING);
    clae_rt_copy_str(d->vendor, sizeof d->vendor, "clae");
    clae_rt_copy_str(d->driver_version, sizeof d->driver_version, CLAE_VERSION_STRING);
    d->type = CLAE_DEVICE_CPU_REF;
    d->compute_units = 1;
    d->max_work_group_size = 1;
    /* The host's physical memory is cpu-ref's "global memory", so a plan that
     * cannot fit fails at creation as it would on a device. */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) d->global_mem_bytes = d->max_alloc_bytes = (uint64_t)pages * (uint64_t)page;
}

/* First GPU, else first OpenCL CPU, else cpu-ref (always last). */
static size_t default_index(const clae_rt_device_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->info[i].type == CLAE_DEVICE_GPU) return i;
    for (size_t i = 0; i < l->count; i++)
        if (l->info[i].type == CLAE_DEVICE_CPU) return i;
    return l->count - 1;
}

static clae_status enumerate_locked(clae_rt_device_list *l)
{
    memset(l, 0, sizeof *l);
    cl_uint np = 0;
    cl_platform_id *plats = NULL;
    /* Any failure of the ICD loader (no driver, CL_PLATFORM_NOT_FOUND_KHR, a
     * broken vendor file) means "no OpenCL": cpu-ref must stay usable. */
    cl_int perr = clGetPlatformIDs(0, NULL, &np);
    if (perr != CL_SUCCESS) np = 0;
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
            clae_rt_device_list_free(l);
            return clae_fail(CLAE_ERR_NOMEM, "out of memory listing OpenCL devices");
        }
        if (clGetDeviceIDs(plats[pi], CL_DEVICE_TYPE_ALL, nd, devs, NULL) != CL_SUCCESS) nd = 0;
        if (device_list_grow(l, l->count + nd + 1) != 0) {
            free(devs);
            free(plats);
            clae_rt_device_list_free(l);
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
    if (l->count == 0 && perr != CL_SUCCESS)
        snprintf(l->no_opencl, sizeof l->no_opencl,
                 "no OpenCL platform found (clGetPlatformIDs: %s; is an OpenCL driver such as pocl-opencl-icd "
                 "installed?)", clae_cl_error_name(perr));
    else if (l->count == 0)
        snprintf(l->no_opencl, sizeof l->no_opencl, "%u OpenCL platform%s but no device", (unsigned)np,
                 np == 1 ? "" : "s");
    if (device_list_grow(l, l->count + 1) != 0) {
        clae_rt_device_list_free(l);
        return clae_fail(CLAE_ERR_NOMEM, "out of memory listing devices");
    }
    fill_ref_info(&l->info[l->count]);
    l->platform[l->count] = NULL;
    l->device[l->count] = NULL;
    l->count++;
    l->info[default_index(l)].is_default = 1;
    return CLAE_OK;
}

/* PoCL 3.1's device queries are not safe from two threads at once (a runtime opened in each crashed in
 * clGetDeviceInfo now and then), so the library's walks over platforms and devices take turns. */
static clae_status enumerate(clae_rt_device_list *l)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    clae_status s = enumerate_locked(l);
    pthread_mutex_unlock(&lock);
    return s;
}

clae_status clae_devices(clae_device_info **list, size_t *count)
{
    if (!list || !count) return clae_fail(CLAE_ERR_ARG, "clae_devices: list and count must not be NULL");
    *list = NULL;
    *count = 0;
    clae_rt_device_list l;
    clae_status s = enumerate(&l);
    if (s != CLAE_OK) return s;
    *list = l.info;
    *count = l.count;
    l.info = NULL;
    clae_rt_device_list_free(&l);
    return CLAE_OK;
}

clae_status clae_opencl_absence(char *buf, size_t cap)
{
    if (!buf || cap == 0) return clae_fail(CLAE_ERR_ARG, "clae_opencl_absence: buf must not be NULL, cap not 0");
    clae_rt_device_list l;
    clae_status s = enumerate(&l);
    if (s != CLAE_OK) return s;
    const size_t need = strlen(l.no_opencl) + 1;
    if (need <= cap) memcpy(buf, l.no_opencl, need);
    clae_rt_device_list_free(&l);
    if (need > cap) return clae_fail(CLAE_ERR_ARG, "clae_opencl_absence: cap %zu, the text needs %zu", cap, need);
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
static long match_spec(const clae_rt_device_list *l, const char *spec)
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
        if (!clae_rt_str_ieq(spec, words[w].word)) continue;
        for (size_t i = 0; i < l->count; i++)
            if (l->info[i].type == words[w].type) return (long)i;
        return -1;
    }
    for (size_t i = 0; i < l->count; i++)
        if (clae_rt_str_icontains(l->info[i].name, spec)) return (long)i;
    return -1;
}

/* What a spec that matched nothing asked for: a type word says which type is
 * missing ("--device gpu" on a machine without one), anything else that no
 * device goes by that id or name. `from_env` says the spec was CLAE_DEVICE's. */
static clae_status unknown_device(const clae_rt_device_list *l, const char *spec, int from_env)
{
    static const struct {
        const char *word, *what;
    } types[] = {{"gpu", "GPU"}, {"cpu", "OpenCL CPU"}, {"accelerator", "accelerator"}};
    const char *what = NULL;
    for (size_t w = 0; w < sizeof types / sizeof types[0]; w++)
        if (clae_rt_str_ieq(spec, types[w].word)) what = types[w].what;
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

/* The index in l of the device spec selects, as clae_runtime_open documents
 * it; -1 after the error is set. */
static long select_device(const clae_rt_device_list *l, const char *spec)
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
clae_status clae_rt_find_device(const char *spec, clae_rt_device_list *l, long *idx)
{
    clae_status s = enumerate(l);
    if (s != CLAE_OK) return s;
    *idx = select_device(l, spec);
    if (*idx < 0) {
        clae_rt_device_list_free(l);
        return CLAE_ERR_DEVICE;
    }
    return CLAE_OK;
}

clae_status clae_rt_find_device_handle(cl_device_id device, clae_rt_device_list *l, long *idx)
{
    clae_status s = enumerate(l);
    if (s != CLAE_OK) return s;
    for (size_t i = 0; i < l->count; i++)
        if (l->device[i] == device) {
            *idx = (long)i;
            return CLAE_OK;
        }
    clae_rt_device_list_free(l);
    return clae_fail(CLAE_ERR_DEVICE, "clae_runtime_wrap: the device is not one of the platforms' devices "
                                      "(clae lists them with 'clae devices'; sub-devices are not supported)");
}

/* ------------------------------------------------------------------------ */
/* Device queries without opening                                            */
/* ------------------------------------------------------------------------ */

clae_status clae_device_resolve(const char *spec, clae_device_info *out)
{
    if (!out) return clae_fail(CLAE_ERR_ARG, "clae_device_resolve: out must not be NULL");
    clae_rt_device_list l;
    long idx;
    clae_status s = clae_rt_find_device(spec, &l, &idx);
    if (s != CLAE_OK) return s;
    *out = l.info[idx];
    clae_rt_device_list_free(&l);
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
    char *v = clae_rt_device_string_alloc(dev, param);
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

clae_status clae_rt_device_properties(const char *spec, const char *(*gemm_engine)(const clae_device_info *d),
                                      clae_device_property **props, size_t *count)
{
    *props = NULL;
    *count = 0;
    clae_rt_device_list l;
    long idx;
    clae_status s = clae_rt_find_device(spec, &l, &idx);
    if (s != CLAE_OK) return s;
    /* A runtime that is never opened: clae_rt_probe_device fills what the build
     * options depend on without a context or a compile. */
    clae_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        clae_rt_device_list_free(&l);
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
        plist_str(&pl, "gemm_engine", "clae GEMM engine", gemm_engine(&rt->info));
    } else {
        rt->platform = l.platform[idx];
        rt->device = l.device[idx];
        clae_rt_probe_device(rt);
        opencl_properties(&pl, rt, rt->platform, rt->device);
        plist_num(&pl, "work_group_size", "clae work-group size (CLAE_WG)", clae_rt_tuned_wg(&rt->info));
        plist_num(&pl, "mem_align_bytes", "clae buffer alignment (bytes)", rt->mem_align_bytes);
        plist_str(&pl, "build_options", "clae build options", rt->options);
        plist_str(&pl, "gemm_engine", "clae GEMM engine", gemm_engine(&rt->info));
    }
    free(rt);
    clae_rt_device_list_free(&l);
    return plist_pack(&pl, props, count);
}
