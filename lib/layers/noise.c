/* noise.c — the denoising autoencoder's corruption (Vincent et al. 2008, 2010) as a layer: training passes
 * see a corrupted copy of the input, inference passes the input through, the loss compares with the clean batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "layers/layer.h"

/* noise:KIND[:LEVEL] — gaussian σ, or the corrupted share ν for mask and saltpepper (default 0.25). */
static clae_status noise_parse(clae_layer *L, char **args, int n)
{
    clae_noise kind;
    if (n < 1 || n > 2 || clae_noise_parse(args[0], &kind) != CLAE_OK || kind == CLAE_NOISE_NONE)
        return clae_fail(CLAE_ERR_ARG, "%s: expected noise:gaussian|mask|saltpepper[:LEVEL]", L->label);
    L->iarg[0] = (int)kind;
    L->farg[0] = 0.25f;
    if (n == 2) TRY(clae_parse_float(L->label, "level", args[1], &L->farg[0]));
    return CLAE_OK;
}

static void noise_format(const clae_layer *L, char *buf, size_t cap)
{
    char level[32];
    clae_format_float(level, sizeof level, L->farg[0]);
    snprintf(buf, cap, "%s:%s", clae_noise_name((clae_noise)L->iarg[0]), level);
}

/* The level is checked here, where every net passes, however it was built. */
static clae_status noise_shape(clae_layer *L)
{
    clae_noise kind = (clae_noise)L->iarg[0];
    float v = L->farg[0];
    if (!isfinite(v) || v < 0.0f || (kind != CLAE_NOISE_GAUSSIAN && v > 1.0f))
        return clae_fail(CLAE_ERR_ARG, "%s %s:%g: expected %s", L->label, clae_noise_name(kind), (double)v,
                         kind == CLAE_NOISE_GAUSSIAN ? "a standard deviation σ >= 0" : "a corruption probability in [0, 1]");
    L->oc = L->ic, L->oh = L->ih, L->ow = L->iw;
    return CLAE_OK;
}

static int noise_in_place(const clae_layer *L, int training)
{
    (void)L;
    return !training;
}

/* The values a corrupted element takes, per feature, in the units the model trains on: the training mean
 * (mask), minimum and maximum (salt-and-pepper). Persistent, so a checkpoint carries them and a resumed
 * run corrupts exactly as the first one did. */
static clae_status noise_declare(clae_net *net, clae_layer *L)
{
    if (!net->training_model) return CLAE_OK;
    clae_noise kind = (clae_noise)L->iarg[0];
    if (kind == CLAE_NOISE_MASK) TRY(clae_net_declare(net, &L->t[0], L->in, 1, "noise.feature_mean"));
    if (kind == CLAE_NOISE_SALTPEPPER) {
        TRY(clae_net_declare(net, &L->t[1], L->in, 1, "noise.feature_min"));
        TRY(clae_net_declare(net, &L->t[2], L->in, 1, "noise.feature_max"));
    }
    return CLAE_OK;
}

/* Until the caller gives the training statistics: mean 0, min 0, max 1 — the [0, 1] image case, where
 * mask writes 0 and salt-and-pepper writes 0 or 1 (Vincent et al. 2010, Section 4.2). */
static clae_status noise_init(clae_net *net, clae_layer *L)
{
    clae_buf hi = L->t[2];
    if (!hi.n) return CLAE_OK;
    float *one = malloc(hi.n * sizeof *one);
    if (!one) return clae_fail(CLAE_ERR_NOMEM, "%s: out of host memory", L->label);
    for (size_t i = 0; i < hi.n; i++) one[i] = 1.0f;
    clae_status s = clae_buf_write(net->rt, hi, 0, one, hi.n);
    free(one);
    return s;
}

/* Keyed by (seed, step, data-set row, feature) so every device corrupts the same elements. */
static clae_status noise_forward(clae_net *net, clae_layer *L, clae_net_pass *p, size_t rows)
{
    if (!p->training) return CLAE_OK;
    return clae_op_corrupt(net->rt, (clae_noise)L->iarg[0], L->farg[0], p->val[L->index], p->val[L->index + 1],
                           net->row_ids, rows, L->in, net->seed, (uint32_t)net->steps, L->t[0], L->t[1], L->t[2]);
}

/* The input is data: nothing before it wants a gradient (the noise layer comes first). */
static clae_status noise_backward(clae_net *net, clae_layer *L, size_t rows)
{
    (void)net;
    (void)L;
    (void)rows;
    return CLAE_OK;
}

static void noise_describe(const clae_layer *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "denoising %s %g", clae_noise_name((clae_noise)L->iarg[0]), (double)L->farg[0]);
}

const clae_layer_kind clae_layer_noise = {
    .name = "noise",
    .parse = noise_parse,
    .format = noise_format,
    .shape = noise_shape,
    .in_place = noise_in_place,
    .declare = noise_declare,
    .init = noise_init,
    .forward = noise_forward,
    .backward = noise_backward,
    .describe = noise_describe,
};
