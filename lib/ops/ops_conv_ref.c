/* ops_conv_ref.c — the reference twins of the image ops: plain loops over the formulas of lib/ops/ops_conv.h,
 * accumulating in double, that every OpenCL kernel is checked against. */
#include <string.h>

#include "ops/ops_conv.h"

/* X[n, c, y, x] of an NCHW image, 0 outside it (the zero padding). */
static double pixel(const float *X, const clae_conv_geom *g, size_t n, size_t c, long y, long x)
{
    if (y < 0 || x < 0 || y >= (long)g->H || x >= (long)g->W) return 0.0;
    return X[((n * g->C + c) * g->H + (size_t)y) * g->W + (size_t)x];
}

/* Y[n,f,oy,ox] = b[f] + Σ_{c,u,v} W[f,(c·K+u)·K+v] · X[n, c, oy·S−P+u, ox·S−P+v]. */
static clae_status conv_forward(clae_runtime *rt, const clae_conv_geom *g, size_t n, clae_buf X, clae_buf W, clae_buf b,
                                clae_buf Y, clae_buf col, clae_buf tmp)
{
    (void)rt, (void)col, (void)tmp;
    const size_t K = g->K;
    for (size_t s = 0; s < n; s++)
        for (size_t f = 0; f < g->F; f++)
            for (size_t oy = 0; oy < g->Ho; oy++)
                for (size_t ox = 0; ox < g->Wo; ox++) {
                    double acc = b.n ? b.host[f] : 0.0;
                    for (size_t c = 0; c < g->C; c++)
                        for (size_t u = 0; u < K; u++)
                            for (size_t v = 0; v < K; v++)
                                acc += (double)W.host[f * g->C * K * K + (c * K + u) * K + v] *
                                       pixel(X.host, g, s, c, (long)(oy * g->S + u) - (long)g->P,
                                             (long)(ox * g->S + v) - (long)g->P);
                    Y.host[((s * g->F + f) * g->Ho + oy) * g->Wo + ox] = (float)acc;
                }
    return CLAE_OK;
}

/* dY[n,f,oy,ox]. */
static double grad_at(const float *dY, const clae_conv_geom *g, size_t n, size_t f, size_t oy, size_t ox)
{
    return dY[((n * g->F + f) * g->Ho + oy) * g->Wo + ox];
}

static clae_status conv_backward(clae_runtime *rt, const clae_conv_geom *g, size_t n, clae_buf X, clae_buf W,
                                 clae_buf dY, clae_buf dW, clae_buf db, clae_buf dX, clae_buf col, clae_buf tmp)
{
    (void)rt, (void)col, (void)tmp;
    const size_t K = g->K;
    /* dW[f,(c·K+u)·K+v] = Σ_{n,oy,ox} dY[n,f,oy,ox] · X[n, c, oy·S−P+u, ox·S−P+v] */
    for (size_t f = 0; dW.n && f < g->F; f++)
        for (size_t c = 0; c < g->C; c++)
            for (size_t u = 0; u < K; u++)
                for (size_t v = 0; v < K; v++) {
                    double acc = 0.0;
                    for (size_t s = 0; s < n; s++)
                        for (size_t oy = 0; oy < g->Ho; oy++)
                            for (size_t ox = 0; ox < g->Wo; ox++)
                                acc += grad_at(dY.host, g, s, f, oy, ox) *
                                       pixel(X.host, g, s, c, (long)(oy * g->S + u) - (long)g->P,
                                             (long)(ox * g->S + v) - (long)g->P);
                    dW.host[f * g->C * K * K + (c * K + u) * K + v] = (float)acc;
                }
    /* db[f] = Σ_{n,oy,ox} dY[n,f,oy,ox] */
    for (size_t f = 0; db.n && f < g->F; f++) {
        double acc = 0.0;
        for (size_t s = 0; s < n; s++)
            for (size_t p = 0; p < g->Ho * g->Wo; p++) acc += dY.host[(s * g->F + f) * g->Ho * g->Wo + p];
        db.host[f] = (float)acc;
    }
    /* dX[n,c,y,x] = Σ over (f,u,v) whose output pixel oy = (y + P − u)/S, ox = (x + P − v)/S is whole and
     * inside, of W[f,(c·K+u)·K+v] · dY[n,f,oy,ox] */
    for (size_t s = 0; dX.n && s < n; s++)
        for (size_t c = 0; c < g->C; c++)
            for (size_t y = 0; y < g->H; y++)
                for (size_t x = 0; x < g->W; x++) {
                    double acc = 0.0;
                    for (size_t f = 0; f < g->F; f++)
                        for (size_t u = 0; u < K; u++)
                            for (size_t v = 0; v < K; v++) {
                                long ty = (long)(y + g->P) - (long)u, tx = (long)(x + g->P) - (long)v;
                                if (ty < 0 || tx < 0 || ty % (long)g->S || tx % (long)g->S) continue;
                                size_t oy = (size_t)ty / g->S, ox = (size_t)tx / g->S;
                                if (oy >= g->Ho || ox >= g->Wo) continue;
                                acc += (double)W.host[f * g->C * K * K + (c * K + u) * K + v] *
                                       grad_at(dY.host, g, s, f, oy, ox);
                            }
                    dX.host[((s * g->C + c) * g->H + y) * g->W + x] = (float)acc;
                }
    return CLAE_OK;
}

