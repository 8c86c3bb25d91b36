/* ops_vae_ref.c — the reference twins of the Gaussian layer's ops (lib/ops/ops_vae.h): the reparameterized draw,
 * the KL term against N(0, I) and the backward pass, as plain loops accumulating in double. */
#include <math.h>
#include <string.h>

#include "ops/mathf.h"
#include "ops/ops_ref_util.h"
#include "ops/ops_vae.h"

static float clamp_logvar(float s) { return s < CLAE_LOGVAR_MIN ? CLAE_LOGVAR_MIN : s > CLAE_LOGVAR_MAX ? CLAE_LOGVAR_MAX : s; }

static clae_status gauss_sample(clae_runtime *rt, size_t rows, size_t L, clae_buf MU, clae_buf S, clae_buf row_ids,
                                uint64_t seed, uint32_t step, uint32_t tag, uint32_t k, uint32_t count, clae_buf EPS,
                                clae_buf Z)
{
    (void)rt;
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (size_t r = 0; r < rows; r++)
        for (size_t l = 0; l < L; l++) {
            size_t i = r * L + l;
            uint32_t id; /* the row's data-set index, stored as a uint32 word */
            memcpy(&id, row_ids.host + r, sizeof id);
            uint64_t e = ((uint64_t)id * count + k) * L + l;
            const uint32_t ctr[4] = {(uint32_t)e, (uint32_t)(e >> 32), step, tag};
            uint32_t w[4];
            clae_philox4x32_10(ctr, key, w);
            float eps = clae_normal_bm(w[2], w[3]);
            if (EPS.n) EPS.host[i] = eps;
            float scale = 1.0f;
            if (S.n) {
                S.host[i] = clamp_logvar(S.host[i]);
                scale = expf(0.5f * S.host[i]);
            }
            Z.host[i] = (MU.n ? MU.host[i] : 0.0f) + scale * eps;
        }
    return CLAE_OK;
}

/* −½(1 + s − μ² − e^s) of one latent unit. */
static double kl_term(float mu, float s) { return -0.5 * (1.0 + (double)s - (double)mu * mu - exp((double)s)); }

static clae_status gauss_kl(clae_runtime *rt, size_t rows, size_t L, float beta, clae_buf MU, clae_buf S, clae_buf pen,
                            clae_buf kl_rows)
{
    (void)rt;
    double total = 0.0;
    for (size_t r = 0; r < rows; r++) {
        double row = 0.0;
        for (size_t l = 0; l < L; l++) row += kl_term(MU.host[r * L + l], S.host[r * L + l]);
        if (kl_rows.n) kl_rows.host[r] = (float)row;
        total += row;
    }
    pen.host[0] = (float)((double)beta * total / (double)rows);
    return CLAE_OK;
}

static clae_status gauss_backward(clae_runtime *rt, size_t rows, size_t L, float beta, clae_buf MU, clae_buf S,
                                  clae_buf EPS, clae_buf GZ, clae_buf GMU, clae_buf GS)
{
    (void)rt;
    const float kb = beta / (float)rows;
    for (size_t i = 0; i < rows * L; i++) {
        float s = S.host[i], sigma = expf(0.5f * s), g = GZ.host[i];
        GMU.host[i] = g + kb * MU.host[i];
        /* A log-variance the clamp held has no gradient (clamped values sit exactly on a bound). */
        GS.host[i] = (s <= CLAE_LOGVAR_MIN || s >= CLAE_LOGVAR_MAX) ? 0.0f
                                                                   : g * EPS.host[i] * sigma * 0.5f + 0.5f * kb * (expf(s) - 1.0f);
    }
    return CLAE_OK;
}

const clae_vae_ops clae_vae_ops_ref = {
    .gauss_sample = gauss_sample,
    .gauss_kl = gauss_kl,
    .gauss_backward = gauss_backward,
};
