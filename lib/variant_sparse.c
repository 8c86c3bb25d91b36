/* variant_sparse.c — activation sparsity on the code layer (VARIANTS.md §3): KL toward a target
 * mean, L1 or L2 penalties, and h2o's EMA bias controller (§3.4). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model_internal.h"

typedef struct sparse_state {
    clae_buf stats; /* KL: ρ̂ of the batch; H2O: the running mean ā (persistent) */
    clae_buf pen;   /* the penalty of the last training forward (one float) */
} sparse_state;

static int sparse_enabled(const clae_model_config *c) { return c->sparsity != CLAE_SPARSITY_NONE; }

static clae_status sparse_check(const clae_model_config *c)
{
    clae_activation f = c->activation[c->code_layer - 1];
    if (c->sparsity == CLAE_SPARSITY_KL && f != CLAE_ACT_SIGMOID && f != CLAE_ACT_TANH)
        return clae_fail(CLAE_ERR_ARG,
                         "--sparsity kl needs sigmoid or tanh code units (KL is undefined for a mean above 1); "
                         "the code layer is %s: use --sparsity l1 or --activation sigmoid",
                         clae_activation_name(f));
    if (c->sparsity == CLAE_SPARSITY_KL && !(c->sparsity_rho > 0.0f && c->sparsity_rho < 1.0f))
        return clae_fail(CLAE_ERR_ARG, "--rho %g: expected a target mean activation in (0, 1)", (double)c->sparsity_rho);
    if (c->sparsity == CLAE_SPARSITY_H2O && !(c->sparsity_rho >= -1.0f && c->sparsity_rho <= 1.0f))
        return clae_fail(CLAE_ERR_ARG, "--rho %g: expected h2o's average_activation in [-1, 1]", (double)c->sparsity_rho);
    float w = (c->sparsity == CLAE_SPARSITY_KL || c->sparsity == CLAE_SPARSITY_H2O) ? c->sparsity_beta : c->sparsity_lambda;
    if (!isfinite(w) || w < 0.0f)
        return clae_fail(CLAE_ERR_ARG, "sparsity weight %g: expected a finite value >= 0", (double)w);
    if (c->ksparse_k > 0 || c->wta_rate > 0.0f)
        return clae_fail(CLAE_ERR_ARG, "--sparsity cannot be combined with --ksparse or --wta-rate: each already "
                                       "decides which code units are active");
    return CLAE_OK;
}

static float sparse_weight(const clae_model_config *c)
{
    return (c->sparsity == CLAE_SPARSITY_KL || c->sparsity == CLAE_SPARSITY_H2O) ? c->sparsity_beta : c->sparsity_lambda;
}

static clae_status sparse_plan(clae_model *m, void **state)
{
    sparse_state *st = calloc(1, sizeof *st);
    if (!st) return clae_fail(CLAE_ERR_NOMEM, "sparse: out of host memory");
    *state = st;
    if (m->flags & CLAE_MODEL_INFERENCE) return CLAE_OK;
    int c = clae_code(m);
    size_t H = clae_width(m, c);
    if (m->cfg.sparsity == CLAE_SPARSITY_H2O) {
        clae_status s = clae_model_plan_add(m, "sparsity.ema", &st->stats, H, CLAE_PLAN_ALWAYS, 0);
        if (s == CLAE_OK) s = clae_model_plan_keep(m, &m->train.act[c], clae_pos_backward(m, c - 1));
        if (s != CLAE_OK) return s;
    } else {
        clae_status s = clae_model_plan_add(m, "sparsity.mean", &st->stats, H, clae_pos_forward(m, 1, c - 1),
                                            clae_pos_backward(m, c));
        if (s != CLAE_OK) return s;
    }
    return clae_model_plan_add(m, "sparsity.penalty", &st->pen, 1, clae_pos_forward(m, 1, c - 1), clae_pos_loss(m));
}

static void sparse_release(void *state) { free(state); }

static clae_status sparse_after_activation(clae_model *m, void *state, dense_pass *pass, int i, size_t rows,
                                           int training)
{
    sparse_state *st = state;
    if (!training || i != clae_code(m)) return CLAE_OK;
    /* h2o's running mean moves only in real steps, not in loss or gradient evaluations. */
    if (m->cfg.sparsity == CLAE_SPARSITY_H2O && !m->in_step) return CLAE_OK;
    return m->rt->ops->sparsity_forward(m->rt, m->cfg.sparsity, m->cfg.activation[i - 1], m->cfg.sparsity_rho,
                                        sparse_weight(&m->cfg), pass->act[i], rows, clae_width(m, i), st->stats,
                                        st->pen);
}

static clae_status sparse_penalty(clae_model *m, void *state, size_t rows, double *penalty)
{
    sparse_state *st = state;
    (void)rows;
    if (m->cfg.sparsity == CLAE_SPARSITY_H2O) return CLAE_OK; /* a controller, not a loss */
    float p = 0.0f;
    clae_status s = clae_buf_read(m->rt, st->pen, 0, &p, 1);
    *penalty += p;
    return s;
}

/* KL, L1, L2: ∂P/∂A joins ∂L/∂A of the code before f'. */
static clae_status sparse_grad_act(clae_model *m, void *state, int i, clae_buf G, size_t rows)
{
    sparse_state *st = state;
    if (i != clae_code(m) || m->cfg.sparsity == CLAE_SPARSITY_H2O) return CLAE_OK;
    clae_buf none = {0};
    return m->rt->ops->sparsity_backward(m->rt, m->cfg.sparsity, m->cfg.activation[i - 1], m->cfg.sparsity_rho,
                                         sparse_weight(&m->cfg), m->train.act[i], rows, clae_width(m, i), st->stats,
                                         G, none);
}

/* h2o: β(ā − ρ) joins the code layer's bias gradient once it has been formed. */
static clae_status sparse_grad_w(clae_model *m, void *state, int l, size_t rows)
{
    sparse_state *st = state;
    int c = clae_code(m);
    if (l != c - 1 || m->cfg.sparsity != CLAE_SPARSITY_H2O) return CLAE_OK;
    clae_buf none = {0};
    return m->rt->ops->sparsity_backward(m->rt, m->cfg.sparsity, m->cfg.activation[l], m->cfg.sparsity_rho,
                                         sparse_weight(&m->cfg), m->train.act[c], rows, clae_width(m, c), st->stats,
                                         none, m->layer[l].db);
}

static void sparse_describe(const clae_model_config *c, char *buf, size_t cap)
{
    if (c->sparsity == CLAE_SPARSITY_KL || c->sparsity == CLAE_SPARSITY_H2O)
        snprintf(buf, cap, "sparse %s rho=%g beta=%g", clae_sparsity_name(c->sparsity), (double)c->sparsity_rho,
                 (double)c->sparsity_beta);
    else
        snprintf(buf, cap, "sparse %s lambda=%g", clae_sparsity_name(c->sparsity), (double)c->sparsity_lambda);
}

const clae_variant clae_variant_sparse = {
    .name = "sparse",
    .enabled = sparse_enabled,
    .check = sparse_check,
    .plan = sparse_plan,
    .release = sparse_release,
    .after_activation = sparse_after_activation,
    .penalty = sparse_penalty,
    .grad_act = sparse_grad_act,
    .grad_w = sparse_grad_w,
    .describe = sparse_describe,
};
