/* dense.c — the fully connected layer A = f(X·Wᵀ + b), forward and backward, with its own weight or the
 * transpose of an earlier layer's (tied weights: W_dec = W_encᵀ, Vincent et al. 2010, Section 2.3). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layers/layer.h"

/* dense:UNITS[:ACTIVATION][:tied=K] — activation relu when left out. */
static clae_status dense_parse(clae_layer *L, char **args, int n)
{
    if (n < 1) return clae_fail(CLAE_ERR_ARG, "%s: expected dense:UNITS[:ACTIVATION][:tied=K]", L->label);
    TRY(clae_parse_int(L->label, "units", args[0], 1, 1000000000L, &L->iarg[0]));
    L->act = CLAE_ACT_RELU;
    L->tie = -1;
    for (int i = 1; i < n; i++) {
        const char *v;
        if (clae_arg_key(args[i], "tied", &v)) {
            TRY(clae_parse_int(L->label, "tied", v, 0, CLAE_MAX_LAYERS - 1, &L->tie));
        } else if (clae_activation_parse(args[i], &L->act) != CLAE_OK) {
            return clae_fail(CLAE_ERR_ARG, "%s: '%s' is neither an activation (linear, sigmoid, tanh, relu) nor tied=K",
                             L->label, args[i]);
        }
    }
    return CLAE_OK;
}

static void dense_format(const clae_layer *L, char *buf, size_t cap)
{
    int k = snprintf(buf, cap, "%d:%s", L->iarg[0], clae_activation_name(L->act));
    if (L->tie >= 0 && k > 0 && (size_t)k < cap) snprintf(buf + k, cap - (size_t)k, ":tied=%d", L->tie);
}

/* Any input shape, read flat. */
static clae_status dense_shape(clae_layer *L)
{
    L->oc = (size_t)L->iarg[0];
    L->oh = L->ow = 1;
    return CLAE_OK;
}

static int dense_in_place(const clae_layer *L, int training)
{
    (void)L;
    (void)training;
    return 0;
}

static clae_param *param_named(clae_net *net, const char *name)
{
    for (int i = 0; i < net->n_params; i++)
        if (!strcmp(net->param[i].name, name)) return &net->param[i];
    return NULL;
}

static clae_status dense_declare(clae_net *net, clae_layer *L)
{
    char name[CLAE_TENSOR_NAME];
    if (L->tie >= 0) {
        snprintf(name, sizeof name, "layers.%d.weight", L->tie);
        L->W = param_named(net, name);
        if (!L->W) return clae_fail(CLAE_ERR_ARG, "%s: tied=%d names no earlier dense layer", L->label, L->tie);
        if (L->index > L->W->first_user) L->W->first_user = L->index;
        if (L->index < L->W->last_user) L->W->last_user = L->index;
    } else {
        snprintf(name, sizeof name, "layers.%d.weight", L->ordinal);
        TRY(clae_net_param(net, L->index, L->out, L->in, name, &L->W));
    }
    snprintf(name, sizeof name, "layers.%d.bias", L->ordinal);
    TRY(clae_net_param(net, L->index, 1, L->out, name, &L->b));
    if (L->is_output && net->training_model && net->loss_is_bce)
        TRY(clae_net_declare(net, &L->out_pre, net->batch * L->out, 0, "out_pre"));
    /* A stochastic net's log-likelihood needs the Bernoulli decoder's logits at inference too. */
    if (L->is_output && net->stochastic && net->loss_is_bce)
        TRY(clae_net_declare(net, &L->t[0], net->batch * L->out, 0, "infer.out_pre"));
    return CLAE_OK;
}

/* Uniform limit a, W ~ U(−a, a): Glorot a = sqrt(6/(in+out)) (Glorot & Bengio 2010, eq. 16), He
 * a = sqrt(6/in), i.e. Var W = 2/in (He et al. 2015, eq. 10); auto takes He before relu units. */
