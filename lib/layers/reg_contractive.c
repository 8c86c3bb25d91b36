/* reg_contractive.c — the contractive penalty (Rifai et al. 2011) λ·‖J‖²_F of a dense layer's own Jacobian,
 * with the closed-form gradients for sigmoid, tanh, relu and linear units, as an attachable regularizer. */
#include <math.h>
#include <stdio.h>

#include "layers/layer.h"

/* contractive:LAMBDA */
static clae_status contractive_parse(clae_reg *r, char **args, int n)
{
    if (n != 1) return clae_fail(CLAE_ERR_ARG, "%s: expected contractive:LAMBDA", r->label);
    TRY(clae_parse_float(r->label, "lambda", args[0], &r->f[0]));
    if (!isfinite(r->f[0]) || r->f[0] < 0.0f) return clae_fail(CLAE_ERR_ARG, "%s: λ must be finite and >= 0", r->label);
    return CLAE_OK;
}

static void contractive_format(const clae_reg *r, char *buf, size_t cap) { clae_format_float(buf, cap, r->f[0]); }

static clae_status contractive_check(const clae_reg *r, const clae_layer *L, int is_output)
{
    if (L->kind != &clae_layer_dense || is_output || L->tie >= 0)
        return clae_fail(CLAE_ERR_ARG, "%s: the contractive penalty attaches to a hidden dense layer with its own weight",
                         r->label);
    return CLAE_OK;
}

/* q_j = Σ_i W_ji² of the layer, and its penalty (one float, read at the step's end). */
static clae_status contractive_declare(clae_net *net, clae_layer *L, clae_reg *r)
{
    if (!net->training_model) return CLAE_OK;
    TRY(clae_net_declare(net, &r->t[0], L->out, 0, "contractive.q.%d", L->ordinal));
    return clae_net_declare(net, &r->t[1], 1, 0, "contractive.penalty.%d", L->ordinal);
}

static clae_status contractive_forward(clae_net *net, clae_layer *L, clae_reg *r, clae_net_pass *p, size_t rows)
{
    return clae_op_contractive_forward(net->rt, L->act, r->f[0], p->val[L->index + 1], L->W->value, rows, L->out, L->in,
                                       r->t[0], r->t[1]);
}

static clae_status contractive_penalty(clae_net *net, clae_layer *L, clae_reg *r, double *penalty)
{
    (void)L;
    float v = 0.0f;
    TRY(clae_buf_read(net->rt, r->t[1], 0, &v, 1));
    *penalty += v;
    return CLAE_OK;
}

/* R joins ∂L/∂Z before dW and db are formed. */
static clae_status contractive_grad_z(clae_net *net, clae_layer *L, clae_reg *r, clae_buf G, size_t rows)
{
    return clae_op_contractive_grad_z(net->rt, L->act, r->f[0], net->train.val[L->index + 1], r->t[0], rows, L->out, G);
}

/* diag(c)·W joins dW once the GEMM has formed it. */
static clae_status contractive_grad_w(clae_net *net, clae_layer *L, clae_reg *r, size_t rows)
{
    return clae_op_contractive_grad_w(net->rt, L->act, r->f[0], net->train.val[L->index + 1], L->W->value, rows, L->out,
                                      L->in, L->W->grad);
}

static void contractive_describe(const clae_reg *r, char *buf, size_t cap)
{
    snprintf(buf, cap, "contractive lambda=%g", (double)r->f[0]);
}

const clae_reg_kind clae_reg_contractive = {
    .name = "contractive",
    .claims = CLAE_CLAIM_JACOBIAN,
    .parse = contractive_parse,
    .format = contractive_format,
    .check = contractive_check,
    .declare = contractive_declare,
    .forward = contractive_forward,
    .penalty = contractive_penalty,
    .grad_z = contractive_grad_z,
    .grad_w = contractive_grad_w,
    .describe = contractive_describe,
};
