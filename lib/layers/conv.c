/* conv.c — the convolutional layers of a convolutional autoencoder (Masci et al. 2011): conv, A = f(W∗X + b),
 * and its transpose convT, forward and backward on NCHW images through the image ops of lib/ops/ops_conv.h. */
#include <stdio.h>
#include <string.h>

#include "layers/layer.h"
#include "ops/ops_conv.h"

/* conv:F:K[:sS][:pP][:ACT] and convT alike: F filters of K×K, stride S (1), zero padding P (0), ACT (relu). */
static clae_status conv_parse(clae_layer *L, char **args, int n)
{
    if (n < 2) return clae_fail(CLAE_ERR_ARG, "%s: expected %s:FILTERS:KERNEL[:sSTRIDE][:pPAD][:ACTIVATION]", L->label,
                                L->kind->name);
    TRY(clae_parse_int(L->label, "filters", args[0], 1, 1000000, &L->iarg[0]));
    TRY(clae_parse_int(L->label, "kernel", args[1], 1, 1000, &L->iarg[1]));
    L->iarg[2] = 1;
    L->iarg[3] = 0;
    L->act = CLAE_ACT_RELU;
    L->tie = -1;
    for (int i = 2; i < n; i++) {
        if (args[i][0] == 's' && args[i][1] >= '0' && args[i][1] <= '9')
            TRY(clae_parse_int(L->label, "stride", args[i] + 1, 1, 1000, &L->iarg[2]));
        else if (args[i][0] == 'p' && args[i][1] >= '0' && args[i][1] <= '9')
            TRY(clae_parse_int(L->label, "padding", args[i] + 1, 0, 1000, &L->iarg[3]));
        else if (clae_activation_parse(args[i], &L->act) != CLAE_OK)
            return clae_fail(CLAE_ERR_ARG, "%s: '%s' is neither sSTRIDE, pPAD nor an activation (linear, sigmoid, tanh, relu)",
                             L->label, args[i]);
    }
    return CLAE_OK;
}

static void conv_format(const clae_layer *L, char *buf, size_t cap)
{
    int k = snprintf(buf, cap, "%d:%d", L->iarg[0], L->iarg[1]);
    if (L->iarg[2] != 1 && k > 0 && (size_t)k < cap) k += snprintf(buf + k, cap - (size_t)k, ":s%d", L->iarg[2]);
    if (L->iarg[3] != 0 && k > 0 && (size_t)k < cap) k += snprintf(buf + k, cap - (size_t)k, ":p%d", L->iarg[3]);
    if (k > 0 && (size_t)k < cap) snprintf(buf + k, cap - (size_t)k, ":%s", clae_activation_name(L->act));
}

static int never_in_place(const clae_layer *L, int training)
{
    (void)L;
    (void)training;
    return 0;
}

/* conv: its own geometry, input to output. convT: the conv its transpose is, output to input. */
static clae_status geometry(const clae_layer *L, clae_conv_geom *g)
{
    const size_t F = (size_t)L->iarg[0], K = (size_t)L->iarg[1], S = (size_t)L->iarg[2], P = (size_t)L->iarg[3];
    if (L->kind == &clae_layer_conv) return clae_conv_geom_make(L->ic, L->ih, L->iw, F, K, S, P, g);
    return clae_conv_geom_make(F, L->oh, L->ow, L->ic, K, S, P, g);
}

static clae_status conv_shape(clae_layer *L)
{
    clae_conv_geom g;
    const long K = L->iarg[1], S = L->iarg[2], P = L->iarg[3];
    if (L->kind == &clae_layer_conv) {
        if (geometry(L, &g) != CLAE_OK)
            return clae_fail(CLAE_ERR_ARG, "%s: a %ldx%ld kernel with padding %ld does not fit a %zux%zu input", L->label, K, K,
                             P, L->ih, L->iw);
        L->oc = g.F, L->oh = g.Ho, L->ow = g.Wo;
        return CLAE_OK;
    }
    long oh = ((long)L->ih - 1) * S - 2 * P + K, ow = ((long)L->iw - 1) * S - 2 * P + K;
    if (oh < 1 || ow < 1 || P >= K)
        return clae_fail(CLAE_ERR_ARG, "%s: a %zux%zu input gives no output (size (H-1)·S - 2P + K)", L->label, L->ih, L->iw);
    L->oc = (size_t)L->iarg[0], L->oh = (size_t)oh, L->ow = (size_t)ow;
    return geometry(L, &g);
}

/* The weight as the model file stores it: conv F × C·K·K (PyTorch's F×C×K×K flattened), convT C × F·K·K. */
static clae_status conv_declare(clae_net *net, clae_layer *L)
{
    clae_conv_geom g;
    TRY(geometry(L, &g));
    char name[CLAE_TENSOR_NAME];
    snprintf(name, sizeof name, "layers.%d.weight", L->ordinal);
    TRY(clae_net_param(net, L->index, g.F, g.C * g.K * g.K, name, &L->W));
    snprintf(name, sizeof name, "layers.%d.bias", L->ordinal);
    TRY(clae_net_param(net, L->index, 1, L->oc, name, &L->b));
    size_t col, tmp;
    clae_op_conv_scratch(net->rt, &g, net->batch, &col, &tmp);
    if (net->training_model) {
        TRY(clae_net_declare(net, &L->t[0], col, 0, "conv.col.%d", L->index));
        TRY(clae_net_declare(net, &L->t[1], tmp, 0, "conv.tmp.%d", L->index));
    }
    TRY(clae_net_declare(net, &L->t[2], col, 0, "infer.conv.col.%d", L->index));
    TRY(clae_net_declare(net, &L->t[3], tmp, 0, "infer.conv.tmp.%d", L->index));
    if (L->is_output && net->training_model && net->loss_is_bce)
        TRY(clae_net_declare(net, &L->out_pre, net->batch * L->out, 0, "out_pre"));
    return CLAE_OK;
}