float clae_init_limit(const clae_net *net, clae_activation act, double fan_in, double fan_out)
{
    clae_init init = net->init;
    if (init == CLAE_INIT_AUTO) init = act == CLAE_ACT_RELU ? CLAE_INIT_HE : CLAE_INIT_XAVIER;
    return init == CLAE_INIT_HE ? (float)sqrt(6.0 / fan_in) : (float)sqrt(6.0 / (fan_in + fan_out));
}

/* The Philox stream is the layer's ordinal, so every device draws the same weights. */
clae_status clae_weights_init(clae_net *net, clae_layer *L, double fan_in, double fan_out)
{
    return clae_op_init_uniform(net->rt, L->W->value, L->W->value.n, net->seed, (uint32_t)L->ordinal,
                                clae_init_limit(net, L->act, fan_in, fan_out));
}

static clae_status dense_init(clae_net *net, clae_layer *L)
{
    if (L->tie >= 0) return CLAE_OK;
    return clae_weights_init(net, L, (double)L->in, (double)L->out);
}

/* Z = X·Wᵀ (own W, out×in) or Z = X·W_e (tied: the encoder's W_e is in×out here), then b and f. The
 * output layer keeps Z in out_pre for the fused bce loss. */
static clae_status dense_forward(clae_net *net, clae_layer *L, clae_net_pass *p, size_t rows)
{
    clae_runtime *rt = net->rt;
    const size_t in = L->in, out = L->out;
    clae_buf X = p->val[L->index], Y = p->val[L->index + 1];
    const clae_buf none = {0};
    clae_buf Z = (p->training && L->out_pre.n) ? L->out_pre : (!p->training && L->t[0].n) ? L->t[0] : none;
    if (L->tie >= 0)
        TRY(clae_op_gemm_bias_act(rt, 0, 0, rows, out, in, X, in, L->W->value, out, L->b->value, L->act, Z, Y));
    else TRY(clae_op_gemm_bias_act(rt, 0, 1, rows, out, in, X, in, L->W->value, in, L->b->value, L->act, Z, Y));
    if (!p->training) return CLAE_OK;
    for (int r = 0; r < L->n_reg; r++)
        if (L->reg[r].kind->forward) TRY(L->reg[r].kind->forward(net, L, &L->reg[r], p, rows));
    return CLAE_OK;
}

clae_status clae_param_probe(clae_net *net, const clae_param *P)
{
    if (!P || net->phase != net->probe_phase) return CLAE_OK;
    if (net->probe_dW && P == net->probe_W) TRY(clae_buf_read(net->rt, P->grad, 0, net->probe_dW, P->grad.n));
    if (net->probe_db && P == net->probe_b) TRY(clae_buf_read(net->rt, P->grad, 0, net->probe_db, P->grad.n));
    return CLAE_OK;
}

clae_status clae_weights_finish(clae_net *net, clae_layer *L)
{
    clae_runtime *rt = net->rt;
    /* A weight's gradient is complete at its last user. */
    const clae_param *own[4] = {clae_param_updates_here(L->W, L) ? L->W : NULL, L->b, L->W2, L->b2};
    for (int i = 0; i < 4; i++) TRY(clae_param_probe(net, own[i]));
    if (!net->update) return CLAE_OK;
    for (int r = 0; r < L->n_reg; r++)
        if (L->reg[r].kind->around_update) TRY(L->reg[r].kind->around_update(net, L, &L->reg[r], &net->hyper, 1));
    TRY(clae_net_reduce(net, own, 4));
    if (clae_param_updates_here(L->W, L))
        TRY(clae_op_opt_update(rt, &net->hyper, L->W->value, L->W->grad, L->W->s1, L->W->s2, L->W->value.n));
    TRY(clae_op_opt_update(rt, &net->hyper, L->b->value, L->b->grad, L->b->s1, L->b->s2, L->b->value.n));
    for (int h = 0; h < 2; h++) {
        const clae_param *P = h ? L->b2 : L->W2;
        if (P) TRY(clae_op_opt_update(rt, &net->hyper, P->value, P->grad, P->s1, P->s2, P->value.n));
    }
    for (int r = 0; r < L->n_reg; r++)
        if (L->reg[r].kind->around_update) TRY(L->reg[r].kind->around_update(net, L, &L->reg[r], &net->hyper, 0));
    return CLAE_OK;
}

