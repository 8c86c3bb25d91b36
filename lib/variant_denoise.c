/* variant_denoise.c — the denoising autoencoder (VARIANTS.md §6): the training input is corrupted,
 * the loss still compares against the clean batch. Inference never corrupts. */
#include <math.h>
#include <stdio.h>

#include "model_internal.h"

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
    *state = NULL;
    if (m->flags & CLAE_MODEL_INFERENCE) return CLAE_OK;
    return clae_model_plan_add(m, "noisy_input", &m->train.input, (size_t)m->cfg.batch * clae_width(m, 0),
                               clae_pos_load(m, 1), clae_pos_backward(m, 0));
}

/* Keyed by (seed, step, data-set row, feature) so every device corrupts the same elements. */
static clae_status denoise_make_input(clae_model *m, void *state, dense_pass *pass, size_t rows)
{
    (void)state;
    return m->rt->ops->corrupt(m->rt, m->cfg.noise, m->cfg.noise_level, pass->act[0], pass->input, m->row_ids, rows,
                               clae_width(m, 0), m->cfg.seed, (uint32_t)m->steps);
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
    .make_input = denoise_make_input,
    .describe = denoise_describe,
};
