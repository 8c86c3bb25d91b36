/* ops_conv_cl.c — the OpenCL bodies of the image ops (lib/ops/ops_conv.h): convolution as im2col + GEMM in the
 * header's order, pooling, upsampling and channel ops, launching cl/conv.cl on the in-order queue without waiting. */
#include "ops/gemm/gemm.h"
#include "ops/ops_cl_util.h"
#include "ops/ops_conv.h"

/* ---- convolution: im2col + GEMM (cl/conv.cl, the GEMM engine) ------------------------------ */

static clae_status im2col(clae_runtime *rt, const clae_conv_geom *g, size_t n, clae_buf X, clae_buf col)
{
    karg a[] = {ARG_BUF(X),    ARG_BUF(col),  ARG_U64(g->C), ARG_U64(g->H),  ARG_U64(g->W),     ARG_U64(g->K),
                ARG_U64(g->S), ARG_U64(g->P), ARG_U64(g->Ho), ARG_U64(g->Wo), ARG_U64(n * g->Ho)};
    return launch(rt, "conv_im2col", a, NARGS(a), g->C * g->K * g->K, n * g->Ho, 1);
}

static clae_status col2im(clae_runtime *rt, const clae_conv_geom *g, size_t n, clae_buf col, clae_buf dX)
{
    const size_t planes = n * g->C;
    karg a[] = {ARG_BUF(col),  ARG_BUF(dX),   ARG_U64(g->C),  ARG_U64(g->H),  ARG_U64(g->W), ARG_U64(g->K),
                ARG_U64(g->S), ARG_U64(g->P), ARG_U64(g->Ho), ARG_U64(g->Wo), ARG_U64(planes)};
    return launch(rt, "conv_col2im", a, NARGS(a), g->H * g->W, planes, 1);
}

static clae_status conv_forward(clae_runtime *rt, const clae_conv_geom *g, size_t n, clae_buf X, clae_buf W, clae_buf b,
                                clae_buf Y, clae_buf col, clae_buf tmp)
{
    const size_t CKK = g->C * g->K * g->K, HoWo = g->Ho * g->Wo, pix = n * HoWo;
    clae_status s = im2col(rt, g, n, X, col);
    if (s != CLAE_OK) return s;
    s = rt->gemm->sgemm(rt, 0, 1, pix, g->F, CKK, 1.0f, col, CKK, W, CKK, 0.0f, tmp, g->F);
    if (s != CLAE_OK) return s;
    /* Without a bias the kernel reads nothing from b; Y stands in so no argument is a null buffer. */
    clae_buf bias = b.n ? b : Y;
    karg a[] = {ARG_BUF(tmp), ARG_BUF(Y), ARG_BUF(bias), ARG_I32(b.n != 0), ARG_U64(g->F), ARG_U64(HoWo),
                ARG_U64(n * g->F)};
    return launch(rt, "conv_rows_to_nchw", a, NARGS(a), HoWo, n * g->F, 1);
}

static clae_status conv_backward(clae_runtime *rt, const clae_conv_geom *g, size_t n, clae_buf X, clae_buf W,
                                 clae_buf dY, clae_buf dW, clae_buf db, clae_buf dX, clae_buf col, clae_buf tmp)
{
    const size_t CKK = g->C * g->K * g->K, HoWo = g->Ho * g->Wo, pix = n * HoWo;
    karg a[] = {ARG_BUF(dY), ARG_BUF(tmp), ARG_U64(g->F), ARG_U64(HoWo), ARG_U64(n * g->F)};
    clae_status s = launch(rt, "conv_nchw_to_rows", a, NARGS(a), HoWo, n * g->F, 1);
    if (s != CLAE_OK) return s;
    if (dW.n) {
        s = im2col(rt, g, n, X, col);
        if (s != CLAE_OK) return s;
        s = rt->gemm->sgemm(rt, 1, 0, g->F, CKK, pix, 1.0f, tmp, g->F, col, CKK, 0.0f, dW, CKK);
        if (s != CLAE_OK) return s;
    }
    if (db.n) {
        /* The channel sums of dY: the same terms in the same order as colsum(tmp), read contiguously. */
        s = clae_conv_ops_cl.channel_sum(rt, n, g->F, HoWo, dY, db);
        if (s != CLAE_OK) return s;
    }
    if (dX.n) {
        /* col is free again (the dW product above has been queued before it on the in-order queue). */
        s = rt->gemm->sgemm(rt, 0, 0, pix, CKK, g->F, 1.0f, tmp, g->F, W, CKK, 0.0f, col, CKK);
        if (s != CLAE_OK) return s;
        s = col2im(rt, g, n, col, dX);
    }
    return s;
}

