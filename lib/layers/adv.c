/* adv.c — the adversarial autoencoder's adversary of the code (Makhzani et al. 2015): a discriminator net that
 * learns to tell prior draws from codes (phase 2), and the gradient that teaches the encoder to fool it (phase 3). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layers/layer.h"
#include "ops/ops_aae.h"

#define ADV_MAX_HIDDEN 3

/* adv[:W1xW2...][:mix=K][:lr_disc=R][:lr_gen=R] — the discriminator's hidden relu widths (256x256; the paper's MNIST
 * nets had 1000x1000), the prior (N(0, I); mix=K a mixture of K Gaussians), the rates of phases 2 and 3 (0: half
 * the model's). */
static clae_status adv_parse(clae_layer *L, char **args, int n)
{
    L->tie = -1;
    L->act = CLAE_ACT_LINEAR;
    L->iarg[0] = L->iarg[1] = 256;
    L->iarg[2] = L->iarg[3] = 0;
    L->farg[0] = L->farg[1] = 0.0f;
    for (int i = 0; i < n; i++) {
        const char *v;
        if (clae_arg_key(args[i], "mix", &v)) {
            TRY(clae_parse_int(L->label, "mix components", v, 1, CLAE_AAE_MAX_MODES, &L->iarg[3]));
        } else if (clae_arg_key(args[i], "lr_disc", &v) || clae_arg_key(args[i], "lr_gen", &v)) {
            int gen = args[i][3] == 'g';
            float *r = &L->farg[gen];
            TRY(clae_parse_float(L->label, gen ? "lr_gen" : "lr_disc", v, r));
            if (!isfinite(*r) || *r < 0.0f)
                return clae_fail(CLAE_ERR_ARG, "%s: %s %g must be finite and >= 0 (0: half the model's rate)", L->label,
                                 gen ? "lr_gen" : "lr_disc", (double)*r);
        } else if (i == 0) {
            char *p = args[0];
            int h = 0;
            L->iarg[0] = L->iarg[1] = 0;
            while (*p) {
                char *x = strchr(p, 'x');
                if (x) *x = '\0';
                if (h == ADV_MAX_HIDDEN)
                    return clae_fail(CLAE_ERR_ARG, "%s: more than %d hidden layers in the discriminator", L->label,
                                     ADV_MAX_HIDDEN);
                TRY(clae_parse_int(L->label, "discriminator width", p, 1, 1000000, &L->iarg[h++]));
                if (!x) break;
                p = x + 1;
                if (!*p) return clae_fail(CLAE_ERR_ARG, "%s: a width is missing after the last 'x'", L->label);
            }
            if (!h) return clae_fail(CLAE_ERR_ARG, "%s: expected the discriminator's widths, e.g. 256x256", L->label);
        } else {
            return clae_fail(CLAE_ERR_ARG, "%s: unknown argument '%s'; expected WIDTHxWIDTH, mix=K, lr_disc=R or lr_gen=R",
                             L->label, args[i]);
        }
    }
    return CLAE_OK;
}

static int hidden_count(const clae_layer *L)
{
    int h = 0;
    while (h < ADV_MAX_HIDDEN && L->iarg[h] > 0) h++;
    return h;
}

static void adv_format(const clae_layer *L, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap) buf[0] = '\0';
    for (int h = 0; h < hidden_count(L); h++) clae_appendf(buf, cap, &len, "%s%d", h ? "x" : "", L->iarg[h]);
    if (L->iarg[3]) clae_appendf(buf, cap, &len, ":mix=%d", L->iarg[3]);
    for (int g = 0; g < 2; g++) {
        char r[32];
        clae_format_float(r, sizeof r, L->farg[g]);
        if (L->farg[g] > 0.0f) clae_appendf(buf, cap, &len, ":%s=%s", g ? "lr_gen" : "lr_disc", r);
    }
}

