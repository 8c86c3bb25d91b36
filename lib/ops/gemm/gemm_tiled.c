/* gemm_tiled.c — the "tiled" GEMM engine: clae's own register-tiled kernel (cl/gemm.cl), chosen
 * on CPU OpenCL devices where CLBlast's GPU-shaped kernels reach a fraction of the machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/gemm/gemm.h"

/* The value of -D`name`=N in the runtime's build options (the last one wins, as in the compiler),
 * else `dflt` — the same default cl/gemm.cl falls back to, so host grid and kernel tile agree. */
static size_t define_value(const clae_runtime *rt, const char *name, size_t dflt)
{
    char pat[64];
    snprintf(pat, sizeof pat, "-D%s=", name);
    size_t v = dflt;
    for (const char *p = strstr(rt->options, pat); p; p = strstr(p + 1, pat)) {
        char *end;
        long x = strtol(p + strlen(pat), &end, 10);
        if (end != p + strlen(pat) && x >= 0) v = (size_t)x;
    }
    return v;
}

/* The C tile one work-item owns: rows tm × columns tn, by the rule of cl/gemm.cl's defaults
 * (16-wide vectors and 8 rows where the device prefers float16, else 8-wide and 6 rows; two
 * vectors per row), each overridable with the same -D names. */
static void tile_of(const clae_runtime *rt, size_t *tm, size_t *tn)
{
    size_t pref = define_value(rt, "CLAE_VEC_FLOAT", rt->vector_width_float);
    size_t vw = define_value(rt, "CLAE_GEMM_VW", pref >= 16 ? 16 : 8);
    *tm = define_value(rt, "CLAE_GEMM_TM", vw >= 16 ? 8 : 6);
    *tn = vw * define_value(rt, "CLAE_GEMM_NV", 2);
}

/* Sets every argument of kernel `name` from (size, pointer) pairs; NULL with the error recorded. */
static cl_kernel with_args(clae_runtime *rt, const char *name, const size_t *sizes, const void *const *ptrs,
                           cl_uint n)
{
    cl_kernel k = clae_rt_kernel(rt, name);
    if (!k) {
        clae_rt_fail(rt, CLAE_ERR_OPENCL);
        return NULL;
    }
    for (cl_uint i = 0; i < n; i++) {
        cl_int err = clSetKernelArg(k, i, sizes[i], ptrs[i]);
        if (err != CL_SUCCESS) {
            clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "clSetKernelArg(%s, arg %u) failed: %s", name, i,
                                       clae_cl_error_name(err)));
            return NULL;
        }
    }
    return k;
}

/* dst (cols×rows, leading dimension rows) = srcᵀ, src rows×cols with leading dimension lds. */
static clae_status transpose(clae_runtime *rt, size_t rows, size_t cols, cl_mem src, size_t soff, size_t lds,
                             cl_mem dst)
{
    cl_ulong r = rows, c = cols, so = soff, ls = lds, doff = 0, ld = rows;
    const size_t sz[] = {sizeof r, sizeof c, sizeof src, sizeof so, sizeof ls, sizeof dst, sizeof doff, sizeof ld};
    const void *const pt[] = {&r, &c, &src, &so, &ls, &dst, &doff, &ld};
    cl_kernel k = with_args(rt, "gemm_transpose", sz, pt, 8);
    if (!k) return CLAE_ERR_OPENCL;
    clae_status s = clae_rt_enqueue_2d(rt, k, "gemm_transpose", (cols + 15) / 16, (rows + 15) / 16, 1, 1);
    return s == CLAE_OK ? s : clae_rt_fail(rt, s);
}

/* The epilogue of one call (cl/gemm.cl): the bias row, the pre-activation copy and the activation, each
 * optional; NULL runs the plain GEMM. */
typedef struct tiled_epilogue {
    clae_buf bias; /* N floats, or none */
    clae_buf Z;    /* M×ldc floats, or none */
    int act;       /* a clae_activation, or −1 */
} tiled_epilogue;

/* A·Bᵀ with at most CLAE_GEMM_NT_MAX_M rows (default 16) goes to the NT kernels, which read B as it lies:
 * there the transposed copy would cost more than the product (it is N·K floats moved for 2·M·N·K flops). */
