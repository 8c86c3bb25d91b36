/* runtime_internal.h — what lib/runtime's own files share: string helpers, the device list, the probe and
 * program build. Hidden from libclae.so like everything outside clae.h. */
#ifndef CLAE_RUNTIME_INTERNAL_H
#define CLAE_RUNTIME_INTERNAL_H

#include "runtime/runtime.h"

/* devices.c */

/* Copies src into dst, truncated to cap - 1 bytes, always NUL-terminated (cap > 0). */
void clae_rt_copy_str(char *dst, size_t cap, const char *src);
/* ASCII case-insensitive equality, and substring search (an empty needle is in every string). */
int clae_rt_str_ieq(const char *a, const char *b);
int clae_rt_str_icontains(const char *hay, const char *needle);
/* A device info string of any length, malloc'd (caller frees); "" when the query fails, NULL only
 * when out of memory. */
char *clae_rt_device_string_alloc(cl_device_id dev, cl_device_info param);

/* Every device clae can open: the OpenCL ones in platform order, then cpu-ref. */
typedef struct clae_rt_device_list {
    clae_device_info *info;
    cl_platform_id *platform; /* NULL for cpu-ref */
    cl_device_id *device;
    size_t count;
    char no_opencl[256]; /* why the list holds no OpenCL device ("" when it holds one) */
} clae_rt_device_list;

void clae_rt_device_list_free(clae_rt_device_list *l);
/* Lists the devices and sets *idx to the one spec selects (as clae_runtime_open documents it);
 * on failure the list is already freed and clae_last_error() says why. */
clae_status clae_rt_find_device(const char *spec, clae_rt_device_list *l, long *idx);
/* The same list and the index of the device with this handle (CLAE_ERR_DEVICE, the list freed, when no
 * platform lists it). */
clae_status clae_rt_find_device_handle(cl_device_id device, clae_rt_device_list *l, long *idx);

/* program.c */

/* The work-group size of the 1-D kernels (CLAE_WG) for d, from the tuning table. */
unsigned clae_rt_tuned_wg(const clae_device_info *d);
/* Fills rt's alignment, fp64, vector width and build options from rt->device (no context needed). */
void clae_rt_probe_device(clae_runtime *rt);
/* The program cache directory the environment asks for into dir; "" when the cache is off. */
void clae_rt_cache_dir_from_env(char *dir, size_t cap);
/* Lists the programs (one per .cl file, in name order) into rt->programs, unbuilt, and scans each
 * one's source (headers + file, from CLAE_KERNEL_DIR when set) for the kernels it declares into
 * rt->decls. Compiles nothing: opening a runtime stays cheap whatever its models will use. */
clae_status clae_rt_scan_programs(clae_runtime *rt);
/* Builds program p (an index into rt->programs), or loads it from rt->cache_dir, unless it is
 * built already; rt->stats count it. On failure rt->programs[p] stays NULL, so a later call tries
 * again (and fails again with the same log). */
clae_status clae_rt_build_program(clae_runtime *rt, int p);

#endif
