/* variant_contractive.c — the contractive autoencoder (Rifai et al. 2011): λ·‖J‖²_F of every encoder
 * layer's own Jacobian, with the closed-form gradients for sigmoid, tanh, relu and linear units. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "models/model_internal.h"

typedef struct contractive_state {
    clae_buf q[CLAE_MAX_LAYERS];   /* q_j = Σ_i W_ji² of encoder layer l */
    clae_buf pen[CLAE_MAX_LAYERS]; /* that layer's penalty (one float) */
} contractive_state;

static int contractive_enabled(const clae_model_config *c) { return c->contractive > 0.0f; }

static clae_status contractive_check(const clae_model_config *c)
{
    if (!isfinite(c->contractive)) return clae_fail(CLAE_ERR_ARG, "--contractive: λ must be finite");
    return CLAE_OK;
}

static clae_status contractive_plan(clae_model *m, void **state)
{
    contractive_state *st = calloc(1, sizeof *st);
    if (!st) return clae_fail(CLAE_ERR_NOMEM, "contractive: out of host memory");
    *state = st;
    if (m->flags & CLAE_MODEL_INFERENCE) return CLAE_OK;
    char name[CLAE_PLAN_NAME];
    for (int l = 0; l < clae_code(m); l++) {
        snprintf(name, sizeof name, "contractive.q.%d", l);
        clae_status s = clae_model_plan_add(m, name, &st->q[l], clae_width(m, l + 1), clae_pos_forward(m, 1, l),
                                            clae_pos_backward(m, l));
        if (s != CLAE_OK) return s;
        snprintf(name, sizeof name, "contractive.penalty.%d", l);
        /* Read by the penalty hook at the end of the step. */
        s = clae_model_plan_add(m, name, &st->pen[l], 1, clae_pos_forward(m, 1, l), clae_pos_last(m));
        if (s != CLAE_OK) return s;
        /* The penalty's gradients read layer l's output again at backward l. */
        s = clae_model_plan_keep(m, &m->train.act[l + 1], clae_pos_backward(m, l));
        if (s != CLAE_OK) return s;
    }
    return CLAE_OK;
}

static void contractive_release(void *state) { free(state); }

static clae_status contractive_after_activation(clae_model *m, void *state, dense_pass *pass, int i, size_t rows,
                                                int training)
{
    contractive_state *st = state;
    int l = i - 1;
    if (!training || l >= clae_code(m)) return CLAE_OK;
    return clae_op_contractive_forward(m->rt, m->cfg.activation[l], m->cfg.contractive, pass->act[i], m->layer[l].W,
                                           rows, clae_width(m, i), clae_width(m, l), st->q[l], st->pen[l]);
}

static clae_status contractive_penalty(clae_model *m, void *state, size_t rows, double *penalty)
{
    contractive_state *st = state;
    (void)rows;
    for (int l = 0; l < clae_code(m); l++) {
        float p = 0.0f;
        clae_status s = clae_buf_read(m->rt, st->pen[l], 0, &p, 1);
        if (s != CLAE_OK) return s;
        *penalty += p;
    }
    return CLAE_OK;
}

/* R joins ∂L/∂Z of the encoder layer before its dW and db are formed. */
static clae_status contractive_grad_z(clae_model *m, void *state, int l, clae_buf G, size_t rows)
{
    contractive_state *st = state;
    if (l >= clae_code(m)) return CLAE_OK;
    return clae_op_contractive_grad_z(m->rt, m->cfg.activation[l], m->cfg.contractive, m->train.act[l + 1], st->q[l],
                                          rows, clae_width(m, l + 1), G);
}

/* diag(c)·W joins dW once the GEMM has formed it. */
static clae_status contractive_grad_w(clae_model *m, void *state, int l, size_t rows)
{
    (void)state;
    if (l >= clae_code(m)) return CLAE_OK;
    return clae_op_contractive_grad_w(m->rt, m->cfg.activation[l], m->cfg.contractive, m->train.act[l + 1],
                                          m->layer[l].W, rows, clae_width(m, l + 1), clae_width(m, l), m->layer[l].dW);
}

static void contractive_describe(const clae_model_config *c, char *buf, size_t cap)
{
    snprintf(buf, cap, "contractive lambda=%g", (double)c->contractive);
}

const clae_variant clae_variant_contractive = {
    .name = "contractive",
    .enabled = contractive_enabled,
    .check = contractive_check,
    .plan = contractive_plan,
    .release = contractive_release,
    .after_activation = contractive_after_activation,
    .penalty = contractive_penalty,
    .grad_z = contractive_grad_z,
    .grad_w = contractive_grad_w,
    .describe = contractive_describe,
};