/* Y = the window's maximum, idx = y·W + x of its first maximum in row-major order. */
static clae_status maxpool_forward(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf X, clae_buf Y,
                                   clae_buf idx)
{
    (void)rt;
    const size_t Ho = H / K, Wo = W / K;
    for (size_t p = 0; p < planes; p++)
        for (size_t oy = 0; oy < Ho; oy++)
            for (size_t ox = 0; ox < Wo; ox++) {
                size_t best = oy * K * W + ox * K;
                for (size_t u = 0; u < K; u++)
                    for (size_t v = 0; v < K; v++) {
                        size_t at = (oy * K + u) * W + ox * K + v;
                        if (X.host[p * H * W + at] > X.host[p * H * W + best]) best = at;
                    }
                Y.host[(p * Ho + oy) * Wo + ox] = X.host[p * H * W + best];
                idx.host[(p * Ho + oy) * Wo + ox] = (float)best;
            }
    return CLAE_OK;
}

static clae_status pool_spread(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf small, clae_buf idx,
                               clae_buf big)
{
    (void)rt;
    const size_t Ho = H / K, Wo = W / K;
    for (size_t p = 0; p < planes; p++)
        for (size_t y = 0; y < H; y++)
            for (size_t x = 0; x < W; x++) {
                size_t oy = y / K, ox = x / K;
                float v = 0.0f;
                if (oy < Ho && ox < Wo && idx.host[(p * Ho + oy) * Wo + ox] == (float)(y * W + x))
                    v = small.host[(p * Ho + oy) * Wo + ox];
                big.host[(p * H + y) * W + x] = v;
            }
    return CLAE_OK;
}

static clae_status pool_pick(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf big, clae_buf idx,
                             clae_buf small)
{
    (void)rt;
    const size_t ns = (H / K) * (W / K);
    for (size_t p = 0; p < planes; p++)
        for (size_t i = 0; i < ns; i++) small.host[p * ns + i] = big.host[p * H * W + (size_t)idx.host[p * ns + i]];
    return CLAE_OK;
}

static clae_status upsample_forward(clae_runtime *rt, size_t planes, size_t h, size_t w, size_t K, clae_buf small,
                                    clae_buf big)
{
    (void)rt;
    const size_t H = h * K, W = w * K;
    for (size_t p = 0; p < planes; p++)
        for (size_t y = 0; y < H; y++)
            for (size_t x = 0; x < W; x++) big.host[(p * H + y) * W + x] = small.host[(p * h + y / K) * w + x / K];
    return CLAE_OK;
}

static clae_status upsample_backward(clae_runtime *rt, size_t planes, size_t h, size_t w, size_t K, clae_buf big,
                                     clae_buf small)
{
    (void)rt;
    const size_t W = w * K;
    for (size_t p = 0; p < planes; p++)
        for (size_t oy = 0; oy < h; oy++)
            for (size_t ox = 0; ox < w; ox++) {
                double acc = 0.0;
                for (size_t u = 0; u < K; u++)
                    for (size_t v = 0; v < K; v++) acc += big.host[(p * h * K + oy * K + u) * W + ox * K + v];
                small.host[(p * h + oy) * w + ox] = (float)acc;
            }
    return CLAE_OK;
}

static clae_status channel_bias_add(clae_runtime *rt, size_t n, size_t C, size_t HW, clae_buf Y, clae_buf b)
{
    (void)rt;
    for (size_t s = 0; s < n; s++)
        for (size_t c = 0; c < C; c++)
            for (size_t i = 0; i < HW; i++) Y.host[(s * C + c) * HW + i] += b.host[c];
    return CLAE_OK;
}

static clae_status channel_sum(clae_runtime *rt, size_t n, size_t C, size_t HW, clae_buf G, clae_buf out)
{
    (void)rt;
    for (size_t c = 0; c < C; c++) {
        double acc = 0.0;
        for (size_t s = 0; s < n; s++)
            for (size_t i = 0; i < HW; i++) acc += G.host[(s * C + c) * HW + i];
        out.host[c] = (float)acc;
    }
    return CLAE_OK;
}

const clae_conv_ops clae_conv_ops_ref = {
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