static clae_status adv_shape(clae_layer *L)
{
    if (L->is_output) return clae_fail(CLAE_ERR_ARG, "%s: the adversary regularizes the code; a decoder must follow", L->label);
    if (L->iarg[3] && L->in % 2)
        return clae_fail(CLAE_ERR_ARG, "%s: mix=%d draws its components in pairs of code units, but the code has %zu",
                         L->label, L->iarg[3], L->in);
    L->oc = L->ic, L->oh = L->ih, L->ow = L->iw;
    return CLAE_OK;
}

/* The code passes through: the adversary acts only in its own phases. */
static int adv_in_place(const clae_layer *L, int training)
{
    (void)L;
    (void)training;
    return 1;
}

/* Discriminator layer j: width and input width (layer H, the last, is the one logit). */
static size_t width(const clae_layer *L, int j) { return j < hidden_count(L) ? (size_t)L->iarg[j] : 1; }
static size_t fan_in(const clae_layer *L, int j) { return j ? width(L, j - 1) : L->in; }
static clae_param *weight(clae_net *net, const clae_layer *L, int j) { return &net->param[L->first_param + 2 * j]; }
static clae_param *bias(clae_net *net, const clae_layer *L, int j) { return &net->param[L->first_param + 2 * j + 1]; }

/* Layer j's activations in t[1]: a slab of 2·batch rows each (prior draws, then codes), rows × width used. */
static clae_buf acts(const clae_net *net, const clae_layer *L, int j, size_t rows)
{
    size_t off = 0;
    for (int i = 0; i < j; i++) off += width(L, i);
    return clae_buf_view(L->t[1], 2 * net->batch * off, rows * width(L, j));
}

static size_t widest(const clae_layer *L)
{
    size_t w = L->in;
    for (int j = 0; j < hidden_count(L); j++)
        if (width(L, j) > w) w = width(L, j);
    return w;
}

/* The two gradient buffers that take turns in t[2], each 2·batch rows of the widest layer. */
static clae_buf grads(const clae_net *net, const clae_layer *L, int turn, size_t rows, size_t w)
{
    return clae_buf_view(L->t[2], (size_t)turn * 2 * net->batch * widest(L), rows * w);
}

/* Training models only: parameters "aae.disc.<j>.weight"/".bias" (out×in, as dense layers), the batch of draws
 * and codes, the activations, two gradient buffers that take turns, and the figures (persistent, 4 floats). */
static clae_status adv_declare(clae_net *net, clae_layer *L)
{
    if (!net->training_model) return CLAE_OK;
    const int H = hidden_count(L);
    const size_t R = 2 * net->batch;
    size_t sum = 0;
    L->first_param = net->n_params;
    for (int j = 0; j <= H; j++) {
        char name[CLAE_TENSOR_NAME];
        clae_param *P;
        snprintf(name, sizeof name, "aae.disc.%d.weight", j);
        TRY(clae_net_param(net, L->index, width(L, j), fan_in(L, j), name, &P));
        snprintf(name, sizeof name, "aae.disc.%d.bias", j);
        TRY(clae_net_param(net, L->index, 1, width(L, j), name, &P));
        sum += width(L, j);
    }
    TRY(clae_net_declare(net, &L->t[0], R * L->in, 0, "aae.batch"));
    TRY(clae_net_declare(net, &L->t[1], R * sum, 0, "aae.acts"));
    TRY(clae_net_declare(net, &L->t[2], 2 * R * widest(L), 0, "aae.grads"));
    return clae_net_declare(net, &L->t[3], 4, 1, "aae.stats");
}

/* The discriminator's weights as dense layers draw theirs (He before relu units, Xavier before the logit), on
 * Philox streams of their own (0x200 + j), so every device starts from the same net. */
