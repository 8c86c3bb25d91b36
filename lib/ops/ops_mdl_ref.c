/* ops_mdl_ref.c — the reference twins of the MDL ops (lib/ops/ops_mdl.h): the noisy or rounded code and its rate
 * under the factorised logistic prior, forward and backward, as plain loops accumulating in double. */
#include <math.h>
#include <string.h>

#include "ops/mathf.h"
#include "ops/ops_mdl.h"

static clae_status mdl_quantize(clae_runtime *rt, size_t rows, size_t L, clae_buf Y, clae_buf row_ids, uint64_t seed,
                                uint32_t step, int noise, clae_buf T)
{
    (void)rt;
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (size_t r = 0; r < rows; r++) {
        uint32_t id = 0;
        if (noise) memcpy(&id, row_ids.host + r, sizeof id);
        for (size_t l = 0; l < L; l++) {
            size_t i = r * L + l;
            if (!noise) {
                T.host[i] = roundf(Y.host[i]);
                continue;
            }
            uint64_t e = (uint64_t)id * L + l;
            const uint32_t ctr[4] = {(uint32_t)e, (uint32_t)(e >> 32), step, CLAE_STREAM_UNIFORM};
            uint32_t w[4];
            clae_philox4x32_10(ctr, key, w);
            T.host[i] = Y.host[i] + (clae_u01_open(w[0]) - 0.5f);
        }
    }
    return CLAE_OK;
}

static double sig(double u) { return 1.0 / (1.0 + exp(-u)); }

/* The prior's mass of the unit bin at t, in the stable form, and a, b, s. */
static double mass(double t, double loc, double logscale, double *a, double *b, double *s)
{
    *s = exp(logscale);
    *a = (t + 0.5 - loc) / *s;
    *b = (t - 0.5 - loc) / *s;
    return t - loc > 0.0 ? sig(-*b) - sig(-*a) : sig(*a) - sig(*b);
}

static clae_status mdl_rate(clae_runtime *rt, size_t rows, size_t L, clae_buf T, clae_buf loc, clae_buf logscale,
                            float weight, clae_buf rate_rows, clae_buf pen)
{
    (void)rt;
    double total = 0.0;
    for (size_t r = 0; r < rows; r++) {
        double rate = 0.0;
        for (size_t l = 0; l < L; l++) {
            double a, b, s, P = mass(T.host[r * L + l], loc.host[l], logscale.host[l], &a, &b, &s);
            rate -= log2(P > CLAE_MDL_P_MIN ? P : CLAE_MDL_P_MIN);
        }
        if (rate_rows.n) rate_rows.host[r] = (float)rate;
        total += rate;
    }
    pen.host[0] = (float)((double)weight * total / (double)rows);
    return CLAE_OK;
}

static clae_status mdl_rate_backward(clae_runtime *rt, size_t rows, size_t L, clae_buf T, clae_buf loc, clae_buf logscale,
                                     float weight, clae_buf GT, clae_buf dloc, clae_buf dlogscale)
{
    (void)rt;
    const double k = (double)weight / (double)rows, ln2 = log(2.0);
    for (size_t l = 0; l < L; l++) {
        double gm = 0.0, gt = 0.0;
        for (size_t r = 0; r < rows; r++) {
            size_t i = r * L + l;
            double a, b, s, P = mass(T.host[i], loc.host[l], logscale.host[l], &a, &b, &s);
            if (P < CLAE_MDL_P_MIN) continue;
            double da = sig(a) * (1.0 - sig(a)), db = sig(b) * (1.0 - sig(b));
            double dPdt = (da - db) / s, dPdtau = -(a * da - b * db);
            double c = -1.0 / (P * ln2);
            GT.host[i] += (float)(k * c * dPdt);
            gm += c * -dPdt;
            gt += c * dPdtau;
        }
        dloc.host[l] = (float)(k * gm);
        dlogscale.host[l] = (float)(k * gt);
    }
    return CLAE_OK;
}

const clae_mdl_ops clae_mdl_ops_ref = {
    .mdl_quantize = mdl_quantize,
    .mdl_rate = mdl_rate,
    .mdl_rate_backward = mdl_rate_backward,
};
