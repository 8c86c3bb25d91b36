/* gemm_common.c — what every OpenCL GEMM engine does before its own kernels: check the call's shapes
 * and buffers, report failures in one form, and reduce an empty product (K = 0) to C = beta·C. */
#include "ops/gemm/gemm.h"

static size_t span(size_t rows, size_t cols, size_t ld) { return rows ? (rows - 1) * ld + cols : 0; }

clae_status clae_gemm_fail(clae_runtime *rt, clae_status st, const char *engine, const char *why, int ta, int tb,
                           size_t M, size_t N, size_t K, size_t lda, size_t ldb, size_t ldc)
{
    return clae_rt_fail(rt, clae_fail(st, "%s(%c%c, M=%zu, N=%zu, K=%zu, lda=%zu, ldb=%zu, ldc=%zu) on %s: %s", engine,
                                      ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, lda, ldb, ldc, rt->info.name, why));
}

/* C = beta·C when the product is empty: gemm_scale_c of cl/elementwise.cl. */
static clae_status scale_c(clae_runtime *rt, size_t M, size_t N, float beta, clae_buf C, size_t ldc)
{
    cl_kernel k = NULL;
    clae_status built = clae_rt_kernel_get(rt, "gemm_scale_c", &k, NULL); /* may build elementwise.cl */
    if (built != CLAE_OK) return built;
    cl_ulong coff = C.off, ld = ldc, m = M, n = N;
    cl_int err = clSetKernelArg(k, 0, sizeof C.mem, &C.mem);
    err |= clSetKernelArg(k, 1, sizeof coff, &coff);
    err |= clSetKernelArg(k, 2, sizeof ld, &ld);
    err |= clSetKernelArg(k, 3, sizeof m, &m);
    err |= clSetKernelArg(k, 4, sizeof n, &n);
    err |= clSetKernelArg(k, 5, sizeof beta, &beta);
    if (err != CL_SUCCESS) return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "clSetKernelArg(gemm_scale_c) failed"));
    clae_status s = clae_rt_enqueue_2d(rt, k, "gemm_scale_c", N, M, 0, 0);
    return s == CLAE_OK ? s : clae_rt_fail(rt, s);
}

clae_status clae_gemm_prologue(clae_runtime *rt, const char *engine, int ta, int tb, size_t M, size_t N, size_t K,
                               clae_buf A, size_t lda, clae_buf B, size_t ldb, float beta, clae_buf C, size_t ldc,
                               int *done)
{
    size_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    const char *bad = NULL;
    *done = 1;
    if (rt->is_ref || !rt->queue) bad = "the runtime has no OpenCL queue";
    else if (lda < (ac ? ac : 1)) bad = "lda is smaller than a row of A";
    else if (ldb < (bc ? bc : 1)) bad = "ldb is smaller than a row of B";
    else if (ldc < (N ? N : 1)) bad = "ldc is smaller than a row of C";
    else if (M && N && K && (!A.mem || A.n < span(ar, ac, lda))) bad = "buffer A is too small";
    else if (M && N && K && (!B.mem || B.n < span(br, bc, ldb))) bad = "buffer B is too small";
    else if (M && N && (!C.mem || C.n < span(M, N, ldc))) bad = "buffer C is too small";
    if (bad) return clae_gemm_fail(rt, CLAE_ERR_ARG, engine, bad, ta, tb, M, N, K, lda, ldb, ldc);
    if (M == 0 || N == 0) return CLAE_OK;
    if (K == 0) return scale_c(rt, M, N, beta, C, ldc);
    *done = 0;
    return CLAE_OK;
}
