/* variant_sparse.c — activation sparsity (Ng, CS294A): KL toward a target mean, L1 or L2 penalties
 * on the code layer, and h2o's EMA bias controller on every hidden layer (H2O Deep Learning, sparsity_beta). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "models/model_internal.h"

typedef struct sparse_state {
    clae_buf stats; /* KL: ρ̂ of the batch (code layer) */
    clae_buf pen;   /* KL, L1, L2: the penalty of the last training forward (one float) */
    /* H2O, per act index i = 1..M-1 (the output of weight layer i-1): the running mean ā
     * (persistent) and the step r·β(ā − ρ) made before layer i-1's bias update, applied after it. */
    clae_buf ema[CLAE_MAX_LAYERS + 1], push[CLAE_MAX_LAYERS + 1];
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
    if (m->cfg.sparsity == CLAE_SPARSITY_H2O) {
        /* As h2o: every hidden layer, never the output. Named after the layer whose bias it steers. */
        for (int i = 1; i < m->M; i++) {
            char name[CLAE_PLAN_NAME];
            int back = clae_pos_backward(m, i - 1);
            snprintf(name, sizeof name, "sparsity.ema.layers.%d", i - 1);
            clae_status s = clae_model_plan_add(m, name, &st->ema[i], clae_width(m, i), CLAE_PLAN_ALWAYS, 0);
            snprintf(name, sizeof name, "sparsity.push.layers.%d", i - 1);
            if (s == CLAE_OK) s = clae_model_plan_add(m, name, &st->push[i], clae_width(m, i), back, back);
            if (s != CLAE_OK) return s;
        }
        return CLAE_OK;
    }
    clae_status s = clae_model_plan_add(m, "sparsity.mean", &st->stats, clae_width(m, c), clae_pos_forward(m, 1, c - 1),
                                        clae_pos_backward(m, c));
    if (s != CLAE_OK) return s;
    /* Read by the penalty hook at the end of the step. */
    return clae_model_plan_add(m, "sparsity.penalty", &st->pen, 1, clae_pos_forward(m, 1, c - 1), clae_pos_last(m));
}

static void sparse_release(void *state) { free(state); }

static clae_status sparse_after_activation(clae_model *m, void *state, dense_pass *pass, int i, size_t rows,
                                           int training)
{
    sparse_state *st = state;
    if (!training) return CLAE_OK;
    if (m->cfg.sparsity == CLAE_SPARSITY_H2O) {
        /* h2o's running mean moves only in real steps, not in loss or gradient evaluations. */
        if (i >= m->M || !m->in_step) return CLAE_OK;
        clae_buf none = {0};
        return clae_op_sparsity_forward(m->rt, CLAE_SPARSITY_H2O, m->cfg.activation[i - 1], m->cfg.sparsity_rho,
                                            sparse_weight(&m->cfg), pass->act[i], rows, clae_width(m, i), st->ema[i],
                                            none);
    }
    if (i != clae_code(m)) return CLAE_OK;
    return clae_op_sparsity_forward(m->rt, m->cfg.sparsity, m->cfg.activation[i - 1], m->cfg.sparsity_rho,
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
    return clae_op_sparsity_backward(m->rt, m->cfg.sparsity, m->cfg.activation[i - 1], m->cfg.sparsity_rho,
                                         sparse_weight(&m->cfg), m->train.act[i], rows, clae_width(m, i), st->stats,
                                         G, none);
}

/* h2o (Neurons.update_bias): once the optimizer has moved hidden bias b_j with its rate r_j, the
 * controller moves it again, b_j ← b_j − r_j·β·(ā_j − ρ). The step is formed before the update,
 * which overwrites the state r_j comes from, and subtracted after it (an SGD step of rate 1). */
static clae_status sparse_around_update(clae_model *m, void *state, int l, const clae_opt_hyper *h, int before)
{
    sparse_state *st = state;
    int i = l + 1;
    if (m->cfg.sparsity != CLAE_SPARSITY_H2O || i >= m->M) return CLAE_OK;
    dense_layer *L = &m->layer[l];
    if (before)
        return clae_op_sparsity_h2o_push(m->rt, h, m->cfg.sparsity_rho, sparse_weight(&m->cfg), st->ema[i], L->db,
                                             L->sb1, L->sb2, clae_width(m, i), st->push[i]);
    clae_opt_hyper minus = {.kind = CLAE_OPT_SGD, .lr = 1.0f};
    clae_buf none = {0};
    return clae_op_opt_update(m->rt, &minus, L->b, st->push[i], none, none, clae_width(m, i));
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
    .around_update = sparse_around_update,
    .describe = sparse_describe,
};