/* G = ∂L/∂A on entry (∂L/∂Z at the output, where the loss fused f' in). dW = Gᵀ·X (own; tied: Xᵀ·G joins
 * the encoder weight's gradient), db = colsum G, ∂L/∂X = G·W. Each parameter is updated right after its
 * last user has formed its gradient, so the gradient dies at once; the math is unchanged because every
 * ∂L/∂X used the weights before the step. */
static clae_status dense_backward(clae_net *net, clae_layer *L, size_t rows)
{
    clae_runtime *rt = net->rt;
    const int k = L->index;
    const size_t in = L->in, out = L->out;
    clae_net_pass *p = &net->train;
    clae_buf G = p->grad[k + 1], X = p->val[k];
    int grad_z = 0;
    for (int r = 0; r < L->n_reg; r++) grad_z |= L->reg[r].kind->grad_z != NULL;
    /* Without a regularizer between f' and the bias gradient, both come from one pass over G. */
    const int fused_db = !L->is_output && !grad_z;
    if (!L->is_output) {
        for (int r = 0; r < L->n_reg; r++)
            if (L->reg[r].kind->grad_act) TRY(L->reg[r].kind->grad_act(net, L, &L->reg[r], G, rows));
        if (fused_db) TRY(clae_op_act_backward_colsum(rt, L->act, p->val[k + 1], G, rows, out, L->b->grad));
        else TRY(clae_op_act_backward(rt, L->act, p->val[k + 1], G, rows * out));
    }
    for (int r = 0; r < L->n_reg; r++)
        if (L->reg[r].kind->grad_z) TRY(L->reg[r].kind->grad_z(net, L, &L->reg[r], G, rows));
    /* A tied weight sums its users' shares, from the first user this pass meets: a pass that starts below the
     * decoder (the adversarial generator phase) meets the encoder's first. */
    float beta = L->W->first_user == k || L->W->first_user > net->backward_top ? 0.0f : 1.0f;
    if (L->tie >= 0) TRY(clae_op_gemm(rt, 1, 0, in, out, rows, 1.0f, X, in, G, out, beta, L->W->grad, out));
    else TRY(clae_op_gemm(rt, 1, 0, out, in, rows, 1.0f, G, out, X, in, beta, L->W->grad, in));
    if (!fused_db) TRY(clae_op_colsum(rt, G, rows, out, L->b->grad));
    for (int r = 0; r < L->n_reg; r++)
        if (L->reg[r].kind->grad_w) TRY(L->reg[r].kind->grad_w(net, L, &L->reg[r], rows));
    if (L->needs_dx) {
        if (L->tie >= 0) TRY(clae_op_gemm(rt, 0, 1, rows, in, out, 1.0f, G, out, L->W->value, out, 0.0f, p->grad[k], in));
        else TRY(clae_op_gemm(rt, 0, 0, rows, in, out, 1.0f, G, out, L->W->value, in, 0.0f, p->grad[k], in));
    }
    return clae_weights_finish(net, L);
}

static void dense_describe(const clae_layer *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", L->tie >= 0 ? "tied weights" : "");
}

const clae_layer_kind clae_layer_dense = {
    .name = "dense",
    .weights = 1,
    .parse = dense_parse,
    .format = dense_format,
    .shape = dense_shape,
    .in_place = dense_in_place,
    .declare = dense_declare,
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
    .describe = dense_describe,
};
