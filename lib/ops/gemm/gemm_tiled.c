/* gemm_tiled.c — the "tiled" GEMM engine: clae's own register-tiled kernel (cl/gemm.cl), chosen
 * on CPU OpenCL devices where CLBlast's GPU-shaped kernels reach a fraction of the machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/gemm/gemm.h"
#include "ops/gemm/gemm_tune.h"

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

/* The C tile one work-item owns for tile v (gemm_tune.h): rows tm × columns tn, by the rule of
 * cl/gemm.cl's defaults (16-wide vectors and 8 rows where the device prefers float16, else 8-wide and 6 rows;
 * two vectors per row), each overridable with the same -D names, and the rules of its _half and _tall tiles. */
void clae_gemm_tile(const clae_runtime *rt, int v, size_t *tm, size_t *tn, const char **kernel)
{
    static const char *const names[CLAE_GEMM_TILES] = {"gemm_tiled", "gemm_tiled_half", "gemm_tiled_tall"};
    size_t pref = define_value(rt, "CLAE_VEC_FLOAT", rt->vector_width_float);
    size_t vw = define_value(rt, "CLAE_GEMM_VW", pref >= 16 ? 16 : 8);
    size_t rows = define_value(rt, "CLAE_GEMM_TM", vw >= 16 ? 8 : 6), nv = define_value(rt, "CLAE_GEMM_NV", 2);
    if (v == 1) rows = rows > 1 ? rows / 2 : 1;
    if (v == 2) {
        nv = nv > 1 ? nv / 2 : 1;
        rows = rows + rows / 2;
    }
    if (tm) *tm = rows;
    if (tn) *tn = vw * nv;
    if (kernel) *kernel = names[v >= 0 && v < CLAE_GEMM_TILES ? v : 0];
}

/* Sets every argument of kernel `name` (into *k) from (size, pointer) pairs; the status of a failure
 * (the program's build, on the kernel's first use, included) is recorded in rt. */
static clae_status with_args(clae_runtime *rt, const char *name, const size_t *sizes, const void *const *ptrs,
                             cl_uint n, cl_kernel *k)
{
    clae_status s = clae_rt_kernel_get(rt, name, k, NULL);
    if (s != CLAE_OK) return s;
    for (cl_uint i = 0; i < n; i++) {
        cl_int err = clSetKernelArg(*k, i, sizes[i], ptrs[i]);
        if (err != CL_SUCCESS)
            return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "clSetKernelArg(%s, arg %u) failed: %s", name, i,
                                              clae_cl_error_name(err)));
    }
    return CLAE_OK;
}

/* dst (cols×rows, leading dimension rows) = srcᵀ, src rows×cols with leading dimension lds. */
static clae_status transpose(clae_runtime *rt, size_t rows, size_t cols, cl_mem src, size_t soff, size_t lds,
                             cl_mem dst)
{
    cl_ulong r = rows, c = cols, so = soff, ls = lds, doff = 0, ld = rows;
    const size_t sz[] = {sizeof r, sizeof c, sizeof src, sizeof so, sizeof ls, sizeof dst, sizeof doff, sizeof ld};
    const void *const pt[] = {&r, &c, &src, &so, &ls, &dst, &doff, &ld};
    cl_kernel k = NULL;
    clae_status s = with_args(rt, "gemm_transpose", sz, pt, 8, &k);
    if (s != CLAE_OK) return s;
    s = clae_rt_enqueue_2d(rt, k, "gemm_transpose", (cols + 15) / 16, (rows + 15) / 16, 1, 1);
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
    cl_kernel k = NULL;
    clae_status s = with_args(rt, name, sz, pt, 21, &k);
    if (s != CLAE_OK) return s;
    s = clae_rt_enqueue_2d(rt, k, name, (N + tn - 1) / tn, (M + tm - 1) / tm, define_value(rt, "CLAE_GEMM_NT_L0", 1), 1);
    return s == CLAE_OK ? s : clae_rt_fail(rt, s);
}

