/* gemm_clblast.c — the CLBlast GEMM engine: CLBlastSgemm on the runtime's queue, row-major.
 * Its first call per process compiles CLBlast's kernels (over 10 s on PoCL); that is expected. */
#include <stdio.h>

#include "ops/gemm/gemm.h"

#include <clblast_c.h>

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

static clae_status sgemm_clblast(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                                 float alpha, clae_buf A, size_t lda, clae_buf B, size_t ldb, float beta,
                                 clae_buf C, size_t ldc)
{
    int done;
    clae_status pro = clae_gemm_prologue(rt, "CLBlastSgemm", trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc, &done);
    if (pro != CLAE_OK || done) return pro;

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
    return clae_gemm_fail(rt, CLAE_ERR_OPENCL, "CLBlastSgemm", why, trans_a, trans_b, M, N, K, lda, ldb, ldc);
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

const clae_gemm_engine clae_gemm_clblast = {"clblast", sgemm_clblast, workspace_clblast, NULL, NULL};
