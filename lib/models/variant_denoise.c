/* variant_denoise.c — the denoising autoencoder (Vincent et al. 2008, 2010): the input is corrupted,
 * the loss still compares against the clean batch. Inference never corrupts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "models/model_internal.h"

/* The values a corrupted element takes, per feature, in the units the model trains on: the
 * training mean (mask) and the training minimum and maximum (salt-and-pepper). Persistent, so a
 * checkpoint carries them and a resumed run corrupts exactly as the first one did. */
typedef struct denoise_state {
    clae_buf mean, lo, hi;
} denoise_state;

static int denoise_enabled(const clae_model_config *c) { return c->noise != CLAE_NOISE_NONE; }

static clae_status denoise_check(const clae_model_config *c)
{
    float v = c->noise_level;
    if (!isfinite(v) || v < 0.0f || (c->noise != CLAE_NOISE_GAUSSIAN && v > 1.0f))
        return clae_fail(CLAE_ERR_ARG, "--noise %s:%g: expected %s", clae_noise_name(c->noise), (double)v,
                         c->noise == CLAE_NOISE_GAUSSIAN ? "a standard deviation σ >= 0"
                                                         : "a corruption probability in [0, 1]");
    return CLAE_OK;
}

/* The corrupted copy lives from the load until layer 0's weight gradient has read it. */
static clae_status denoise_plan(clae_model *m, void **state)
{
    denoise_state *st = calloc(1, sizeof *st);
    if (!st) return clae_fail(CLAE_ERR_NOMEM, "denoising: out of host memory");
    *state = st;
    if (m->flags & CLAE_MODEL_INFERENCE) return CLAE_OK;
    size_t D = clae_width(m, 0);
    clae_status s = CLAE_OK;
    if (m->cfg.noise == CLAE_NOISE_MASK) s = clae_model_plan_add(m, "noise.feature_mean", &st->mean, D, CLAE_PLAN_ALWAYS, 0);
    if (s == CLAE_OK && m->cfg.noise == CLAE_NOISE_SALTPEPPER) {
        s = clae_model_plan_add(m, "noise.feature_min", &st->lo, D, CLAE_PLAN_ALWAYS, 0);
        if (s == CLAE_OK) s = clae_model_plan_add(m, "noise.feature_max", &st->hi, D, CLAE_PLAN_ALWAYS, 0);
    }
    if (s != CLAE_OK) return s;
    return clae_model_plan_add(m, "noisy_input", &m->train.input, (size_t)m->cfg.batch * D, clae_pos_load(m, 1),
                               clae_pos_backward(m, 0));
}

static void denoise_release(void *state) { free(state); }

/* Until the caller gives the training statistics: mean 0, min 0, max 1 — the [0, 1] image case,
 * where mask writes 0 and salt-and-pepper writes 0 or 1 (Vincent et al. 2010, Section 4.2). */
static clae_status denoise_init_state(clae_model *m, void *state)
{
    denoise_state *st = state;
    if (!st->hi.n) return CLAE_OK;
    float *one = malloc(st->hi.n * sizeof *one);
    if (!one) return clae_fail(CLAE_ERR_NOMEM, "denoising: out of host memory");
    for (size_t i = 0; i < st->hi.n; i++) one[i] = 1.0f;
    clae_status s = clae_buf_write(m->rt, st->hi, 0, one, st->hi.n);
    free(one);
    return s;
}

/* Keyed by (seed, step, data-set row, feature) so every device corrupts the same elements. */
static clae_status denoise_make_input(clae_model *m, void *state, dense_pass *pass, size_t rows)
{
    denoise_state *st = state;
    return clae_op_corrupt(m->rt, m->cfg.noise, m->cfg.noise_level, pass->act[0], pass->input, m->row_ids, rows,
                               clae_width(m, 0), m->cfg.seed, (uint32_t)m->steps, st->mean, st->lo, st->hi);
}

static void denoise_describe(const clae_model_config *c, char *buf, size_t cap)
{
    snprintf(buf, cap, "denoising %s %g", clae_noise_name(c->noise), (double)c->noise_level);
}

const clae_variant clae_variant_denoise = {
    .name = "denoising",
    .enabled = denoise_enabled,
    .check = denoise_check,
    .plan = denoise_plan,
    .release = denoise_release,
    .init_state = denoise_init_state,
    .make_input = denoise_make_input,
    .describe = denoise_describe,
};

/* ---- the training statistics (public) ------------------------------------------------------ */

static denoise_state *denoise_of(clae_model *m)
{
    for (int v = 0; v < m->n_variants; v++)
        if (m->variants[v] == &clae_variant_denoise) return m->variant_state[v];
    return NULL;
}

static clae_status set_stats(clae_model *m, const float *mean, const float *min, const float *max)
{
    size_t D = clae_width(m, 0);
    for (size_t i = 0; i < D; i++) {
        if ((mean && !isfinite(mean[i])) || (min && !isfinite(min[i])) || (max && !isfinite(max[i])))
            return clae_fail(CLAE_ERR_ARG, "set_feature_stats: feature %zu: mean %g, min %g, max %g must be finite", i,
                             mean ? (double)mean[i] : 0.0, min ? (double)min[i] : 0.0, max ? (double)max[i] : 0.0);
        if (min && max && min[i] > max[i])
            return clae_fail(CLAE_ERR_ARG, "set_feature_stats: feature %zu: min %g is above max %g", i,
                             (double)min[i], (double)max[i]);
    }
    denoise_state *st = denoise_of(m);
    if (!st) return CLAE_OK; /* nothing corrupts: nothing to keep */
    clae_status s = CLAE_OK;
    if (mean && st->mean.n) s = clae_buf_write(m->rt, st->mean, 0, mean, D);
    if (s == CLAE_OK && min && st->lo.n) s = clae_buf_write(m->rt, st->lo, 0, min, D);
    if (s == CLAE_OK && max && st->hi.n) s = clae_buf_write(m->rt, st->hi, 0, max, D);
    return s;
}

static clae_status record(clae_model *m, clae_status s)
{
    if (s != CLAE_OK) {
        clae_error_copy_to(m->error);
        clae_rt_fail(m->rt, s);
    }
    return s;
}

clae_status clae_model_set_feature_stats(clae_model *m, const float *mean, const float *min, const float *max)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "set_feature_stats: model is NULL");
    return record(m, set_stats(m, mean, min, max));
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
    return record(m, fit_stats(m, ds));
}