/* ---- pooling and upsampling (cl/conv.cl) ---------------------------------------------------- */

static clae_status maxpool_forward(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf X,
                                   clae_buf Y, clae_buf idx)
{
    const size_t rows = planes * (H / K), Wo = W / K;
    karg a[] = {ARG_BUF(X), ARG_BUF(Y), ARG_BUF(idx), ARG_U64(H), ARG_U64(W), ARG_U64(K), ARG_U64(Wo), ARG_U64(rows)};
    return launch(rt, "maxpool_fwd", a, NARGS(a), Wo, rows, 1);
}

static clae_status pool_spread(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf small,
                               clae_buf idx, clae_buf big)
{
    /* Past the last whole window nothing is written: those rows and columns are 0. */
    if (H % K || W % K) {
        clae_status z = clae_buf_zero(rt, (clae_buf){.mem = big.mem, .off = big.off, .n = planes * H * W});
        if (z != CLAE_OK) return z;
    }
    karg a[] = {ARG_BUF(small), ARG_BUF(idx), ARG_BUF(big), ARG_U32(H), ARG_U32(W), ARG_U32(K), ARG_U32(planes * (H / K))};
    return launch(rt, "pool_spread", a, NARGS(a), W / K, planes * (H / K), 1);
}

static clae_status pool_pick(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf big, clae_buf idx,
                             clae_buf small)
{
    const size_t ns = (H / K) * (W / K);
    karg a[] = {ARG_BUF(big), ARG_BUF(idx), ARG_BUF(small), ARG_U64(H * W), ARG_U64(ns), ARG_U64(planes)};
    return launch(rt, "pool_pick", a, NARGS(a), ns, planes, 1);
}

static clae_status upsample_forward(clae_runtime *rt, size_t planes, size_t h, size_t w, size_t K, clae_buf small,
                                    clae_buf big)
{
    const size_t rows = planes * h * K;
    karg a[] = {ARG_BUF(small), ARG_BUF(big), ARG_U64(h), ARG_U64(w), ARG_U64(K), ARG_U64(rows)};
    return launch(rt, "upsample_fwd", a, NARGS(a), w * K, rows, 1);
}

static clae_status upsample_backward(clae_runtime *rt, size_t planes, size_t h, size_t w, size_t K, clae_buf big,
                                     clae_buf small)
{
    karg a[] = {ARG_BUF(big), ARG_BUF(small), ARG_U64(w), ARG_U64(K), ARG_U64(planes * h)};
    return launch(rt, "upsample_bwd", a, NARGS(a), w, planes * h, 1);
}

/* ---- per-channel bias and its gradient (cl/conv.cl) ---------------------------------------- */

static clae_status channel_bias_add(clae_runtime *rt, size_t n, size_t C, size_t HW, clae_buf Y, clae_buf b)
{
    karg a[] = {ARG_BUF(Y), ARG_BUF(b), ARG_U64(C), ARG_U64(HW), ARG_U64(n * C)};
    return launch(rt, "channel_bias_add", a, NARGS(a), HW, n * C, 1);
}

static clae_status channel_sum(clae_runtime *rt, size_t n, size_t C, size_t HW, clae_buf G, clae_buf out)
{
    karg a[] = {ARG_BUF(G), ARG_BUF(out), ARG_U64(n), ARG_U64(C), ARG_U64(HW)};
    return launch(rt, "channel_sum", a, NARGS(a), C, 0, 0);
}

const clae_conv_ops clae_conv_ops_cl = {
    .conv_forward = conv_forward,
    .conv_backward = conv_backward,
    .maxpool_forward = maxpool_forward,
    .pool_spread = pool_spread,
    .pool_pick = pool_pick,
    .upsample_forward = upsample_forward,
    .upsample_backward = upsample_backward,
    .channel_bias_add = channel_bias_add,
    .channel_sum = channel_sum,
};
