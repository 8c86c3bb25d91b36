/* gemm.h — the one interface every GEMM goes through, so engines can be chosen per device.
 * Callers use rt->ops->gemm; the runtime picks rt->gemm when it opens a device. */
#ifndef CLAE_GEMM_H
#define CLAE_GEMM_H

#include "runtime.h"

typedef struct clae_gemm_engine {
    const char *name; /* "ref", "clblast", ... */
    /* Row-major C = alpha·op(A)·op(B) + beta·C (see clae_ops.gemm). */
    clae_status (*sgemm)(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                         float alpha, clae_buf A, size_t lda, clae_buf B, size_t ldb, float beta,
                         clae_buf C, size_t ldc);
} clae_gemm_engine;

extern const clae_gemm_engine clae_gemm_ref;     /* naive loops accumulating in double */
extern const clae_gemm_engine clae_gemm_clblast; /* CLBlastSgemm on rt->queue */

#endif
