/* ops_check.h — what every checking entry (lib/ops/ops*.c) shares: the buffer check that also reports a dry
 * run's uses, the path's name for messages, and the early return on a failed check. */
#ifndef CLAE_OPS_CHECK_H
#define CLAE_OPS_CHECK_H

#include "runtime/runtime.h"

/* "ref" or "opencl": messages name the path, as the tests compare both. */
static inline const char *clae_op_path(const clae_runtime *rt) { return rt->is_ref ? "ref" : "opencl"; }

/* Buffer `name` of op must hold n floats in its path's memory (host for the reference, a memory object for
 * OpenCL); in a dry run it is reported to the trace instead (lib/ops/ops.c). */
clae_status clae_op_need(clae_runtime *rt, const char *op, const char *name, clae_buf b, size_t n);

#define TRY(x)                                                                                      \
    do {                                                                                            \
        clae_status try_s_ = (x);                                                                   \
        if (try_s_ != CLAE_OK) return try_s_;                                                       \
    } while (0)
#define NEED(op, b, n) TRY(clae_op_need(rt, op, #b, b, n))

#endif
