/* gauss.c — the variational autoencoder's Gaussian layer (Kingma & Welling 2013): the μ and log σ² heads,
 * the reparameterized code z = μ + σ⊙ε in training (μ at inference), and β·KL(q(z|x) ‖ N(0, I)) as its loss term. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layers/layer.h"
#include "ops/ops_vae.h"

/* gauss:L[:beta=B] — L latent units, β of β-VAE (1). */
static clae_status gauss_parse(clae_layer *L, char **args, int n)
{
    if (n < 1) return clae_fail(CLAE_ERR_ARG, "%s: expected gauss:LATENT[:beta=B]", L->label);
    TRY(clae_parse_int(L->label, "latent units", args[0], 1, 1000000, &L->iarg[0]));
    L->farg[0] = 1.0f;
    L->act = CLAE_ACT_LINEAR;
    L->tie = -1;
    for (int i = 1; i < n; i++) {
        const char *v;
        if (clae_arg_key(args[i], "beta", &v)) TRY(clae_parse_float(L->label, "beta", v, &L->farg[0]));
        else return clae_fail(CLAE_ERR_ARG, "%s: unknown argument '%s'; expected beta=B", L->label, args[i]);
    }
    if (!isfinite(L->farg[0]) || L->farg[0] < 0.0f)
        return clae_fail(CLAE_ERR_ARG, "%s: beta %g must be finite and >= 0", L->label, (double)L->farg[0]);
    return CLAE_OK;
}

static void gauss_format(const clae_layer *L, char *buf, size_t cap)
{
    char beta[32];
    clae_format_float(beta, sizeof beta, L->farg[0]);
    if (L->farg[0] == 1.0f) snprintf(buf, cap, "%d", L->iarg[0]);
    else snprintf(buf, cap, "%d:beta=%s", L->iarg[0], beta);
}

static clae_status gauss_shape(clae_layer *L)
{
    if (L->is_output) return clae_fail(CLAE_ERR_ARG, "%s: the Gaussian layer makes the code; a decoder must follow", L->label);
    L->oc = (size_t)L->iarg[0], L->oh = L->ow = 1;
    return CLAE_OK;
}

static int gauss_in_place(const clae_layer *L, int training)
{
    (void)L;
    (void)training;
    return 0;
}

/* μ head "layers.<i>.weight"/".bias", log σ² head "layers.<i>.logvar.weight"/".bias"; in training μ, log σ²,
 * ε (kept for the backward pass), the KL term and the heads' input gradients. */
static clae_status gauss_declare(clae_net *net, clae_layer *L)
{
    char name[CLAE_TENSOR_NAME];
    const size_t n = net->batch * L->out;
    snprintf(name, sizeof name, "layers.%d.weight", L->ordinal);
    TRY(clae_net_param(net, L->index, L->out, L->in, name, &L->W));
    snprintf(name, sizeof name, "layers.%d.bias", L->ordinal);
    TRY(clae_net_param(net, L->index, 1, L->out, name, &L->b));
    snprintf(name, sizeof name, "layers.%d.logvar.weight", L->ordinal);
    TRY(clae_net_param(net, L->index, L->out, L->in, name, &L->W2));
    snprintf(name, sizeof name, "layers.%d.logvar.bias", L->ordinal);
    TRY(clae_net_param(net, L->index, 1, L->out, name, &L->b2));
    /* Inference draws codes too when log-likelihoods are asked for (clae_model_log_likelihood). */
    TRY(clae_net_declare(net, &L->t[5], n, 0, "infer.vae.mu.%d", L->index));
    TRY(clae_net_declare(net, &L->t[6], n, 0, "infer.vae.logvar.%d", L->index));
    TRY(clae_net_declare(net, &L->t[7], n, 0, "infer.vae.eps.%d", L->index));
    if (!net->training_model) return CLAE_OK;
    TRY(clae_net_declare(net, &L->t[0], n, 0, "vae.mu.%d", L->index));
    TRY(clae_net_declare(net, &L->t[1], n, 0, "vae.logvar.%d", L->index));
    TRY(clae_net_declare(net, &L->t[2], n, 0, "vae.eps.%d", L->index));
    TRY(clae_net_declare(net, &L->t[3], 1, 0, "vae.kl.%d", L->index));
    TRY(clae_net_declare(net, &L->t[4], 2 * n, 0, "vae.grad_heads.%d", L->index));
    return CLAE_OK;
}

/* Both heads as the dense layers' rule draws them, on Philox streams of their own. */
static clae_status gauss_init(clae_net *net, clae_layer *L)
{
    TRY(clae_weights_init(net, L, (double)L->in, (double)L->out));
    float a = (float)sqrt(6.0 / ((double)L->in + (double)L->out));
    return clae_op_init_uniform(net->rt, L->W2->value, L->W2->value.n, net->seed, (uint32_t)L->ordinal | 0x100u, a);
}

