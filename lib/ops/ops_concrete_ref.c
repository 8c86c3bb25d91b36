/* ops_concrete_ref.c — the reference twins of the selector ops (lib/ops/ops_concrete.h): the Gumbel-softmax, its
 * backward pass and the hard read-out, as plain loops accumulating in double. */
#include <math.h>

#include "ops/mathf.h"
#include "ops/ops_concrete.h"

static clae_status concrete_softmax(clae_runtime *rt, size_t K, size_t D, clae_buf LAMBDA, float T, uint64_t seed,
                                    uint32_t step, int gumbel, clae_buf M)
{
    (void)rt;
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (size_t k = 0; k < K; k++) {
        float *y = M.host + k * D; /* Y first, then M in place */
        float top = -INFINITY;
        for (size_t d = 0; d < D; d++) {
            float g = 0.0f;
            if (gumbel) {
                uint64_t e = (uint64_t)k * D + d;
                const uint32_t ctr[4] = {(uint32_t)e, (uint32_t)(e >> 32), step, CLAE_STREAM_GUMBEL};
                uint32_t w[4];
                clae_philox4x32_10(ctr, key, w);
                g = -clae_logf(-clae_logf(clae_u01_open(w[0])));
            }
            y[d] = (LAMBDA.host[k * D + d] + g) / T;
            if (y[d] > top) top = y[d];
        }
        double sum = 0.0;
        for (size_t d = 0; d < D; d++) sum += exp((double)y[d] - top);
        for (size_t d = 0; d < D; d++) y[d] = (float)(exp((double)y[d] - top) / sum);
    }
    return CLAE_OK;
}

static clae_status concrete_backward(clae_runtime *rt, size_t K, size_t D, float T, clae_buf M, clae_buf Gm,
                                     clae_buf dLAMBDA)
{
    (void)rt;
    for (size_t k = 0; k < K; k++) {
        double c = 0.0;
        for (size_t d = 0; d < D; d++) c += (double)M.host[k * D + d] * Gm.host[k * D + d];
        for (size_t d = 0; d < D; d++)
            dLAMBDA.host[k * D + d] = (float)((double)M.host[k * D + d] * ((double)Gm.host[k * D + d] - c) / T);
    }
    return CLAE_OK;
}

static clae_status concrete_argmax(clae_runtime *rt, size_t K, size_t D, clae_buf LAMBDA, clae_buf idx)
{
    (void)rt;
    for (size_t k = 0; k < K; k++) {
        size_t best = 0;
        for (size_t d = 1; d < D; d++)
            if (LAMBDA.host[k * D + d] > LAMBDA.host[k * D + best]) best = d;
        idx.host[k] = (float)best;
    }
    return CLAE_OK;
}

static clae_status gather_cols(clae_runtime *rt, size_t rows, size_t D, size_t K, clae_buf X, clae_buf idx, clae_buf S)
{
    (void)rt;
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < K; k++) S.host[r * K + k] = X.host[r * D + (size_t)idx.host[k]];
    return CLAE_OK;
}

const clae_concrete_ops clae_concrete_ops_ref = {
    .concrete_softmax = concrete_softmax,
    .concrete_backward = concrete_backward,
    .concrete_argmax = concrete_argmax,
    .gather_cols = gather_cols,
};
