/* feature_stats.c — the training data's per-feature mean, minimum and maximum, which the denoising
 * corruptions write into corrupted elements (mask: the mean; salt-and-pepper: the minimum or maximum). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "models/model_internal.h"


/* The noise layer, whose tensors hold the fill values, or NULL. */
static clae_layer *noise_of(clae_model *m)
{
    for (int k = 0; k < m->net.n; k++)
        if (m->net.layer[k].kind == &clae_layer_noise) return &m->net.layer[k];
    return NULL;
}

static clae_status set_stats(clae_model *m, const float *mean, const float *min, const float *max)
{
    size_t D = m->arch.input;
    for (size_t i = 0; i < D; i++) {
        if ((mean && !isfinite(mean[i])) || (min && !isfinite(min[i])) || (max && !isfinite(max[i])))
            return clae_fail(CLAE_ERR_ARG, "set_feature_stats: feature %zu: mean %g, min %g, max %g must be finite", i,
                             mean ? (double)mean[i] : 0.0, min ? (double)min[i] : 0.0, max ? (double)max[i] : 0.0);
        if (min && max && min[i] > max[i])
            return clae_fail(CLAE_ERR_ARG, "set_feature_stats: feature %zu: min %g is above max %g", i,
                             (double)min[i], (double)max[i]);
    }
    clae_layer *N = noise_of(m);
    if (!N) return CLAE_OK; /* nothing corrupts: nothing to keep */
    clae_status s = CLAE_OK;
    if (mean && N->t[0].n) s = clae_buf_write(m->rt, N->t[0], 0, mean, D);
    if (s == CLAE_OK && min && N->t[1].n) s = clae_buf_write(m->rt, N->t[1], 0, min, D);
    if (s == CLAE_OK && max && N->t[2].n) s = clae_buf_write(m->rt, N->t[2], 0, max, D);
    return s;
}


clae_status clae_model_set_feature_stats(clae_model *m, const float *mean, const float *min, const float *max)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "set_feature_stats: model is NULL");
    return clae_model_record(m, set_stats(m, mean, min, max));
}

static clae_status fit_stats(clae_model *m, const clae_dataset *ds)
{
    if (!ds || !ds->x || ds->rows == 0)
        return clae_fail(CLAE_ERR_ARG, "fit_feature_stats: the dataset is NULL or has no rows");
    clae_status s = clae_model_config_check_data(&m->cfg, ds);
    if (s != CLAE_OK) return s;
    size_t D = ds->cols;
    double *sum = calloc(D, sizeof *sum);
    float *stats = malloc(3 * D * sizeof *stats);
    if (!sum || !stats) {
        free(sum);
        free(stats);
        return clae_fail(CLAE_ERR_NOMEM, "fit_feature_stats: out of host memory for %zu features", D);
    }
    float *mean = stats, *lo = stats + D, *hi = stats + 2 * D;
    for (size_t i = 0; i < D; i++) lo[i] = hi[i] = ds->x[i];
    for (size_t r = 0; r < ds->rows; r++)
        for (size_t i = 0; i < D; i++) {
            float v = ds->x[r * D + i];
            sum[i] += v; /* in row order, so the mean does not depend on the machine */
            if (v < lo[i]) lo[i] = v;
            if (v > hi[i]) hi[i] = v;
        }
    for (size_t i = 0; i < D; i++) mean[i] = (float)(sum[i] / (double)ds->rows);
    s = set_stats(m, mean, lo, hi);
    free(sum);
    free(stats);
    return s;
}

clae_status clae_model_fit_feature_stats(clae_model *m, const clae_dataset *ds)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "fit_feature_stats: model is NULL");
    return clae_model_record(m, fit_stats(m, ds));
}