/* A head: H = X·Wᵀ + b. */
static clae_status head(clae_runtime *rt, clae_buf X, const clae_param *W, const clae_param *b, clae_buf H, size_t rows,
                        size_t in, size_t out)
{
    TRY(clae_op_gemm(rt, 0, 1, rows, out, in, 1.0f, X, in, W->value, in, 0.0f, H, out));
    return clae_op_bias_add(rt, H, b->value, rows, out);
}

/* Training: z = μ + exp(s/2)·ε with ε keyed by (seed, step, data-set row, unit); inference: z = μ. */
static clae_status gauss_forward(clae_net *net, clae_layer *L, clae_net_pass *p, size_t rows)
{
    clae_runtime *rt = net->rt;
    clae_buf X = p->val[L->index], Z = p->val[L->index + 1];
    if (!p->training && !net->draws) return head(rt, X, L->W, L->b, Z, rows, L->in, L->out);
    if (!p->training) {
        /* Draw `draw` of `draws` for each row: e = (row·draws + draw)·L + l, step 0. */
        TRY(head(rt, X, L->W, L->b, L->t[5], rows, L->in, L->out));
        TRY(head(rt, X, L->W2, L->b2, L->t[6], rows, L->in, L->out));
        return clae_op_gauss_sample(rt, rows, L->out, L->t[5], L->t[6], net->infer_row_ids, net->seed, 0, CLAE_STREAM_GAUSS,
                                    net->draw, net->draws, L->t[7], Z);
    }
    TRY(head(rt, X, L->W, L->b, L->t[0], rows, L->in, L->out));
    TRY(head(rt, X, L->W2, L->b2, L->t[1], rows, L->in, L->out));
    TRY(clae_op_gauss_sample(rt, rows, L->out, L->t[0], L->t[1], net->row_ids, net->seed, (uint32_t)net->steps,
                             CLAE_STREAM_GAUSS, 0, 1, L->t[2], Z));
    clae_buf none = {0};
    return clae_op_gauss_kl(rt, rows, L->out, L->farg[0], L->t[0], L->t[1], L->t[3], none);
}

static clae_status gauss_penalty(clae_net *net, clae_layer *L, double *penalty)
{
    float v = 0.0f;
    TRY(clae_buf_read(net->rt, L->t[3], 0, &v, 1));
    *penalty += v;
    return CLAE_OK;
}

/* G_μ = G_Z + (β/B)·μ and G_s = G_Z·ε·σ/2 + (β/2B)·(e^s − 1); each head's dW = Gᵀ·X and db = colsum G;
 * ∂L/∂X = G_μ·W_μ + G_s·W_s. */
static clae_status gauss_backward(clae_net *net, clae_layer *L, size_t rows)
{
    clae_runtime *rt = net->rt;
    clae_net_pass *p = &net->train;
    const int k = L->index;
    const size_t in = L->in, out = L->out, n = rows * out;
    clae_buf X = p->val[k], GMU = clae_buf_view(L->t[4], 0, n), GS = clae_buf_view(L->t[4], n, n);
    TRY(clae_op_gauss_backward(rt, rows, out, L->farg[0], L->t[0], L->t[1], L->t[2], p->grad[k + 1], GMU, GS));
    TRY(clae_op_gemm(rt, 1, 0, out, in, rows, 1.0f, GMU, out, X, in, 0.0f, L->W->grad, in));
    TRY(clae_op_colsum(rt, GMU, rows, out, L->b->grad));
    TRY(clae_op_gemm(rt, 1, 0, out, in, rows, 1.0f, GS, out, X, in, 0.0f, L->W2->grad, in));
    TRY(clae_op_colsum(rt, GS, rows, out, L->b2->grad));
    if (L->needs_dx) {
        TRY(clae_op_gemm(rt, 0, 0, rows, in, out, 1.0f, GMU, out, L->W->value, in, 0.0f, p->grad[k], in));
        TRY(clae_op_gemm(rt, 0, 0, rows, in, out, 1.0f, GS, out, L->W2->value, in, 1.0f, p->grad[k], in));
    }
    return clae_weights_finish(net, L);
}

static void gauss_describe(const clae_layer *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "variational beta=%g", (double)L->farg[0]);
}

const clae_layer_kind clae_layer_gauss = {
    .name = "gauss",
    .weights = 1,
    .parse = gauss_parse,
    .format = gauss_format,
    .shape = gauss_shape,
    .in_place = gauss_in_place,
    .declare = gauss_declare,
    .init = gauss_init,
    .forward = gauss_forward,
    .backward = gauss_backward,
    .describe = gauss_describe,
    .penalty = gauss_penalty,
};
