/* gemm.h — the one interface every GEMM goes through, so engines can be chosen per device.
 * Callers use clae_op_gemm (ops/ops.h); clae_runtime_open (lib/ops/ops_select.c) picks rt->gemm for the device. */
#ifndef CLAE_GEMM_H
#define CLAE_GEMM_H

#include "runtime/runtime.h"

typedef struct clae_gemm_engine {
    const char *name; /* "ref", "clblast", ... */
    /* Row-major C = alpha·op(A)·op(B) + beta·C (see clae_op_gemm). */
    clae_status (*sgemm)(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                         float alpha, clae_buf A, size_t lda, clae_buf B, size_t ldb, float beta,
                         clae_buf C, size_t ldc);
    /* Bytes of device workspace the engine wants for this shape (0: none).
     * The planner sizes one workspace tensor from the largest of a step's GEMMs
     * and hands it over with clae_rt_set_gemm_workspace(). */
    size_t (*workspace_bytes)(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                              size_t lda, size_t ldb, size_t ldc);
    /* Optional, NULL where the engine has no epilogue (clae_op_gemm_bias_act then runs sgemm, bias_add and
     * act_forward): the dense layer's forward in one pass, Z = op(A)·op(B) + bias (N floats, added to every
     * row), copied to Z when Z.n, and C = f(Z): Z bit for bit what sgemm and bias_add give, C too for relu and linear
     * (sigmoid and tanh may take vector builtins an ulp away from act_forward's). Arguments are checked. */
    clae_status (*sgemm_bias_act)(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                                  clae_buf A, size_t lda, clae_buf B, size_t ldb, clae_buf bias, clae_activation f,
                                  clae_buf Z, clae_buf C, size_t ldc);
    /* Optional: how this engine runs a shape (for clae_model_gemm_report), one line without a newline. */
    void (*describe)(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K, char *buf, size_t cap);
} clae_gemm_engine;

/* Shared by the OpenCL engines (lib/ops/gemm/gemm_common.c). The prologue checks leading
 * dimensions and buffer sizes (CLAE_ERR_ARG naming the engine, the shape and
 * what is wrong) and settles empty products itself: *done = 1 when nothing is
 * left to compute (M or N zero, or K zero after C = beta·C). */
clae_status clae_gemm_prologue(clae_runtime *rt, const char *engine, int ta, int tb, size_t M, size_t N, size_t K,
                               clae_buf A, size_t lda, clae_buf B, size_t ldb, float beta, clae_buf C, size_t ldc,
                               int *done);
/* Records a failure of engine on that call's shape and returns st. */
clae_status clae_gemm_fail(clae_runtime *rt, clae_status st, const char *engine, const char *why, int ta, int tb,
                           size_t M, size_t N, size_t K, size_t lda, size_t ldb, size_t ldc);

/* The engine CLAE_GEMM names (*out NULL when unset or empty); CLAE_ERR_ARG for any other name. */
clae_status clae_gemm_override(const clae_gemm_engine **out);
/* The GEMM engine an OpenCL device d gets: override when set, else the engine table's choice
 * (lib/ops/ops_select.c). */
const clae_gemm_engine *clae_gemm_for_device(const clae_device_info *d, const clae_gemm_engine *override);

extern const clae_gemm_engine clae_gemm_ref;     /* naive loops accumulating in double */
extern const clae_gemm_engine clae_gemm_clblast; /* CLBlastSgemm on rt->queue */
extern const clae_gemm_engine clae_gemm_tiled;   /* cl/gemm.cl register tiles (CPU devices) */

#endif
