/* ops_conv.c — the checking entry of every image op (lib/ops/ops_conv.h): arguments checked once for both paths,
 * then the reference or OpenCL body; in a dry run the buffers and the GEMM workspace the OpenCL path would take. */
#include "ops/gemm/gemm.h"
#include "ops/ops_check.h"
#include "ops/ops_conv.h"


static const clae_conv_ops *table(const clae_runtime *rt) { return rt->is_ref ? &clae_conv_ops_ref : &clae_conv_ops_cl; }

/* As lib/ops/ops.c's: a buffer must hold n floats in its path's memory; a dry run records it. */

clae_status clae_conv_geom_make(size_t C, size_t H, size_t W, size_t F, size_t K, size_t S, size_t P, clae_conv_geom *g)
{
    if (!C || !H || !W || !F || !K || !S)
        return clae_fail(CLAE_ERR_ARG, "conv: channels, sizes, filters, kernel and stride must be positive");
    if (P >= K) return clae_fail(CLAE_ERR_ARG, "conv: padding %zu must be smaller than the kernel %zu", P, K);
    if (H + 2 * P < K || W + 2 * P < K)
        return clae_fail(CLAE_ERR_ARG, "conv: a %zux%zu kernel does not fit a %zux%zu image padded by %zu", K, K, H, W, P);
    *g = (clae_conv_geom){C, H, W, F, K, S, P, (H + 2 * P - K) / S + 1, (W + 2 * P - K) / S + 1};
    return CLAE_OK;
}

void clae_op_conv_scratch(const clae_runtime *rt, const clae_conv_geom *g, size_t n, size_t *col, size_t *tmp)
{
    size_t pix = n * g->Ho * g->Wo;
    *col = rt->is_ref ? 0 : pix * g->C * g->K * g->K;
    *tmp = rt->is_ref ? 0 : pix * g->F;
}

static clae_status check_geom(clae_runtime *rt, const char *op, const clae_conv_geom *g)
{
    clae_conv_geom want;
    if (!g || clae_conv_geom_make(g->C, g->H, g->W, g->F, g->K, g->S, g->P, &want) != CLAE_OK || want.Ho != g->Ho ||
        want.Wo != g->Wo)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): not a valid convolution geometry", op, clae_op_path(rt)));
    return CLAE_OK;
}

/* A dry run on OpenCL also reports the workspace the engine would want for the op's GEMMs. */
static void trace_gemm(clae_runtime *rt, int ta, int tb, size_t M, size_t N, size_t K, size_t lda, size_t ldb, size_t ldc)
{
    if (rt->trace && !rt->is_ref) rt->trace->workspace(rt->trace, rt->gemm->workspace_bytes(rt, ta, tb, M, N, K, lda, ldb, ldc));
}

clae_status clae_op_conv_forward(clae_runtime *rt, const clae_conv_geom *g, size_t n, clae_buf X, clae_buf W, clae_buf b,
                                 clae_buf Y, clae_buf col, clae_buf tmp)
{
    TRY(check_geom(rt, "conv_forward", g));
    const size_t CKK = g->C * g->K * g->K, pix = n * g->Ho * g->Wo;
    size_t ncol, ntmp;
    clae_op_conv_scratch(rt, g, n, &ncol, &ntmp);
    NEED("conv_forward", X, n * g->C * g->H * g->W);
    NEED("conv_forward", W, g->F * CKK);
    if (b.n) NEED("conv_forward", b, g->F);
    NEED("conv_forward", Y, pix * g->F);
    NEED("conv_forward", col, ncol);
    NEED("conv_forward", tmp, ntmp);
    if (rt->trace) {
        trace_gemm(rt, 0, 1, pix, g->F, CKK, CKK, CKK, g->F);
        return CLAE_OK;
    }
    return table(rt)->conv_forward(rt, g, n, X, W, b, Y, col, tmp);
}

clae_status clae_op_conv_backward(clae_runtime *rt, const clae_conv_geom *g, size_t n, clae_buf X, clae_buf W,
                                  clae_buf dY, clae_buf dW, clae_buf db, clae_buf dX, clae_buf col, clae_buf tmp)
{
    TRY(check_geom(rt, "conv_backward", g));
    const size_t CKK = g->C * g->K * g->K, pix = n * g->Ho * g->Wo, in = n * g->C * g->H * g->W;
    size_t ncol, ntmp;
    clae_op_conv_scratch(rt, g, n, &ncol, &ntmp);
    NEED("conv_backward", dY, pix * g->F);
    if (dW.n) {
        NEED("conv_backward", X, in);
        NEED("conv_backward", dW, g->F * CKK);
    }
    if (db.n) NEED("conv_backward", db, g->F);
    if (dX.n) {
        NEED("conv_backward", W, g->F * CKK);
        NEED("conv_backward", dX, in);
    }
    NEED("conv_backward", tmp, ntmp);
    if (dW.n || dX.n) NEED("conv_backward", col, ncol);
    if (rt->trace) {
        if (dW.n) trace_gemm(rt, 1, 0, g->F, CKK, pix, g->F, CKK, CKK);
        if (dX.n) trace_gemm(rt, 0, 0, pix, CKK, g->F, g->F, CKK, CKK);
        return CLAE_OK;
    }
    return table(rt)->conv_backward(rt, g, n, X, W, dY, dW, db, dX, col, tmp);
}

