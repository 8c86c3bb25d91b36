/* ops_common.h — the argument checks both op paths make, written once: buffer sizes, enum ranges,
 * and GEMM dispatch through the runtime's engine. Each path's util header names its path. */
#ifndef CLAE_OPS_COMMON_H
#define CLAE_OPS_COMMON_H

#include "ops/gemm/gemm.h"

/* Every buffer an op touches must hold at least n floats, in the memory of its
 * path (host memory for the reference, a memory object for OpenCL). */
static inline clae_status clae_op_need(clae_runtime *rt, int ref, const char *op, const char *name, clae_buf b,
                                       size_t n)
{
    int present = ref ? b.host != NULL : b.mem != NULL;
    if (b.n >= n && (n == 0 || present)) return CLAE_OK;
    return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): buffer %s holds %zu floats%s, needs %zu", op,
                                      ref ? "ref" : "opencl", name, b.n,
                                      present ? "" : ref ? " and is not a host buffer" : " and is not a device buffer",
                                      n));
}

/* An enum argument (activation, loss, …) must be one the ops know. */
static inline clae_status clae_op_check_enum(clae_runtime *rt, int ref, const char *op, const char *what, int v,
                                             int count)
{
    if (v >= 0 && v < count) return CLAE_OK;
    return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): unknown %s %d", op, ref ? "ref" : "opencl", what, v));
}

/* The ops' GEMM is whichever engine the runtime chose for its device. */
static inline clae_status clae_op_gemm(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                                       float alpha, clae_buf A, size_t lda, clae_buf B, size_t ldb, float beta,
                                       clae_buf C, size_t ldc)
{
    return rt->gemm->sgemm(rt, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Uses OPS_PATH_IS_REF, which the including util header defines. */
#define NEED(op, b, n)                                                                              \
    do {                                                                                            \
        clae_status need_s_ = clae_op_need(rt, OPS_PATH_IS_REF, op, #b, b, n);                      \
        if (need_s_ != CLAE_OK) return need_s_;                                                     \
    } while (0)
#define check_act(rt, op, f) clae_op_check_enum((rt), OPS_PATH_IS_REF, (op), "activation", (int)(f), CLAE_ACT_COUNT)
#define check_loss(rt, op, l) clae_op_check_enum((rt), OPS_PATH_IS_REF, (op), "loss", (int)(l), CLAE_LOSS_COUNT)

#endif
