/* gemm_ref.c — the reference GEMM engine: row-major C = alpha·op(A)·op(B) + beta·C in plain loops.
 * Sums run over k in ascending order in double, so it is the yardstick the device engines meet. */
#include <stdlib.h>

#include "ops/gemm/gemm.h"

/* The floats a rows×cols matrix with leading dimension ld spans. */
static size_t span(size_t rows, size_t cols, size_t ld) { return rows ? (rows - 1) * ld + cols : 0; }

static clae_status check(clae_runtime *rt, int ta, int tb, size_t M, size_t N, size_t K, clae_buf A,
                         size_t lda, clae_buf B, size_t ldb, clae_buf C, size_t ldc)
{
    /* Stored shapes: A is M×K (K×M when transposed), B is K×N (N×K), C is M×N. */
    size_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    const char *bad = NULL;
    if (lda < (ac ? ac : 1)) bad = "lda";
    else if (ldb < (bc ? bc : 1)) bad = "ldb";
    else if (ldc < (N ? N : 1)) bad = "ldc";
    else if (M && N && K && (!A.host || A.n < span(ar, ac, lda))) bad = "A";
    else if (M && N && K && (!B.host || B.n < span(br, bc, ldb))) bad = "B";
    else if (M && N && (!C.host || C.n < span(M, N, ldc))) bad = "C";
    if (!bad) return CLAE_OK;
    return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG,
                                      "gemm_ref(%c%c, M=%zu, N=%zu, K=%zu, lda=%zu, ldb=%zu, ldc=%zu): "
                                      "%s too small or not a host buffer (A.n=%zu, B.n=%zu, C.n=%zu)",
                                      ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, lda, ldb, ldc, bad, A.n,
                                      B.n, C.n));
}

static clae_status sgemm_ref(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                             float alpha, clae_buf A, size_t lda, clae_buf B, size_t ldb, float beta,
                             clae_buf C, size_t ldc)
{
    clae_status s = check(rt, trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc);
    if (s != CLAE_OK || M == 0 || N == 0) return s;
    /* Accumulating a whole row of C lets the inner loop walk B's rows contiguously when B is not
     * transposed; either way each C[i,j] is Σ_k in ascending k, so the result is the same. */
    double *acc = malloc(N * sizeof *acc);
    if (!acc) return clae_rt_fail(rt, clae_fail(CLAE_ERR_NOMEM, "gemm_ref: no memory for %zu doubles", N));
    for (size_t i = 0; i < M; i++) {
        for (size_t j = 0; j < N; j++) acc[j] = 0.0;
        for (size_t k = 0; k < K; k++) {
            double a = trans_a ? A.host[k * lda + i] : A.host[i * lda + k];
            if (trans_b)
                for (size_t j = 0; j < N; j++) acc[j] += a * (double)B.host[j * ldb + k];
            else
                for (size_t j = 0; j < N; j++) acc[j] += a * (double)B.host[k * ldb + j];
        }
        float *c = C.host + i * ldc;
        /* beta = 0 means C is write-only (BLAS convention): stale NaNs must not survive. */
        for (size_t j = 0; j < N; j++)
            c[j] = (float)((double)alpha * acc[j] + (beta == 0.0f ? 0.0 : (double)beta * c[j]));
    }
    free(acc);
    return CLAE_OK;
}

/* Plain loops need no device workspace. */
static size_t workspace_ref(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K, size_t lda,
                            size_t ldb, size_t ldc)
{
    (void)rt, (void)trans_a, (void)trans_b, (void)M, (void)N, (void)K, (void)lda, (void)ldb, (void)ldc;
    return 0;
}

const clae_gemm_engine clae_gemm_ref = {"ref", sgemm_ref, workspace_ref, NULL, NULL};
