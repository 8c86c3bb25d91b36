/* gemm_clblast.c — the CLBlast GEMM engine: CLBlastSgemm on the runtime's queue, row-major.
 * Its first call per process compiles CLBlast's kernels (over 10 s on PoCL); that is expected. */
#include <stdio.h>

#include "gemm.h"

#include <clblast_c.h>

static size_t span(size_t rows, size_t cols, size_t ld) { return rows ? (rows - 1) * ld + cols : 0; }

/* Names for CLBlast's own codes; the OpenCL-range ones go through clae_cl_error_name. */
static const char *clblast_status_name(CLBlastStatusCode s)
{
    switch (s) {
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA: return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB: return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC: return "CLBlastInvalidMatrixC";
    case CLBlastInvalidDimension: return "CLBlastInvalidDimension";
    case CLBlastInvalidLeadDimA: return "CLBlastInvalidLeadDimA";
    case CLBlastInvalidLeadDimB: return "CLBlastInvalidLeadDimB";
    case CLBlastInvalidLeadDimC: return "CLBlastInvalidLeadDimC";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastInsufficientMemoryTemp: return "CLBlastInsufficientMemoryTemp";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastNoHalfPrecision: return "CLBlastNoHalfPrecision";
    case CLBlastNoDoublePrecision: return "CLBlastNoDoublePrecision";
    case CLBlastDatabaseError: return "CLBlastDatabaseError";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    case CLBlastUnexpectedError: return "CLBlastUnexpectedError";
    default: return (int)s > -1000 ? clae_cl_error_name((int)s) : "unknown CLBlast status";
    }
}

static clae_status fail(clae_runtime *rt, clae_status st, const char *why, int ta, int tb, size_t M,
                        size_t N, size_t K, size_t lda, size_t ldb, size_t ldc)
{
    return clae_rt_fail(rt, clae_fail(st, "CLBlastSgemm(%c%c, M=%zu, N=%zu, K=%zu, lda=%zu, ldb=%zu, ldc=%zu) "
                                          "on %s: %s",
                                      ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, lda, ldb, ldc, rt->info.name,
                                      why));
}

/* CLBlast rejects K = 0, where the product is empty and C = beta·C remains. */
static clae_status scale_c(clae_runtime *rt, size_t M, size_t N, float beta, clae_buf C, size_t ldc)
{
    cl_kernel k = clae_rt_kernel(rt, "gemm_scale_c");
    if (!k) return clae_rt_fail(rt, CLAE_ERR_OPENCL);
    cl_ulong coff = C.off, ld = ldc, m = M, n = N;
    cl_int err = clSetKernelArg(k, 0, sizeof C.mem, &C.mem);
    err |= clSetKernelArg(k, 1, sizeof coff, &coff);
    err |= clSetKernelArg(k, 2, sizeof ld, &ld);
    err |= clSetKernelArg(k, 3, sizeof m, &m);
    err |= clSetKernelArg(k, 4, sizeof n, &n);
    err |= clSetKernelArg(k, 5, sizeof beta, &beta);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "clSetKernelArg(gemm_scale_c) failed"));
    clae_status s = clae_rt_enqueue_2d(rt, k, "gemm_scale_c", N, M, 0, 0);
    return s == CLAE_OK ? s : clae_rt_fail(rt, s);
}

static clae_status sgemm_clblast(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                                 float alpha, clae_buf A, size_t lda, clae_buf B, size_t ldb, float beta,
                                 clae_buf C, size_t ldc)
{
    size_t ar = trans_a ? K : M, ac = trans_a ? M : K, br = trans_b ? N : K, bc = trans_b ? K : N;
    const char *bad = NULL;
    if (rt->is_ref || !rt->queue) bad = "the runtime has no OpenCL queue";
    else if (lda < (ac ? ac : 1)) bad = "lda is smaller than a row of A";
    else if (ldb < (bc ? bc : 1)) bad = "ldb is smaller than a row of B";
    else if (ldc < (N ? N : 1)) bad = "ldc is smaller than a row of C";
    else if (M && N && K && (!A.mem || A.n < span(ar, ac, lda))) bad = "buffer A is too small";
    else if (M && N && K && (!B.mem || B.n < span(br, bc, ldb))) bad = "buffer B is too small";
    else if (M && N && (!C.mem || C.n < span(M, N, ldc))) bad = "buffer C is too small";
    if (bad) return fail(rt, CLAE_ERR_ARG, bad, trans_a, trans_b, M, N, K, lda, ldb, ldc);
    if (M == 0 || N == 0) return CLAE_OK;
    if (K == 0) return scale_c(rt, M, N, beta, C, ldc);

    CLBlastTranspose ta = trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    /* With a planned workspace big enough for this call, CLBlast allocates
     * nothing itself; otherwise it creates (and frees) a temporary per call. */
    size_t need = 0;
    CLBlastStatusCode st;
    if (rt->gemm_workspace &&
        CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, ta, tb, M, N, K, A.off, lda, B.off, ldb, C.off, ldc,
                                   &rt->queue, &need) == CLBlastSuccess &&
        need <= rt->gemm_workspace_bytes)
        st = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, ta, tb, M, N, K, alpha, A.mem, A.off, lda, B.mem,
                                        B.off, ldb, beta, C.mem, C.off, ldc, &rt->queue, NULL, rt->gemm_workspace);
    else
        st = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, M, N, K, alpha, A.mem, A.off, lda, B.mem, B.off, ldb, beta,
                          C.mem, C.off, ldc, &rt->queue, NULL);
    if (st == CLBlastSuccess) return CLAE_OK;
    char why[128];
    snprintf(why, sizeof why, "status %d (%s)", (int)st, clblast_status_name(st));
    return fail(rt, CLAE_ERR_OPENCL, why, trans_a, trans_b, M, N, K, lda, ldb, ldc);
}

/* CLBlast's own answer for the shape (0 when its direct kernel needs none);
 * offsets are taken as 0, which is how the planner asks before placing. */
static size_t workspace_clblast(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                                size_t lda, size_t ldb, size_t ldc)
{
    size_t bytes = 0;
    if (rt->is_ref || !rt->queue || !M || !N || !K) return 0;
    if (CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
                                   trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, M, N, K, 0, lda, 0, ldb, 0,
                                   ldc, &rt->queue, &bytes) != CLBlastSuccess)
        return 0;
    return bytes;
}

const clae_gemm_engine clae_gemm_clblast = {"clblast", sgemm_clblast, workspace_clblast};
