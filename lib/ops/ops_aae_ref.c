/* ops_aae_ref.c — the reference twins of the adversarial autoencoder's ops (lib/ops/ops_aae.h): prior draws by
 * Philox, the codes copied beside them, and the discriminator's logistic loss as plain loops in double. */
#include <math.h>
#include <string.h>

#include "ops/mathf.h"
#include "ops/ops_aae.h"

/* gcc in ISO C mode never fuses a*b+c into an FMA; clang does by default where the target has
 * one, which would round differently from the OpenCL kernels (FP_CONTRACT OFF in cl/common.h). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

static void philox_at(uint64_t seed, uint32_t step, uint32_t tag, uint64_t e, uint32_t w[4])
{
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const uint32_t ctr[4] = {(uint32_t)e, (uint32_t)(e >> 32), step, tag};
    clae_philox4x32_10(ctr, key, w);
}

void clae_aae_prior_row(uint32_t modes, uint64_t seed, uint32_t step, uint32_t tag, uint64_t id, size_t L, float *z)
{
    uint32_t w[4];
    for (size_t l = 0; l < L; l++) {
        philox_at(seed, step, tag, id * L + l, w);
        z[l] = clae_normal_bm(w[2], w[3]);
    }
    if (!modes) return;
    philox_at(seed, step, tag, id * L, w);
    const uint32_t c = (uint32_t)(((uint64_t)(w[0] >> 8) * modes) >> 24);
    const float u = (float)c / (float)modes;
    float v = u + 0.75f;
    if (v >= 1.0f) v = v - 1.0f;
    const float cs = clae_cos2pif(u), sn = clae_cos2pif(v);
    for (size_t j = 0; j + 1 < L; j += 2) {
        const float a = CLAE_AAE_MIX_RADIAL_SD * z[j] + CLAE_AAE_MIX_SHIFT, b = CLAE_AAE_MIX_TANGENT_SD * z[j + 1];
        z[j] = a * cs - b * sn;
        z[j + 1] = a * sn + b * cs;
    }
}

static clae_status aae_batch(clae_runtime *rt, size_t rows, size_t L, uint32_t modes, clae_buf row_ids, uint64_t seed,
                             uint32_t step, uint32_t tag, clae_buf CODES, clae_buf OUT)
{
    (void)rt;
    for (size_t r = 0; r < rows; r++) {
        uint32_t id; /* the row's data-set index, stored as a uint32 word */
        memcpy(&id, row_ids.host + r, sizeof id);
        clae_aae_prior_row(modes, seed, step, tag, id, L, OUT.host + r * L);
    }
    if (CODES.n) memcpy(OUT.host + rows * L, CODES.host, rows * L * sizeof *OUT.host);
    return CLAE_OK;
}

/* σ(z) in the form that never takes exp of a positive number (cl/common.h clae_sigmoid). */
static float sigmoid(float z)
{
    if (z >= 0.0f) return 1.0f / (1.0f + expf(-z));
    float e = expf(z);
    return e / (1.0f + e);
}

static double softplus(double z) { return (z > 0.0 ? z : 0.0) + log1p(exp(-fabs(z))); }

static clae_status aae_logit_loss(clae_runtime *rt, size_t rows, size_t fake, clae_buf D, clae_buf G, clae_buf out)
{
    (void)rt;
    double sum = 0.0;
    size_t right = 0;
    for (size_t i = 0; i < rows + fake; i++) {
        const float d = D.host[i];
        const int real = i < rows;
        G.host[i] = (sigmoid(d) - (real ? 1.0f : 0.0f)) / (float)rows;
        sum += softplus(real ? -(double)d : (double)d);
        right += real ? d > 0.0f : d < 0.0f;
    }
    out.host[0] = (float)(sum / (double)rows);
    out.host[1] = (float)((double)right / (double)(rows + fake));
    return CLAE_OK;
}

const clae_aae_ops clae_aae_ops_ref = {
    .aae_batch = aae_batch,
    .aae_logit_loss = aae_logit_loss,
};