static clae_status adv_init(clae_net *net, clae_layer *L)
{
    if (!net->training_model) return CLAE_OK;
    for (int j = 0; j <= hidden_count(L); j++) {
        clae_activation act = j < hidden_count(L) ? CLAE_ACT_RELU : CLAE_ACT_LINEAR;
        float a = clae_init_limit(net, act, (double)fan_in(L, j), (double)width(L, j));
        clae_param *W = weight(net, L, j);
        TRY(clae_op_init_uniform(net->rt, W->value, W->value.n, net->seed, 0x200u + (uint32_t)j, a));
    }
    return CLAE_OK;
}

static clae_status adv_forward(clae_net *net, clae_layer *L, clae_net_pass *p, size_t rows)
{
    (void)net, (void)L, (void)p, (void)rows;
    return CLAE_OK;
}

/* In the reconstruction phase the code's gradient passes through unchanged (in place). */
static clae_status adv_backward(clae_net *net, clae_layer *L, size_t rows)
{
    (void)net, (void)L, (void)rows;
    return CLAE_OK;
}

/* The rate of the discriminator's (gen 0) or the generator's phase (gen 1): its own, else half the model's, the
 * ratio of the public PyTorch reproductions (Adam at 1e-4 for reconstruction, 5e-5 for both adversarial phases). */
static float rate(const clae_layer *L, int gen, float model_lr) { return L->farg[gen] > 0.0f ? L->farg[gen] : 0.5f * model_lr; }

/* D(X) over rows: A_j = relu(A_{j−1}·W_jᵀ + b_j), the last layer's one logit linear. */
static clae_status disc_forward(clae_net *net, clae_layer *L, clae_buf X, size_t rows)
{
    const int H = hidden_count(L);
    for (int j = 0; j <= H; j++) {
        clae_buf in = j ? acts(net, L, j - 1, rows) : X, out = acts(net, L, j, rows);
        TRY(clae_op_gemm(net->rt, 0, 1, rows, width(L, j), fan_in(L, j), 1.0f, in, fan_in(L, j),
                         weight(net, L, j)->value, fan_in(L, j), 0.0f, out, width(L, j)));
        TRY(clae_op_bias_add(net->rt, out, bias(net, L, j)->value, rows, width(L, j)));
        if (j < H) TRY(clae_op_act_forward(net->rt, CLAE_ACT_RELU, out, out, rows * width(L, j)));
    }
    return CLAE_OK;
}

/* Back from the logits' seeds (gradient turn H % 2): per layer G_Z = G_A ⊙ relu′, then the parameters' dW = G_Zᵀ·A_{j−1}
 * and db = colsum G_Z (params), and ∂/∂A_{j−1} = G_Z·W_j — for j = 0 into dx (rows × the code's width) when dx
 * is given. */
static clae_status disc_backward(clae_net *net, clae_layer *L, clae_buf X, size_t rows, int params, clae_buf dx)
{
    clae_runtime *rt = net->rt;
    const int H = hidden_count(L);
    for (int j = H; j >= 0; j--) {
        clae_buf G = grads(net, L, j % 2, rows, width(L, j)), in = j ? acts(net, L, j - 1, rows) : X;
        if (j < H) TRY(clae_op_act_backward(rt, CLAE_ACT_RELU, acts(net, L, j, rows), G, rows * width(L, j)));
        if (params) {
            TRY(clae_op_gemm(rt, 1, 0, width(L, j), fan_in(L, j), rows, 1.0f, G, width(L, j), in, fan_in(L, j), 0.0f,
                             weight(net, L, j)->grad, fan_in(L, j)));
            TRY(clae_op_colsum(rt, G, rows, width(L, j), bias(net, L, j)->grad));
        }
        clae_buf below = j ? grads(net, L, (j - 1) % 2, rows, fan_in(L, j)) : dx;
        if (j || dx.n)
            TRY(clae_op_gemm(rt, 0, 0, rows, fan_in(L, j), width(L, j), 1.0f, G, width(L, j), weight(net, L, j)->value,
                             fan_in(L, j), 0.0f, below, fan_in(L, j)));
    }
    return CLAE_OK;
}

