/* variant_select.c — the two selection variants on the code layer: k-sparse (VARIANTS.md §4, top k
 * per row) and winner-take-all with lifetime sparsity (§5, top share of the batch per unit). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model_internal.h"

typedef struct select_state {
    clae_buf mask;       /* training: the selection the backward pass reuses */
    clae_buf infer_mask; /* inference: k-sparse's α·k selection (WTA selects nothing then) */
} select_state;

static clae_status select_plan(clae_model *m, void **state, int at_inference)
{
    select_state *st = calloc(1, sizeof *st);
    if (!st) return clae_fail(CLAE_ERR_NOMEM, "selection: out of host memory");
    *state = st;
    int c = clae_code(m);
    size_t n = (size_t)m->cfg.batch * clae_width(m, c);
    if (!(m->flags & CLAE_MODEL_INFERENCE)) {
        clae_status s = clae_model_plan_add(m, "select.mask", &st->mask, n, clae_pos_forward(m, 1, c - 1),
                                            clae_pos_backward(m, c));
        if (s != CLAE_OK) return s;
    }
    if (!at_inference) return CLAE_OK;
    int at = clae_pos_forward(m, 0, c - 1);
    return clae_model_plan_add(m, "infer.select.mask", &st->infer_mask, n, at, at);
}

static void select_release(void *state) { free(state); }

/* The backward pass lets gradient through the selected units only. */
static clae_status select_grad_act(clae_model *m, void *state, int i, clae_buf G, size_t rows)
{
    select_state *st = state;
    if (i != clae_code(m)) return CLAE_OK;
    return m->rt->ops->mul_mask(m->rt, G, st->mask, rows * clae_width(m, i));
}

static clae_status refuse_contractive(const clae_model_config *c, const char *flag)
{
    if (c->contractive > 0.0f)
        return clae_fail(CLAE_ERR_ARG, "%s cannot be combined with --contractive: the selection makes the encoder "
                                       "Jacobian that the penalty smooths discontinuous", flag);
    return CLAE_OK;
}

/* ---- k-sparse -------------------------------------------------------------------------------- */

static int ksparse_enabled(const clae_model_config *c) { return c->ksparse_k > 0; }

static clae_status ksparse_check(const clae_model_config *c)
{
    int H = c->sizes[c->code_layer];
    if (c->ksparse_k > H) return clae_fail(CLAE_ERR_ARG, "--ksparse %d: the code layer has only %d units", c->ksparse_k, H);
    if (c->wta_rate > 0.0f)
        return clae_fail(CLAE_ERR_ARG, "--ksparse cannot be combined with --wta-rate: both select the active code units");
    if (!isfinite(c->ksparse_alpha) || c->ksparse_alpha <= 0.0f)
        return clae_fail(CLAE_ERR_ARG, "--ksparse-alpha %g: expected a positive multiplier", (double)c->ksparse_alpha);
    return refuse_contractive(c, "--ksparse");
}

/* k for this step: from k_start down to k, linearly over the schedule (§4.5). */
static size_t ksparse_k_now(const clae_model *m)
{
    const clae_model_config *c = &m->cfg;
    double k = c->ksparse_k;
    if (c->ksparse_k_start > c->ksparse_k && c->ksparse_schedule_steps > 0 &&
        m->steps < (uint64_t)c->ksparse_schedule_steps) {
        double t = (double)m->steps / (double)c->ksparse_schedule_steps;
        k = c->ksparse_k_start + (c->ksparse_k - c->ksparse_k_start) * t;
    }
    return (size_t)llround(k);
}

static clae_status ksparse_plan(clae_model *m, void **state) { return select_plan(m, state, 1); }

static clae_status ksparse_after_activation(clae_model *m, void *state, dense_pass *pass, int i, size_t rows,
                                            int training)
{
    select_state *st = state;
    if (i != clae_code(m)) return CLAE_OK;
    size_t H = clae_width(m, i);
    size_t k = training ? ksparse_k_now(m) : (size_t)llround((double)m->cfg.ksparse_alpha * m->cfg.ksparse_k);
    if (k > H) k = H;
    return m->rt->ops->topk_rows(m->rt, pass->act[i], training ? st->mask : st->infer_mask, rows, H, k);
}

static void ksparse_describe(const clae_model_config *c, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "k-sparse k=%d alpha=%g", c->ksparse_k, (double)c->ksparse_alpha);
    if (c->ksparse_k_start > c->ksparse_k && c->ksparse_schedule_steps > 0 && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " (from %d over %d steps)", c->ksparse_k_start, c->ksparse_schedule_steps);
}

const clae_variant clae_variant_ksparse = {
    .name = "k-sparse",
    .enabled = ksparse_enabled,
    .check = ksparse_check,
    .plan = ksparse_plan,
    .release = select_release,
    .after_activation = ksparse_after_activation,
    .grad_act = select_grad_act,
    .describe = ksparse_describe,
};

/* ---- winner-take-all, lifetime sparsity ----------------------------------------------------- */

static int wta_enabled(const clae_model_config *c) { return c->wta_rate > 0.0f; }

static clae_status wta_check(const clae_model_config *c) { return refuse_contractive(c, "--wta-rate"); }

static clae_status wta_plan(clae_model *m, void **state) { return select_plan(m, state, 0); }

/* m = max(1, ceil(r·B)) winners per unit among this batch's rows; none at test time (§5.4). */
static clae_status wta_after_activation(clae_model *m, void *state, dense_pass *pass, int i, size_t rows,
                                        int training)
{
    select_state *st = state;
    if (!training || i != clae_code(m)) return CLAE_OK;
    size_t winners = (size_t)ceil((double)m->cfg.wta_rate * (double)rows);
    if (winners < 1) winners = 1;
    return m->rt->ops->topk_cols(m->rt, pass->act[i], st->mask, rows, clae_width(m, i), winners);
}

static void wta_describe(const clae_model_config *c, char *buf, size_t cap)
{
    snprintf(buf, cap, "winner-take-all %g%%", 100.0 * (double)c->wta_rate);
}

const clae_variant clae_variant_wta = {
    .name = "winner-take-all",
    .enabled = wta_enabled,
    .check = wta_check,
    .plan = wta_plan,
    .release = select_release,
    .after_activation = wta_after_activation,
    .grad_act = select_grad_act,
    .describe = wta_describe,
};