static int nt_applies(const clae_runtime *rt, int trans_a, int trans_b, size_t M)
{
    return trans_b && !trans_a && M <= define_value(rt, "CLAE_GEMM_NT_MAX_M", 16);
}

static clae_status nt_run(clae_runtime *rt, size_t M, size_t N, size_t K, float alpha, clae_buf A, size_t lda,
                          clae_buf B, size_t ldb, float beta, clae_buf C, size_t ldc, const tiled_epilogue *ep)
{
    const size_t tm = M == 1 ? 1 : 8,
                 tn = M == 1 ? define_value(rt, "CLAE_GEMM_NT1_TN", 8) : define_value(rt, "CLAE_GEMM_NT8_TN", 2);
    const char *name = M == 1 ? "gemm_nt_1" : "gemm_nt_8";
    cl_ulong m = M, n = N, kk = K, aoff = A.off, la = lda, bo = B.off, lb = ldb, coff = C.off, lc = ldc;
    cl_int has_bias = ep && ep->bias.n, has_z = ep && ep->Z.n, act = ep ? ep->act : -1;
    cl_mem bias_mem = has_bias ? ep->bias.mem : C.mem, z_mem = has_z ? ep->Z.mem : C.mem;
    cl_ulong bias_off = has_bias ? ep->bias.off : 0, z_off = has_z ? ep->Z.off : 0;
    const size_t sz[] = {sizeof m,    sizeof n,        sizeof kk,       sizeof alpha,    sizeof A.mem, sizeof aoff,
                         sizeof la,   sizeof B.mem,    sizeof bo,       sizeof lb,       sizeof beta,  sizeof C.mem,
                         sizeof coff, sizeof lc,       sizeof bias_mem, sizeof bias_off, sizeof has_bias,
                         sizeof z_mem, sizeof z_off,   sizeof has_z,    sizeof act};
    const void *const pt[] = {&m,    &n,  &kk,       &alpha,    &A.mem,    &aoff,  &la,   &B.mem,  &bo,    &lb,  &beta,
                              &C.mem, &coff, &lc,    &bias_mem, &bias_off, &has_bias, &z_mem, &z_off, &has_z, &act};
    cl_kernel k = with_args(rt, name, sz, pt, 21);
    if (!k) return CLAE_ERR_OPENCL;
    clae_status s = clae_rt_enqueue_2d(rt, k, name, (N + tn - 1) / tn, (M + tm - 1) / tm,
                                       define_value(rt, "CLAE_GEMM_NT_L0", 1), 1);
    return s == CLAE_OK ? s : clae_rt_fail(rt, s);
}