/* Phase 2: X_D = [prior draws; codes] (2·rows), L_D = (1/rows)·Σ [softplus(−d_real) + softplus(d_fake)], seeds
 * (σ(d) − t)/rows, then back through the discriminator and its update at rate lr_disc. */
static clae_status adv_discriminate(clae_net *net, clae_layer *L, size_t rows)
{
    clae_runtime *rt = net->rt;
    const int H = hidden_count(L);
    const size_t R = 2 * rows;
    TRY(clae_op_aae_batch(rt, rows, L->in, (uint32_t)L->iarg[3], net->row_ids, net->seed, (uint32_t)net->steps,
                          CLAE_STREAM_AAE_PRIOR, net->train.val[L->index], L->t[0]));
    clae_buf X = clae_buf_view(L->t[0], 0, R * L->in);
    TRY(disc_forward(net, L, X, R));
    TRY(clae_op_aae_logit_loss(rt, rows, rows, acts(net, L, H, R), grads(net, L, H % 2, R, 1), clae_buf_view(L->t[3], 0, 2)));
    clae_buf none = {0};
    TRY(disc_backward(net, L, X, R, 1, none));
    for (int j = 0; j <= H; j++) {
        TRY(clae_param_probe(net, weight(net, L, j)));
        TRY(clae_param_probe(net, bias(net, L, j)));
    }
    if (!net->update) return CLAE_OK;
    clae_opt_hyper h = net->hyper;
    h.lr = rate(L, 0, net->hyper.lr);
    for (int j = 0; j <= H; j++)
        for (int b = 0; b < 2; b++) {
            clae_param *P = b ? bias(net, L, j) : weight(net, L, j);
            TRY(clae_op_opt_update(rt, &h, P->value, P->grad, P->s1, P->s2, P->value.n));
        }
    return CLAE_OK;
}

/* Phase 3: d = D(codes) with the updated discriminator, L_G = (1/rows)·Σ softplus(−d) (the non-saturating form,
 * −log D), seeds (σ(d) − 1)/rows, and back through the discriminator (its parameters untouched) into the code's
 * gradient; the encoder's update then runs at lr_gen. */
static clae_status adv_generate(clae_net *net, clae_layer *L, size_t rows, clae_opt_hyper *h)
{
    const int H = hidden_count(L), k = L->index;
    clae_buf Z = net->train.val[k];
    TRY(disc_forward(net, L, Z, rows));
    TRY(clae_op_aae_logit_loss(net->rt, rows, 0, acts(net, L, H, rows), grads(net, L, H % 2, rows, 1),
                               clae_buf_view(L->t[3], 2, 2)));
    TRY(disc_backward(net, L, Z, rows, 0, clae_buf_view(net->train.grad[k], 0, rows * L->in)));
    h->lr = rate(L, 1, h->lr);
    return CLAE_OK;
}

static void adv_describe(const clae_layer *L, char *buf, size_t cap)
{
    char widths[64] = "";
    size_t len = 0;
    for (int h = 0; h < hidden_count(L); h++) clae_appendf(widths, sizeof widths, &len, "%s%d", h ? "x" : "", L->iarg[h]);
    if (L->iarg[3]) snprintf(buf, cap, "adversarial prior=mix%d disc=%s", L->iarg[3], widths);
    else snprintf(buf, cap, "adversarial prior=gauss disc=%s", widths);
}

const clae_layer_kind clae_layer_adv = {
    .name = "adv",
    .couples_rows = "its discriminator and generator phases train on the whole batch's codes and prior draws with "
                    "updates of their own, which the split does not reduce",
    .parse = adv_parse,
    .format = adv_format,
    .shape = adv_shape,
    .in_place = adv_in_place,
    .declare = adv_declare,
    .init = adv_init,
    .forward = adv_forward,
    .backward = adv_backward,
    .describe = adv_describe,
    .discriminate = adv_discriminate,
    .generate = adv_generate,
};
