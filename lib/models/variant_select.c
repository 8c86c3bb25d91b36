/* variant_select.c — the code layer's two selection variants: k-sparse (Makhzani & Frey 2013, top k per
 * row) and lifetime-sparsity winner-take-all (Makhzani & Frey 2015, top share of the batch per unit). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "models/model_internal.h"

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
    return clae_op_mul_mask(m->rt, G, st->mask, rows * clae_width(m, i));
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

/* k for this step: from k0 = k_start down to k linearly over T steps, k_t = round(k0 + (k − k0)·t/T). */
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
    return clae_op_topk_rows(m->rt, pass->act[i], training ? st->mask : st->infer_mask, rows, H, k);
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

/* m = max(1, ⌈P·B/100⌉) winners per unit among B rows, for the percent P = 100·r. The float
 * share r is P/100 rounded (0.05f = 0.0500000007), so a plain ⌈r·B⌉ gives one winner too many
 * whenever P·B/100 is an integer (6 of 100 at 5%). r is therefore read as the shortest decimal
 * that rounds to it (at most 9 significant digits: "0.05", what the user wrote), D·10^−k, and
 * the count is ⌈D·B / 10^k⌉ in integers. */
static size_t wta_winners(float rate, size_t rows)
{
    char buf[32];
    int digits = 1;
    for (; digits < 9; digits++) {
        snprintf(buf, sizeof buf, "%.*e", digits - 1, (double)rate);
        if (strtof(buf, NULL) == rate) break;
    }
    snprintf(buf, sizeof buf, "%.*e", digits - 1, (double)rate);
    uint64_t mant = 0; /* the digits of "d.ddde±x", whatever the locale's decimal point */
    const char *c = buf;
    for (; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9') mant = mant * 10 + (uint64_t)(*c - '0');
    int places = digits - 1 - (*c ? atoi(c + 1) : 0);
    double winners;
    if (places >= 0 && places <= 18 && (rows == 0 || mant <= UINT64_MAX / rows)) {
        uint64_t scale = 1, q = mant * rows;
        for (int i = 0; i < places; i++) scale *= 10;
        winners = (double)(q / scale + (q % scale != 0));
    } else {
        winners = ceil((double)rate * (double)rows); /* over 18 decimal places, or D·B past 64 bits */
    }
    return winners < 1.0 ? 1 : (size_t)winners;
}

/* The winners of the batch's rows per unit; none at test time, where every code unit stays
 * active (Makhzani & Frey 2015, "Winner-Take-All Autoencoders"). */
static clae_status wta_after_activation(clae_model *m, void *state, dense_pass *pass, int i, size_t rows,
                                        int training)
{
    select_state *st = state;
    if (!training || i != clae_code(m)) return CLAE_OK;
    size_t winners = wta_winners(m->cfg.wta_rate, rows);
    return clae_op_topk_cols(m->rt, pass->act[i], st->mask, rows, clae_width(m, i), winners);
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