/* One call of the tiled kernels after any transposition: op(A) M×K, B row-major K×N in (bmem, boff, ldb). */
typedef struct tiled_args {
    size_t M, N, K;
    float alpha;
    int trans_a;
    clae_buf A;
    size_t lda;
    cl_mem bmem;
    size_t boff, ldb;
    float beta;
    cl_mem cmem;
    size_t coff, ldc;
    const tiled_epilogue *ep;
} tiled_args;

static clae_status launch_tiled(clae_runtime *rt, int v, const tiled_args *g)
{
    size_t tm, tn;
    const char *name;
    clae_gemm_tile(rt, v, &tm, &tn, &name);
    const tiled_epilogue *ep = g->ep;
    cl_ulong m = g->M, n = g->N, kk = g->K, aoff = g->A.off, la = g->lda, bo = g->boff, lb = g->ldb, coff = g->coff,
             lc = g->ldc;
    cl_int ta = g->trans_a != 0;
    cl_mem amem = g->A.mem, bmem = g->bmem, cmem = g->cmem;
    float alpha = g->alpha, beta = g->beta;
    /* Unused epilogue buffers are bound to C, which the kernel then never reads through them. */
    cl_int has_bias = ep && ep->bias.n, has_z = ep && ep->Z.n, act = ep ? ep->act : -1;
    cl_mem bias_mem = has_bias ? ep->bias.mem : cmem, z_mem = has_z ? ep->Z.mem : cmem;
    cl_ulong bias_off = has_bias ? ep->bias.off : 0, z_off = has_z ? ep->Z.off : 0;
    const size_t sz[] = {sizeof m,        sizeof n,     sizeof kk,       sizeof alpha, sizeof ta,    sizeof amem,
                         sizeof aoff,     sizeof la,    sizeof bmem,     sizeof bo,    sizeof lb,    sizeof beta,
                         sizeof cmem,     sizeof coff,  sizeof lc,       sizeof bias_mem, sizeof bias_off,
                         sizeof has_bias, sizeof z_mem, sizeof z_off,    sizeof has_z, sizeof act};
    const void *const pt[] = {&m,    &n,  &kk,   &alpha,    &ta,       &amem,     &aoff,  &la,
                              &bmem, &bo, &lb,   &beta,     &cmem,     &coff,     &lc,    &bias_mem,
                              &bias_off, &has_bias, &z_mem, &z_off, &has_z, &act};
    cl_kernel k = NULL;
    clae_status s = with_args(rt, name, sz, pt, 22, &k);
    if (s != CLAE_OK) return s;
    /* One work-item per tile and work-groups of one: on a CPU each work-item's accumulators are
     * the whole register file, and PoCL spreads the work-groups over its threads. */
    size_t gm = (g->M + tm - 1) / tm, gn = (g->N + tn - 1) / tn, l0 = define_value(rt, "CLAE_GEMM_L0", 1),
           l1 = define_value(rt, "CLAE_GEMM_L1", 1);
    if (define_value(rt, "CLAE_GEMM_M_FIRST", 1)) return clae_rt_enqueue_2d(rt, k, name, gm, gn, l0, l1);
    return clae_rt_enqueue_2d(rt, k, name, gn, gm, l0, l1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The tile for this call: the table's choice, or a search now. The search times each tile on the call's own
 * operands into a scratch C (plain product, beta 0), round by round so a burst of load on the shared machine
 * charges every tile alike: one untimed round (PoCL compiles a kernel at its first launch), then the best of
 * three. Any failure falls back to the device's tile: tuning is never worth an error. */
static int pick_tile(clae_runtime *rt, const tiled_args *g)
{
    clae_gemm_tune *t = clae_gemm_tune_of(rt);
    if (!t || t->off) return 0;
    if (t->forced >= 0) return t->forced;
    const clae_gemm_tile_choice *known = clae_gemm_tune_find(t, g->trans_a, g->M, g->N, g->K);
    if (known) return known->variant;
    if (t->count >= CLAE_GEMM_TUNE_MAX || t->no_search) return 0; /* a full table; a caller's queue */
    clae_gemm_tile_choice c = {.trans_a = g->trans_a != 0, .M = g->M, .N = g->N, .K = g->K};
    cl_int err;
    cl_mem scratch = clCreateBuffer(rt->ctx, CL_MEM_READ_WRITE, g->M * g->N * sizeof(float), NULL, &err);
    if (err != CL_SUCCESS) return 0;
    char saved[CLAE_ERROR_MAX];
    snprintf(saved, sizeof saved, "%s", clae_last_error());
    tiled_args trial = *g;
    trial.beta = 0.0f;
    trial.cmem = scratch;
    trial.coff = 0;
    trial.ldc = g->N;
    trial.ep = NULL;
    int ok = clFinish(rt->queue) == CL_SUCCESS;
    for (int v = 0; v < CLAE_GEMM_TILES; v++) c.ns[v] = UINT64_MAX;
    for (int round = 0; ok && round < 4; round++)
        for (int v = 0; ok && v < CLAE_GEMM_TILES; v++) {
            uint64_t t0 = now_ns();
            ok = launch_tiled(rt, v, &trial) == CLAE_OK && clFinish(rt->queue) == CL_SUCCESS;
            uint64_t dt = now_ns() - t0;
            if (round > 0 && dt < c.ns[v]) c.ns[v] = dt;
        }
    clReleaseMemObject(scratch);
    clae_fail(CLAE_OK, "%s", saved);
    if (!ok) return 0;
    for (int v = 1; v < CLAE_GEMM_TILES; v++)
        if (c.ns[v] < c.ns[c.variant]) c.variant = v;
    clae_gemm_tune_record(rt, t, &c);
    return c.variant;
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

    tiled_args g = {M, N, K, alpha, trans_a, A, lda, bmem, boff, ldb_k, beta, C.mem, C.off, ldc, ep};
    clae_status s = launch_tiled(rt, pick_tile(rt, &g), &g);
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

/* NT kernel, or transposed B and a tile: the one the table holds, with the search's times, or the device's. */
static void describe_tiled(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K, char *buf,
                           size_t cap)
{
    if (nt_applies(rt, trans_a, trans_b, M)) {
        snprintf(buf, cap, "%s, B read as it lies (no transposed copy)", M == 1 ? "gemm_nt_1" : "gemm_nt_8");
        return;
    }
    const clae_gemm_tune *t = clae_gemm_tune_of(rt);
    const clae_gemm_tile_choice *c = t ? clae_gemm_tune_find(t, trans_a, M, N, K) : NULL;
    const char *pre = trans_b ? "Bᵀ copied, then " : "";
    size_t tm, tn;
    if (!t || t->off || t->forced >= 0 || !c) {
        int v = t && t->forced >= 0 ? t->forced : 0;
        clae_gemm_tile(rt, v, &tm, &tn, NULL);
        snprintf(buf, cap, "%stile %zux%zu (%s)", pre, tm, tn,
                 !t || t->off ? "CLAE_GEMM_TUNE=off" : t->forced >= 0 ? "forced" : "not searched yet: searched at its first run");
        return;
    }
    size_t len = 0;
    clae_gemm_tile(rt, c->variant, &tm, &tn, NULL);
    int w = snprintf(buf, cap, "%stile %zux%zu (%s:", pre, tm, tn, c->loaded ? "from the cache" : "searched");
    for (int v = 0; w >= 0 && (size_t)w < cap - len && v < CLAE_GEMM_TILES; v++) {
        len += (size_t)w;
        clae_gemm_tile(rt, v, &tm, &tn, NULL);
        w = snprintf(buf + len, cap - len, " %zux%zu %.3f ms%s", tm, tn, (double)c->ns[v] / 1e6,
                     v + 1 < CLAE_GEMM_TILES ? "," : ")");
    }
}

void clae_gemm_tiled_force(clae_runtime *rt, int v)
{
    clae_gemm_tune *t = clae_gemm_tune_of(rt);
    if (t) t->forced = v >= 0 && v < CLAE_GEMM_TILES ? v : -1;
}

const clae_gemm_engine clae_gemm_tiled = {"tiled", sgemm_tiled, workspace_tiled, sgemm_bias_act_tiled, describe_tiled};