static clae_status tiled_run(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                             clae_buf A, size_t lda, clae_buf B, size_t ldb, float beta, clae_buf C, size_t ldc,
                             const tiled_epilogue *ep)
{
    int done;
    clae_status pro = clae_gemm_prologue(rt, "gemm_tiled", trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc, &done);
    if (pro != CLAE_OK || done) return pro;

    if (nt_applies(rt, trans_a, trans_b, M)) return nt_run(rt, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);

    /* The kernel wants op(B) row-major (a tile's B segment is contiguous), so Bᵀ is first
     * transposed into the planned workspace, or a temporary when none is lent or it is too small. */
    cl_mem bmem = B.mem, tmp = NULL;
    size_t boff = B.off, ldb_k = ldb;
    if (trans_b) {
        size_t bytes = N * K * sizeof(float);
        if (rt->gemm_workspace && rt->gemm_workspace_bytes >= bytes) {
            bmem = rt->gemm_workspace;
        } else {
            cl_int err;
            tmp = clCreateBuffer(rt->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
            if (err != CL_SUCCESS) {
                char why[160];
                snprintf(why, sizeof why, "no device memory for the transposed B (%zu bytes): %s", bytes,
                         clae_cl_error_name(err));
                return clae_gemm_fail(rt, CLAE_ERR_NOMEM, "gemm_tiled", why, trans_a, trans_b, M, N, K, lda, ldb, ldc);
            }
            bmem = tmp;
        }
        clae_status s = transpose(rt, N, K, B.mem, B.off, ldb, bmem);
        if (s != CLAE_OK) {
            if (tmp) clReleaseMemObject(tmp);
            return s;
        }
        boff = 0;
        ldb_k = N;
    }

    size_t tm, tn;
    tile_of(rt, &tm, &tn);
    cl_ulong m = M, n = N, kk = K, aoff = A.off, la = lda, bo = boff, lb = ldb_k, coff = C.off, lc = ldc;
    cl_int ta = trans_a != 0;
    /* Unused epilogue buffers are bound to C, which the kernel then never reads through them. */
    cl_int has_bias = ep && ep->bias.n, has_z = ep && ep->Z.n, act = ep ? ep->act : -1;
    cl_mem bias_mem = has_bias ? ep->bias.mem : C.mem, z_mem = has_z ? ep->Z.mem : C.mem;
    cl_ulong bias_off = has_bias ? ep->bias.off : 0, z_off = has_z ? ep->Z.off : 0;
    const size_t sz[] = {sizeof m,        sizeof n,     sizeof kk,       sizeof alpha, sizeof ta,    sizeof A.mem,
                         sizeof aoff,     sizeof la,    sizeof bmem,     sizeof bo,    sizeof lb,    sizeof beta,
                         sizeof C.mem,    sizeof coff,  sizeof lc,       sizeof bias_mem, sizeof bias_off,
                         sizeof has_bias, sizeof z_mem, sizeof z_off,    sizeof has_z, sizeof act};
    const void *const pt[] = {&m,    &n,  &kk,   &alpha,    &ta,       &A.mem,    &aoff,  &la,
                              &bmem, &bo, &lb,   &beta,     &C.mem,    &coff,     &lc,    &bias_mem,
                              &bias_off, &has_bias, &z_mem, &z_off, &has_z, &act};
    cl_kernel k = with_args(rt, "gemm_tiled", sz, pt, 22);
    clae_status s = CLAE_ERR_OPENCL;
    /* One work-item per tile and work-groups of one: on a CPU each work-item's accumulators are
     * the whole register file, and PoCL spreads the work-groups over its threads. */
    size_t gm = (M + tm - 1) / tm, gn = (N + tn - 1) / tn, l0 = define_value(rt, "CLAE_GEMM_L0", 1),
           l1 = define_value(rt, "CLAE_GEMM_L1", 1);
    if (k) {
        if (define_value(rt, "CLAE_GEMM_M_FIRST", 1))
            s = clae_rt_enqueue_2d(rt, k, "gemm_tiled", gm, gn, l0, l1);
        else
            s = clae_rt_enqueue_2d(rt, k, "gemm_tiled", gn, gm, l0, l1);
    }
    /* OpenCL keeps a released buffer alive until the commands using it have finished. */
    if (tmp) clReleaseMemObject(tmp);
    return s == CLAE_OK ? s : clae_rt_fail(rt, s);
}

static clae_status sgemm_tiled(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                               float alpha, clae_buf A, size_t lda, clae_buf B, size_t ldb, float beta, clae_buf C,
                               size_t ldc)
{
    return tiled_run(rt, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}

/* The dense forward in one launch: the epilogue of cl/gemm.cl adds the bias, keeps Z and applies f. */
static clae_status sgemm_bias_act_tiled(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                                        clae_buf A, size_t lda, clae_buf B, size_t ldb, clae_buf bias,
                                        clae_activation f, clae_buf Z, clae_buf C, size_t ldc)
{
    const tiled_epilogue ep = {bias, Z, (int)f};
    return tiled_run(rt, trans_a, trans_b, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc, &ep);
}

/* Only Bᵀ needs room: its transposed copy, N×K floats. */
static size_t workspace_tiled(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K, size_t lda,
                              size_t ldb, size_t ldc)
{
    (void)lda, (void)ldb, (void)ldc;
    if (rt->is_ref || !trans_b || !M || !N || !K || nt_applies(rt, trans_a, trans_b, M)) return 0;
    return N * K * sizeof(float);
}

const clae_gemm_engine clae_gemm_tiled = {"tiled", sgemm_tiled, workspace_tiled, sgemm_bias_act_tiled};