/* The switches are plane indices stored as floats, exact below 2^24; the kernels count rows in 32 bits. */
static clae_status check_pool(clae_runtime *rt, const char *op, size_t planes, size_t H, size_t W, size_t K)
{
    if (!K || H < K || W < K)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): a %zux%zu window does not fit a %zux%zu plane", op,
                                          clae_op_path(rt), K, K, H, W));
    if (H * W > (1u << 24) || planes * H > 0xffffffffu)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): %zu planes of %zux%zu are too large", op, clae_op_path(rt),
                                          planes, H, W));
    return CLAE_OK;
}

clae_status clae_op_maxpool_forward(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf X,
                                    clae_buf Y, clae_buf idx)
{
    TRY(check_pool(rt, "maxpool_forward", planes, H, W, K));
    const size_t small = planes * (H / K) * (W / K);
    NEED("maxpool_forward", X, planes * H * W);
    NEED("maxpool_forward", Y, small);
    NEED("maxpool_forward", idx, small);
    return rt->trace ? CLAE_OK : table(rt)->maxpool_forward(rt, planes, H, W, K, X, Y, idx);
}

clae_status clae_op_pool_spread(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf small,
                                clae_buf idx, clae_buf big)
{
    TRY(check_pool(rt, "pool_spread", planes, H, W, K));
    const size_t ns = planes * (H / K) * (W / K);
    NEED("pool_spread", small, ns);
    NEED("pool_spread", idx, ns);
    NEED("pool_spread", big, planes * H * W);
    return rt->trace ? CLAE_OK : table(rt)->pool_spread(rt, planes, H, W, K, small, idx, big);
}

clae_status clae_op_pool_pick(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf big, clae_buf idx,
                              clae_buf small)
{
    TRY(check_pool(rt, "pool_pick", planes, H, W, K));
    const size_t ns = planes * (H / K) * (W / K);
    NEED("pool_pick", big, planes * H * W);
    NEED("pool_pick", idx, ns);
    NEED("pool_pick", small, ns);
    return rt->trace ? CLAE_OK : table(rt)->pool_pick(rt, planes, H, W, K, big, idx, small);
}

static clae_status check_up(clae_runtime *rt, const char *op, size_t h, size_t w, size_t K)
{
    if (!K || !h || !w)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): factor and sizes must be positive", op, clae_op_path(rt)));
    return CLAE_OK;
}

clae_status clae_op_upsample_forward(clae_runtime *rt, size_t planes, size_t h, size_t w, size_t K, clae_buf small,
                                     clae_buf big)
{
    TRY(check_up(rt, "upsample_forward", h, w, K));
    NEED("upsample_forward", small, planes * h * w);
    NEED("upsample_forward", big, planes * h * w * K * K);
    return rt->trace ? CLAE_OK : table(rt)->upsample_forward(rt, planes, h, w, K, small, big);
}

clae_status clae_op_upsample_backward(clae_runtime *rt, size_t planes, size_t h, size_t w, size_t K, clae_buf big,
                                      clae_buf small)
{
    TRY(check_up(rt, "upsample_backward", h, w, K));
    NEED("upsample_backward", big, planes * h * w * K * K);
    NEED("upsample_backward", small, planes * h * w);
    return rt->trace ? CLAE_OK : table(rt)->upsample_backward(rt, planes, h, w, K, big, small);
}

clae_status clae_op_channel_bias_add(clae_runtime *rt, size_t n, size_t C, size_t HW, clae_buf Y, clae_buf b)
{
    NEED("channel_bias_add", Y, n * C * HW);
    NEED("channel_bias_add", b, C);
    return rt->trace ? CLAE_OK : table(rt)->channel_bias_add(rt, n, C, HW, Y, b);
}

clae_status clae_op_channel_sum(clae_runtime *rt, size_t n, size_t C, size_t HW, clae_buf G, clae_buf out)
{
    NEED("channel_sum", G, n * C * HW);
    NEED("channel_sum", out, C);
    return rt->trace ? CLAE_OK : table(rt)->channel_sum(rt, n, C, HW, G, out);
}
