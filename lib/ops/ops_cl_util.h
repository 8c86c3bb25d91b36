/* ops_cl_util.h — what every OpenCL op file shares: kernel-argument lists and the launch helper.
 * Internal to lib/ops/ops_cl.c and lib/ops/ops_variants_cl.c, so both launch kernels alike. */
#ifndef CLAE_OPS_CL_UTIL_H
#define CLAE_OPS_CL_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

/* One kernel argument. Offsets and sizes travel as cl_ulong so no index can overflow; the
 * compound literals live until the end of the block that builds the argument list. */
typedef struct karg {
    size_t size;
    const void *ptr;
} karg;

#define ARG_U64(x) {sizeof(cl_ulong), &(cl_ulong){(cl_ulong)(x)}}
#define ARG_U32(x) {sizeof(cl_uint), &(cl_uint){(cl_uint)(x)}}
#define ARG_I32(x) {sizeof(cl_int), &(cl_int){(cl_int)(x)}}
#define ARG_F32(x) {sizeof(cl_float), &(cl_float){(cl_float)(x)}}
#define ARG_MEM(m) {sizeof(cl_mem), &(cl_mem){(m)}}
/* A clae_buf is two kernel arguments: the memory object and the element offset into it. */
#define ARG_BUF(b) ARG_MEM((b).mem), ARG_U64((b).off)
#define NARGS(a) (sizeof(a) / sizeof((a)[0]))

/* Sets the arguments of kernel `name` into *k and gives its work-group size (the runtime's CLAE_WG
 * capped for this kernel, so host and kernels agree on one number). The kernel's program is built
 * on its first use, so the status may be its build failure (CLAE_ERR_BUILD, with the log); every
 * failure is recorded in rt. */
static inline clae_status kernel_with_args(clae_runtime *rt, const char *name, const karg *args, size_t nargs,
                                           size_t *wg, cl_kernel *k)
{
    clae_status s = clae_rt_kernel_get(rt, name, k, wg);
    if (s != CLAE_OK) return s;
    for (size_t i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(*k, (cl_uint)i, args[i].size, args[i].ptr);
        if (err != CL_SUCCESS)
            return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "clSetKernelArg(%s, arg %zu) failed: %s (%d)", name,
                                              i, clae_cl_error_name(err), (int)err));
    }
    return CLAE_OK;
}

/* Sets args on kernel `name` and enqueues g0 items (1-D when g1 is 0, else g0×g1 with dimension 0
 * along the fastest-varying index). An empty range is a no-op: OpenCL rejects global size 0. */
static inline clae_status launch(clae_runtime *rt, const char *name, const karg *args, size_t nargs, size_t g0,
                                 size_t g1, int two_d)
{
    if (g0 == 0 || (two_d && g1 == 0)) return CLAE_OK;
    size_t wg = 0;
    cl_kernel k = NULL;
    clae_status s = kernel_with_args(rt, name, args, nargs, &wg, &k);
    if (s != CLAE_OK) return s;
    s = two_d ? clae_rt_enqueue_2d(rt, k, name, g0, g1, wg, 1) : clae_rt_enqueue_1d(rt, k, name, g0, wg);
    return s == CLAE_OK ? s : clae_rt_fail(rt, s);
}

#endif