/* Fans of a K×K window: conv in C·K·K, out F·K·K; convT, whose outputs each see about (K/S)² inputs of
 * each channel, in C·K·K/S² (at least 1). */
static clae_status conv_init(clae_net *net, clae_layer *L)
{
    const double K2 = (double)L->iarg[1] * L->iarg[1], S2 = (double)L->iarg[2] * L->iarg[2];
    double fan_in = (double)L->ic * K2, fan_out = (double)L->oc * K2;
    if (L->kind == &clae_layer_convT) fan_in = fan_in / S2 < 1.0 ? 1.0 : fan_in / S2;
    return clae_weights_init(net, L, fan_in, fan_out);
}

static clae_status conv_forward(clae_net *net, clae_layer *L, clae_net_pass *p, size_t rows)
{
    clae_runtime *rt = net->rt;
    clae_conv_geom g;
    TRY(geometry(L, &g));
    clae_buf X = p->val[L->index], Y = p->val[L->index + 1], none = {0};
    clae_buf Z = (p->training && L->out_pre.n) ? L->out_pre : Y;
    clae_buf col = p->training ? L->t[0] : L->t[2], tmp = p->training ? L->t[1] : L->t[3];
    if (L->kind == &clae_layer_conv) {
        TRY(clae_op_conv_forward(rt, &g, rows, X, L->W->value, L->b->value, Z, col, tmp));
    } else {
        /* The transpose's forward is its conv's input gradient. */
        TRY(clae_op_conv_backward(rt, &g, rows, none, L->W->value, X, none, none, Z, col, tmp));
        TRY(clae_op_channel_bias_add(rt, rows, L->oc, L->oh * L->ow, Z, L->b->value));
    }
    TRY(clae_op_act_forward(rt, L->act, Z, Y, rows * L->out));
    if (!p->training) return CLAE_OK;
    for (int r = 0; r < L->n_reg; r++)
        if (L->reg[r].kind->forward) TRY(L->reg[r].kind->forward(net, L, &L->reg[r], p, rows));
    return CLAE_OK;
}

/* G = ∂L/∂A on entry (∂L/∂Z at the output). conv: dW, db and dX from conv_backward. convT: db the channel
 * sums of G, dW its conv's weight gradient with G as that conv's input, dX its conv's forward of G. */
static clae_status conv_backward(clae_net *net, clae_layer *L, size_t rows)
{
    clae_runtime *rt = net->rt;
    clae_net_pass *p = &net->train;
    const int k = L->index;
    clae_conv_geom g;
    TRY(geometry(L, &g));
    clae_buf G = p->grad[k + 1], X = p->val[k], none = {0};
    if (!L->is_output) {
        for (int r = 0; r < L->n_reg; r++)
            if (L->reg[r].kind->grad_act) TRY(L->reg[r].kind->grad_act(net, L, &L->reg[r], G, rows));
        TRY(clae_op_act_backward(rt, L->act, p->val[k + 1], G, rows * L->out));
    }
    clae_buf dX = L->needs_dx ? p->grad[k] : none;
    if (L->kind == &clae_layer_conv) {
        TRY(clae_op_conv_backward(rt, &g, rows, X, L->W->value, G, L->W->grad, L->b->grad, dX, L->t[0], L->t[1]));
    } else {
        TRY(clae_op_channel_sum(rt, rows, L->oc, L->oh * L->ow, G, L->b->grad));
        TRY(clae_op_conv_backward(rt, &g, rows, G, none, X, L->W->grad, none, none, L->t[0], L->t[1]));
        if (dX.n) TRY(clae_op_conv_forward(rt, &g, rows, G, L->W->value, none, dX, L->t[0], L->t[1]));
    }
    return clae_weights_finish(net, L);
}

static void conv_describe(const clae_layer *L, char *buf, size_t cap)
{
    (void)L;
    snprintf(buf, cap, "convolutional");
}

/* conv and convT share every function: each tells the two apart by its kind where they differ. */
#define CONV_KIND(var, word)                                                                        \
    const clae_layer_kind var = {                                                                   \
        .name = word,                                                                               \
        .weights = 1,                                                                               \
        .parse = conv_parse,                                                                        \
        .format = conv_format,                                                                      \
        .shape = conv_shape,                                                                        \
        .in_place = never_in_place,                                                                 \
        .declare = conv_declare,                                                                    \
        .init = conv_init,                                                                          \
        .forward = conv_forward,                                                                    \
        .backward = conv_backward,                                                                  \
        .describe = conv_describe,                                                                  \
    }

CONV_KIND(clae_layer_conv, "conv");
CONV_KIND(clae_layer_convT, "convT");
