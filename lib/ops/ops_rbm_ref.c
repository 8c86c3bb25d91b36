/* ops_rbm_ref.c — the reference twins of the RBM ops (lib/ops/ops_rbm.h): hidden states sampled by Philox, the
 * biases' CD-1 statistics in double, and y += a·x, as plain loops. */
#include <string.h>

#include "ops/mathf.h"
#include "ops/ops_rbm.h"

/* gcc in ISO C mode never fuses a*b+c into an FMA; clang does by default where the target has
 * one, which would round differently from the OpenCL kernels (FP_CONTRACT OFF in cl/common.h). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

static clae_status rbm_sample(clae_runtime *rt, clae_rbm_units units, size_t rows, size_t cols, clae_buf P,
                              clae_buf row_ids, uint64_t seed, uint32_t step, uint32_t tag, clae_buf H)
{
    (void)rt;
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (size_t r = 0; r < rows; r++) {
        uint32_t id; /* the row's data-set index, stored as a uint32 word */
        memcpy(&id, row_ids.host + r, sizeof id);
        for (size_t c = 0; c < cols; c++) {
            const uint64_t e = (uint64_t)id * cols + c;
            const uint32_t ctr[4] = {(uint32_t)e, (uint32_t)(e >> 32), step, tag};
            uint32_t w[4];
            clae_philox4x32_10(ctr, key, w);
            const float p = P.host[r * cols + c];
            H.host[r * cols + c] = units == CLAE_RBM_BERNOULLI ? ((float)(w[0] >> 8) * 0x1p-24f < p ? 1.0f : 0.0f)
                                                               : p + clae_normal_bm(w[2], w[3]);
        }
    }
    return CLAE_OK;
}

static clae_status rbm_bias_grad(clae_runtime *rt, size_t rows, size_t cols, clae_buf X0, clae_buf X1, clae_buf g)
{
    (void)rt;
    for (size_t c = 0; c < cols; c++) {
        double s0 = 0.0, s1 = 0.0;
        for (size_t r = 0; r < rows; r++) {
            s0 += X0.host[r * cols + c];
            s1 += X1.host[r * cols + c];
        }
        g.host[c] = (float)((s1 - s0) / (double)rows);
    }
    return CLAE_OK;
}

static clae_status axpy(clae_runtime *rt, size_t n, float a, clae_buf X, clae_buf Y)
{
    (void)rt;
    for (size_t i = 0; i < n; i++) Y.host[i] = Y.host[i] + a * X.host[i];
    return CLAE_OK;
}

const clae_rbm_ops clae_rbm_ops_ref = {
    .rbm_sample = rbm_sample,
    .rbm_bias_grad = rbm_bias_grad,
    .axpy = axpy,
};
