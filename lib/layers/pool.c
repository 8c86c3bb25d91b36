/* pool.c — the resampling layers of convolutional autoencoders: max-pool with its switches, unpool by the
 * switches of its mirrored pool (Masci et al. 2011; Zeiler & Fergus 2014), and nearest upsampling. */
#include <stdio.h>

#include "layers/layer.h"
#include "ops/ops_conv.h"

static int never_in_place(const clae_layer *L, int training)
{
    (void)L;
    (void)training;
    return 0;
}

static clae_status parse_factor(clae_layer *L, char **args, int n)
{
    if (n != 1) return clae_fail(CLAE_ERR_ARG, "%s: expected %s:K", L->label, L->kind->name);
    return clae_parse_int(L->label, "factor", args[0], 1, 1000, &L->iarg[0]);
}

static void format_factor(const clae_layer *L, char *buf, size_t cap) { snprintf(buf, cap, "%d", L->iarg[0]); }

static void describe_none(const clae_layer *L, char *buf, size_t cap)
{
    (void)L;
    if (cap) buf[0] = '\0';
}

/* ---- maxpool:K — K×K windows, stride K; the rows and columns past the last whole window are dropped ---- */

static clae_status maxpool_shape(clae_layer *L)
{
    const size_t K = (size_t)L->iarg[0];
    if (L->ih < K || L->iw < K)
        return clae_fail(CLAE_ERR_ARG, "%s: a %zux%zu window does not fit the %zux%zu input", L->label, K, K, L->ih, L->iw);
    L->oc = L->ic, L->oh = L->ih / K, L->ow = L->iw / K;
    return CLAE_OK;
}

/* The switches: where each window's maximum was, per pass (unpool and the backward pass read them). */
static clae_status maxpool_declare(clae_net *net, clae_layer *L)
{
    if (net->training_model) TRY(clae_net_declare(net, &L->t[0], net->batch * L->out, 0, "pool.idx.%d", L->index));
    return clae_net_declare(net, &L->t[1], net->batch * L->out, 0, "infer.pool.idx.%d", L->index);
}

static clae_status maxpool_forward(clae_net *net, clae_layer *L, clae_net_pass *p, size_t rows)
{
    return clae_op_maxpool_forward(net->rt, rows * L->ic, L->ih, L->iw, (size_t)L->iarg[0], p->val[L->index],
                                   p->val[L->index + 1], p->training ? L->t[0] : L->t[1]);
}

/* The gradient goes to each window's maximum, 0 elsewhere. */
static clae_status maxpool_backward(clae_net *net, clae_layer *L, size_t rows)
{
    if (!L->needs_dx) return CLAE_OK;
    return clae_op_pool_spread(net->rt, rows * L->ic, L->ih, L->iw, (size_t)L->iarg[0], net->train.grad[L->index + 1],
                               L->t[0], net->train.grad[L->index]);
}

const clae_layer_kind clae_layer_maxpool = {
    .name = "maxpool",
    .parse = parse_factor,
    .format = format_factor,
    .shape = maxpool_shape,
    .in_place = never_in_place,
    .declare = maxpool_declare,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .describe = describe_none,
};

/* ---- unpool — each value back to where its mirrored pool found the maximum, 0 elsewhere ---------------- */

static clae_status unpool_parse(clae_layer *L, char **args, int n)
{
    (void)args;
    if (n) return clae_fail(CLAE_ERR_ARG, "%s: unpool takes no arguments (it mirrors a max-pool)", L->label);
    return CLAE_OK;
}

static void format_none(const clae_layer *L, char *buf, size_t cap)
{
    (void)L;
    if (cap) buf[0] = '\0';
}

/* clae_arch_check has paired it with its pool and copied the pool's window and input shape into iarg. */
static clae_status unpool_shape(clae_layer *L)
{
    const size_t K = (size_t)L->iarg[0], c = (size_t)L->iarg[1], h = (size_t)L->iarg[2], w = (size_t)L->iarg[3];
    if (L->ic != c || L->ih != h / K || L->iw != w / K)
        return clae_fail(CLAE_ERR_ARG, "%s: its max-pool gave %zux%zux%zu, but it gets %zux%zux%zu", L->label, c, h / K,
                         w / K, L->ic, L->ih, L->iw);
    L->oc = c, L->oh = h, L->ow = w;
    return CLAE_OK;
}

static clae_status unpool_declare(clae_net *net, clae_layer *L)
{
    (void)net;
    (void)L;
    return CLAE_OK;
}

static clae_buf switches(clae_net *net, const clae_layer *L, int training)
{
    const clae_layer *P = &net->layer[L->pool];
    return training ? P->t[0] : P->t[1];
}

static clae_status unpool_forward(clae_net *net, clae_layer *L, clae_net_pass *p, size_t rows)
{
    return clae_op_pool_spread(net->rt, rows * L->oc, L->oh, L->ow, (size_t)L->iarg[0], p->val[L->index],
                               switches(net, L, p->training), p->val[L->index + 1]);
}

static clae_status unpool_backward(clae_net *net, clae_layer *L, size_t rows)
{
    if (!L->needs_dx) return CLAE_OK;
    return clae_op_pool_pick(net->rt, rows * L->oc, L->oh, L->ow, (size_t)L->iarg[0], net->train.grad[L->index + 1],
                             switches(net, L, 1), net->train.grad[L->index]);
}

const clae_layer_kind clae_layer_unpool = {
    .name = "unpool",
    .parse = unpool_parse,
    .format = format_none,
    .shape = unpool_shape,
    .in_place = never_in_place,
    .declare = unpool_declare,
    .forward = unpool_forward,
    .backward = unpool_backward,
    .describe = describe_none,
};

/* ---- upsample:K — nearest: each value to a K×K block; its backward sums the block ---------------------- */

static clae_status upsample_shape(clae_layer *L)
{
    const size_t K = (size_t)L->iarg[0];
    L->oc = L->ic, L->oh = L->ih * K, L->ow = L->iw * K;
    return CLAE_OK;
}

static clae_status upsample_forward(clae_net *net, clae_layer *L, clae_net_pass *p, size_t rows)
{
    return clae_op_upsample_forward(net->rt, rows * L->ic, L->ih, L->iw, (size_t)L->iarg[0], p->val[L->index],
                                    p->val[L->index + 1]);
}

static clae_status upsample_backward(clae_net *net, clae_layer *L, size_t rows)
{
    if (!L->needs_dx) return CLAE_OK;
    return clae_op_upsample_backward(net->rt, rows * L->ic, L->ih, L->iw, (size_t)L->iarg[0],
                                     net->train.grad[L->index + 1], net->train.grad[L->index]);
}

const clae_layer_kind clae_layer_upsample = {
    .name = "upsample",
    .parse = parse_factor,
    .format = format_factor,
    .shape = upsample_shape,
    .in_place = never_in_place,
    .declare = unpool_declare,
    .forward = upsample_forward,
    .backward = upsample_backward,
    .describe = describe_none,
};
