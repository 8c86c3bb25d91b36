/* concrete.c — the concrete autoencoder's selector (Abid, Balin & Zou 2019): K relaxed one-hot picks of the input
 * features by a Gumbel-softmax whose temperature falls from T0 to T_B over training; at inference, the hard picks. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layers/layer.h"
#include "ops/ops_concrete.h"

/* concrete:K[:t0=T0][:tb=TB][:steps=S] — K picks, temperature from T0 (10) to TB (0.01) over S steps
 * (0: it stays at T0). iarg[0] = K, iarg[1] = S, farg[0] = T0, farg[1] = TB. */
static clae_status concrete_parse(clae_layer *L, char **args, int n)
{
    if (n < 1) return clae_fail(CLAE_ERR_ARG, "%s: expected concrete:K[:t0=T0][:tb=TB][:steps=S]", L->label);
    TRY(clae_parse_int(L->label, "picks", args[0], 1, 1000000, &L->iarg[0]));
    L->farg[0] = 10.0f, L->farg[1] = 0.01f, L->iarg[1] = 0;
    L->act = CLAE_ACT_LINEAR;
    L->tie = -1;
    for (int i = 1; i < n; i++) {
        const char *v;
        if (clae_arg_key(args[i], "t0", &v)) TRY(clae_parse_float(L->label, "t0", v, &L->farg[0]));
        else if (clae_arg_key(args[i], "tb", &v)) TRY(clae_parse_float(L->label, "tb", v, &L->farg[1]));
        else if (clae_arg_key(args[i], "steps", &v)) TRY(clae_parse_int(L->label, "steps", v, 0, 2000000000L, &L->iarg[1]));
        else return clae_fail(CLAE_ERR_ARG, "%s: unknown argument '%s'; expected t0=, tb= or steps=", L->label, args[i]);
    }
    if (!(L->farg[0] > 0.0f) || !(L->farg[1] > 0.0f) || L->farg[1] > L->farg[0] || !isfinite(L->farg[0]))
        return clae_fail(CLAE_ERR_ARG, "%s: temperatures t0 %g and tb %g: expected 0 < tb <= t0", L->label,
                         (double)L->farg[0], (double)L->farg[1]);
    return CLAE_OK;
}

static void concrete_format(const clae_layer *L, char *buf, size_t cap)
{
    char t0[32], tb[32];
    clae_format_float(t0, sizeof t0, L->farg[0]);
    clae_format_float(tb, sizeof tb, L->farg[1]);
    snprintf(buf, cap, "%d:t0=%s:tb=%s:steps=%d", L->iarg[0], t0, tb, L->iarg[1]);
}

static clae_status concrete_shape(clae_layer *L)
{
    if ((size_t)L->iarg[0] > L->in)
        return clae_fail(CLAE_ERR_ARG, "%s: %d picks of only %zu features", L->label, L->iarg[0], L->in);
    L->oc = (size_t)L->iarg[0], L->oh = L->ow = 1;
    return CLAE_OK;
}

static int concrete_in_place(const clae_layer *L, int training)
{
    (void)L;
    (void)training;
    return 0;
}

/* The logits Λ (K×D, "selector.logits"); in training the selection M and ∂L/∂M, at inference the picks. */
static clae_status concrete_declare(clae_net *net, clae_layer *L)
{
    const size_t K = L->out, D = L->in;
    TRY(clae_net_param(net, L->index, K, D, "selector.logits", &L->W));
    TRY(clae_net_declare(net, &L->t[2], K, 0, "infer.selector.picks"));
    if (!net->training_model) return CLAE_OK;
    TRY(clae_net_declare(net, &L->t[0], K * D, 0, "selector.M"));
    return clae_net_declare(net, &L->t[1], K * D, 0, "selector.grad_M");
}

/* Λ ~ U(−a, a) with the variance of Glorot's normal, 2/(K+D): a = sqrt(6/(K+D)). */
static clae_status concrete_init(clae_net *net, clae_layer *L)
{
    float a = (float)sqrt(6.0 / ((double)L->in + (double)L->out));
    return clae_op_init_uniform(net->rt, L->W->value, L->W->value.n, net->seed, 0x200u | (uint32_t)L->index, a);
}

/* T_s = max(T_B, T0·α^(s+1)), α = (T_B/T0)^(1/S) (the reference code's schedule, updated before use). */
static float temperature(const clae_net *net, const clae_layer *L)
{
    const double t0 = L->farg[0], tb = L->farg[1];
    if (L->iarg[1] <= 0) return (float)t0;
    double t = t0 * pow(tb / t0, (double)(net->steps + 1) / (double)L->iarg[1]);
    return (float)(t < tb ? tb : t);
}

/* Training: M = softmax((Λ + G)/T) row by row, S = X·Mᵀ. Inference: S = X[:, argmax Λ]. */
static clae_status concrete_forward(clae_net *net, clae_layer *L, clae_net_pass *p, size_t rows)
{
    clae_runtime *rt = net->rt;
    const size_t K = L->out, D = L->in;
    clae_buf X = p->val[L->index], S = p->val[L->index + 1];
    if (!p->training) {
        TRY(clae_op_concrete_argmax(rt, K, D, L->W->value, L->t[2]));
        return clae_op_gather_cols(rt, rows, D, K, X, L->t[2], S);
    }
    TRY(clae_op_concrete_softmax(rt, K, D, L->W->value, temperature(net, L), net->seed, (uint32_t)net->steps, 1, L->t[0]));
    return clae_op_gemm(rt, 0, 1, rows, K, D, 1.0f, X, D, L->t[0], D, 0.0f, S, K);
}

/* ∂L/∂M = G_Sᵀ·X, then through the softmax: ∂Λ = M⊙(∂L/∂M − c)/T; ∂L/∂X = G_S·M. */
static clae_status concrete_backward(clae_net *net, clae_layer *L, size_t rows)
{
    clae_runtime *rt = net->rt;
    clae_net_pass *p = &net->train;
    const size_t K = L->out, D = L->in;
    const int k = L->index;
    clae_buf G = p->grad[k + 1], X = p->val[k];
    TRY(clae_op_gemm(rt, 1, 0, K, D, rows, 1.0f, G, K, X, D, 0.0f, L->t[1], D));
    TRY(clae_op_concrete_backward(rt, K, D, temperature(net, L), L->t[0], L->t[1], L->W->grad));
    if (L->needs_dx) TRY(clae_op_gemm(rt, 0, 0, rows, D, K, 1.0f, G, K, L->t[0], D, 0.0f, p->grad[k], D));
    TRY(clae_param_probe(net, L->W));
    if (!net->update) return CLAE_OK;
    const clae_param *own[1] = {L->W};
    TRY(clae_net_reduce(net, own, 1));
    return clae_op_opt_update(rt, &net->hyper, L->W->value, L->W->grad, L->W->s1, L->W->s2, L->W->value.n);
}

static void concrete_describe(const clae_layer *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "concrete K=%d", L->iarg[0]);
}

const clae_layer_kind clae_layer_concrete = {
    .name = "concrete",
    .learns = 1,
    .parse = concrete_parse,
    .format = concrete_format,
    .shape = concrete_shape,
    .in_place = concrete_in_place,
    .declare = concrete_declare,
    .init = concrete_init,
    .forward = concrete_forward,
    .backward = concrete_backward,
    .describe = concrete_describe,
};
