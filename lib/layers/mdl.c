/* mdl.c — the minimum-description-length autoencoder's code layer (Hinton & Zemel 1994, relaxed as Ballé, Laparra &
 * Simoncelli 2017): in training the code plus uniform noise and its rate under a learned logistic prior; at inference
 * the rounded code. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layers/layer.h"
#include "ops/ops_mdl.h"

/* mdl[:sigma=S][:delta=D][:lambda=L] — the residual's noise scale σ_x (0.05), the data's bin Δ_x (1/255) and the
 * rate's weight λ (1: pure MDL). farg[0..2]. */
static clae_status mdl_parse(clae_layer *L, char **args, int n)
{
    L->farg[0] = 0.05f, L->farg[1] = 1.0f / 255.0f, L->farg[2] = 1.0f;
    L->act = CLAE_ACT_LINEAR;
    L->tie = -1;
    for (int i = 0; i < n; i++) {
        const char *v;
        if (clae_arg_key(args[i], "sigma", &v)) TRY(clae_parse_float(L->label, "sigma", v, &L->farg[0]));
        else if (clae_arg_key(args[i], "delta", &v)) TRY(clae_parse_float(L->label, "delta", v, &L->farg[1]));
        else if (clae_arg_key(args[i], "lambda", &v)) TRY(clae_parse_float(L->label, "lambda", v, &L->farg[2]));
        else return clae_fail(CLAE_ERR_ARG, "%s: unknown argument '%s'; expected sigma=, delta= or lambda=", L->label, args[i]);
    }
    if (!(L->farg[0] > 0.0f) || !(L->farg[1] > 0.0f) || !(L->farg[2] >= 0.0f) || !isfinite(L->farg[0] + L->farg[1] + L->farg[2]))
        return clae_fail(CLAE_ERR_ARG, "%s: sigma and delta must be positive, lambda >= 0", L->label);
    return CLAE_OK;
}

static void mdl_format(const clae_layer *L, char *buf, size_t cap)
{
    char s[32], d[32], l[32];
    clae_format_float(s, sizeof s, L->farg[0]);
    clae_format_float(d, sizeof d, L->farg[1]);
    clae_format_float(l, sizeof l, L->farg[2]);
    snprintf(buf, cap, "sigma=%s:delta=%s:lambda=%s", s, d, l);
}

static clae_status mdl_shape(clae_layer *L)
{
    if (L->is_output) return clae_fail(CLAE_ERR_ARG, "%s: the MDL layer quantizes the code; a decoder must follow", L->label);
    L->oc = L->in, L->oh = L->ow = 1;
    return CLAE_OK;
}

static int mdl_in_place(const clae_layer *L, int training)
{
    (void)L;
    (void)training;
    return 0;
}

/* The prior's location and log-scale per unit (start 0 and 0: a unit logistic); the rate of the last training
 * forward; at inference the rate of each row, for clae_model_code_length. */
static clae_status mdl_declare(clae_net *net, clae_layer *L)
{
    if (net->loss_is_bce)
        return clae_fail(CLAE_ERR_ARG, "%s: the MDL residual is Gaussian: train it with --loss sse", L->label);
    TRY(clae_net_param(net, L->index, 1, L->in, "mdl.prior.loc", &L->W));
    TRY(clae_net_param(net, L->index, 1, L->in, "mdl.prior.log_scale", &L->b));
    TRY(clae_net_declare(net, &L->t[2], net->batch, 0, "infer.mdl.rate_rows"));
    TRY(clae_net_declare(net, &L->t[3], 1, 0, "infer.mdl.rate"));
    if (!net->training_model) return CLAE_OK;
    return clae_net_declare(net, &L->t[0], 1, 0, "mdl.rate");
}

/* The model's loss is sse, ½Σ(x − x̂)² per row: the distortion in bits is that over σ_x²·ln 2 (plus a constant), so
 * the rate joins it weighted λ·σ_x²·ln 2, which keeps the optimum of λ·rate + distortion in bits. */
static float rate_weight(const clae_layer *L) { return L->farg[2] * L->farg[0] * L->farg[0] * 0.69314718f; /* ln 2 */ }

static clae_status mdl_forward(clae_net *net, clae_layer *L, clae_net_pass *p, size_t rows)
{
    clae_runtime *rt = net->rt;
    clae_buf Y = p->val[L->index], T = p->val[L->index + 1];
    if (!p->training) {
        clae_buf none = {0};
        TRY(clae_op_mdl_quantize(rt, rows, L->in, Y, none, net->seed, 0, 0, T));
        return clae_op_mdl_rate(rt, rows, L->in, T, L->W->value, L->b->value, 1.0f, L->t[2], L->t[3]);
    }
    TRY(clae_op_mdl_quantize(rt, rows, L->in, Y, net->row_ids, net->seed, (uint32_t)net->steps, 1, T));
    clae_buf none = {0};
    return clae_op_mdl_rate(rt, rows, L->in, T, L->W->value, L->b->value, rate_weight(L), none, L->t[0]);
}

static clae_status mdl_penalty(clae_net *net, clae_layer *L, double *penalty)
{
    float v = 0.0f;
    TRY(clae_buf_read(net->rt, L->t[0], 0, &v, 1));
    *penalty += v;
    return CLAE_OK;
}

/* The rate's gradient joins the decoder's on the noisy code; the noise is additive, so the encoder's output gets
 * the same gradient. */
static clae_status mdl_backward(clae_net *net, clae_layer *L, size_t rows)
{
    clae_runtime *rt = net->rt;
    clae_net_pass *p = &net->train;
    const int k = L->index;
    clae_buf G = p->grad[k + 1];
    TRY(clae_op_mdl_rate_backward(rt, rows, L->in, p->val[k + 1], L->W->value, L->b->value, rate_weight(L), G, L->W->grad,
                                  L->b->grad));
    if (L->needs_dx) TRY(clae_op_act_forward(rt, CLAE_ACT_LINEAR, G, p->grad[k], rows * L->in));
    const clae_param *own[2] = {L->W, L->b};
    for (int i = 0; i < 2; i++) TRY(clae_param_probe(net, own[i]));
    if (!net->update) return CLAE_OK;
    TRY(clae_net_reduce(net, own, 2));
    for (int i = 0; i < 2; i++)
        TRY(clae_op_opt_update(rt, &net->hyper, own[i]->value, own[i]->grad, own[i]->s1, own[i]->s2, own[i]->value.n));
    return CLAE_OK;
}

static void mdl_describe(const clae_layer *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "minimum description length sigma=%g lambda=%g", (double)L->farg[0], (double)L->farg[2]);
}

const clae_layer_kind clae_layer_mdl = {
    .name = "mdl",
    .learns = 1,
    .parse = mdl_parse,
    .format = mdl_format,
    .shape = mdl_shape,
    .in_place = mdl_in_place,
    .declare = mdl_declare,
    .forward = mdl_forward,
    .backward = mdl_backward,
    .describe = mdl_describe,
    .penalty = mdl_penalty,
};
