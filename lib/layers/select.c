/* select.c — the two selection layers, in place on a code: k-sparse (Makhzani & Frey 2013, the k largest
 * units of each row) and lifetime-sparsity winner-take-all (Makhzani & Frey 2015, each unit's top share of the batch). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "layers/layer.h"

static int select_in_place(const clae_layer *L, int training)
{
    (void)L;
    (void)training;
    return 1;
}

static clae_status select_shape(clae_layer *L)
{
    const size_t in = L->in;
    if (L->kind == &clae_layer_topk && (size_t)L->iarg[0] > in)
        return clae_fail(CLAE_ERR_ARG, "%s %d: the layer before has only %zu units", L->label, L->iarg[0], in);
    if (L->kind == &clae_layer_topk && (!isfinite(L->farg[0]) || L->farg[0] <= 0.0f))
        return clae_fail(CLAE_ERR_ARG, "%s: alpha %g: expected a positive multiplier", L->label, (double)L->farg[0]);
    L->oc = L->ic, L->oh = L->ih, L->ow = L->iw;
    return CLAE_OK;
}

/* The backward pass lets gradient through the selected units only. */
static clae_status select_backward(clae_net *net, clae_layer *L, size_t rows)
{
    if (!L->needs_dx) return CLAE_OK;
    return clae_op_mul_mask(net->rt, net->train.grad[L->index + 1], L->t[0], rows * L->in);
}

/* ---- k-sparse ---------------------------------------------------------------------------------- */

/* topk:K[:alpha=A][:from=K0:steps=T] — inference keeps round(α·K); training may start at K0 and reach K
 * linearly over T steps. */
static clae_status topk_parse(clae_layer *L, char **args, int n)
{
    if (n < 1) return clae_fail(CLAE_ERR_ARG, "%s: expected topk:K[:alpha=A][:from=K0:steps=T]", L->label);
    TRY(clae_parse_int(L->label, "k", args[0], 1, 1000000000L, &L->iarg[0]));
    L->farg[0] = 1.0f;
    L->iarg[1] = L->iarg[2] = 0;
    for (int i = 1; i < n; i++) {
        const char *v;
        if (clae_arg_key(args[i], "alpha", &v)) TRY(clae_parse_float(L->label, "alpha", v, &L->farg[0]));
        else if (clae_arg_key(args[i], "from", &v)) TRY(clae_parse_int(L->label, "from", v, 0, 1000000000L, &L->iarg[1]));
        else if (clae_arg_key(args[i], "steps", &v)) TRY(clae_parse_int(L->label, "steps", v, 0, 2000000000L, &L->iarg[2]));
        else return clae_fail(CLAE_ERR_ARG, "%s: unknown argument '%s'; expected alpha=, from= or steps=", L->label, args[i]);
    }
    return CLAE_OK;
}

static void topk_format(const clae_layer *L, char *buf, size_t cap)
{
    int k = snprintf(buf, cap, "%d", L->iarg[0]);
    char alpha[32];
    clae_format_float(alpha, sizeof alpha, L->farg[0]);
    if (L->farg[0] != 1.0f && k > 0 && (size_t)k < cap) k += snprintf(buf + k, cap - (size_t)k, ":alpha=%s", alpha);
    if (L->iarg[1] > L->iarg[0] && L->iarg[2] > 0 && k > 0 && (size_t)k < cap)
        snprintf(buf + k, cap - (size_t)k, ":from=%d:steps=%d", L->iarg[1], L->iarg[2]);
}

static clae_status topk_declare(clae_net *net, clae_layer *L)
{
    if (net->training_model) TRY(clae_net_declare(net, &L->t[0], net->batch * L->in, 0, "select.mask"));
    return clae_net_declare(net, &L->t[1], net->batch * L->in, 0, "infer.select.mask");
}

/* k for this step: from k0 down to k linearly over T steps, k_t = round(k0 + (k − k0)·t/T). */
static size_t topk_k_now(const clae_net *net, const clae_layer *L)
{
    double k = L->iarg[0];
    int k0 = L->iarg[1], T = L->iarg[2];
    if (k0 > L->iarg[0] && T > 0 && net->steps < (uint64_t)T) {
        double t = (double)net->steps / (double)T;
        k = k0 + (L->iarg[0] - k0) * t;
    }
    return (size_t)llround(k);
}

static clae_status topk_forward(clae_net *net, clae_layer *L, clae_net_pass *p, size_t rows)
{
    size_t H = L->in;
    size_t k = p->training ? topk_k_now(net, L) : (size_t)llround((double)L->farg[0] * L->iarg[0]);
    if (k > H) k = H;
    return clae_op_topk_rows(net->rt, p->val[L->index], p->training ? L->t[0] : L->t[1], rows, H, k);
}

static void topk_describe(const clae_layer *L, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "k-sparse k=%d alpha=%g", L->iarg[0], (double)L->farg[0]);
    if (L->iarg[1] > L->iarg[0] && L->iarg[2] > 0 && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " (from %d over %d steps)", L->iarg[1], L->iarg[2]);
}

const clae_layer_kind clae_layer_topk = {
    .name = "topk",
    .claims = CLAE_CLAIM_SELECT,
    .parse = topk_parse,
    .format = topk_format,
    .shape = select_shape,
    .in_place = select_in_place,
    .declare = topk_declare,
    .forward = topk_forward,
    .backward = select_backward,
    .describe = topk_describe,
};

/* ---- winner-take-all, lifetime sparsity ------------------------------------------------------ */

/* wta:P — each unit keeps its top P percent of the batch's rows (P in (0, 100]). The share is kept as
 * the float P/100. */
static clae_status wta_parse(clae_layer *L, char **args, int n)
{
    float pct;
    if (n != 1) return clae_fail(CLAE_ERR_ARG, "%s: expected wta:PERCENT, e.g. wta:5", L->label);
    TRY(clae_parse_float(L->label, "percent", args[0], &pct));
    if (!(pct >= 1.0f && pct <= 100.0f))
        return clae_fail(CLAE_ERR_ARG, "%s: %g%%: expected a percent of the batch in [1, 100]%s", L->label, (double)pct,
                         pct > 0.0f && pct < 1.0f ? " (a share such as 0.05 is written 5)" : "");
    L->farg[0] = (float)(pct / 100.0);
    return CLAE_OK;
}

/* The shortest percentage that reads back to the same share (never with an exponent). */
static void wta_format(const clae_layer *L, char *buf, size_t cap)
{
    for (int d = 1; d <= 12; d++) {
        snprintf(buf, cap, "%.*f", d > 3 ? d - 3 : 0, 100.0 * (double)L->farg[0]);
        if ((float)(strtod(buf, NULL) / 100.0) == L->farg[0]) return;
    }
}

static clae_status wta_declare(clae_net *net, clae_layer *L)
{
    if (!net->training_model) return CLAE_OK;
    return clae_net_declare(net, &L->t[0], net->batch * L->in, 0, "select.mask");
}

/* m = max(1, ⌈P·B/100⌉) winners per unit among B rows, for the percent P = 100·r. The float share r is
 * P/100 rounded (0.05f = 0.0500000007), so a plain ⌈r·B⌉ gives one winner too many whenever P·B/100 is
 * an integer (6 of 100 at 5%). r is therefore read as the shortest decimal that rounds to it (at most 9
 * significant digits: "0.05", what the user wrote), D·10^−k, and the count is ⌈D·B / 10^k⌉ in integers. */
static size_t wta_winners(float rate, size_t rows)
{
    char buf[32];
    int digits = 1;
    for (; digits < 9; digits++) {
        snprintf(buf, sizeof buf, "%.*e", digits - 1, (double)rate);
        if (strtof(buf, NULL) == rate) break;
    }
    snprintf(buf, sizeof buf, "%.*e", digits - 1, (double)rate);
    uint64_t mant = 0; /* the digits of "d.ddde±x", whatever the locale's decimal point */
    const char *c = buf;
    for (; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9') mant = mant * 10 + (uint64_t)(*c - '0');
    int places = digits - 1 - (*c ? atoi(c + 1) : 0);
    double winners;
    if (places >= 0 && places <= 18 && (rows == 0 || mant <= UINT64_MAX / rows)) {
        uint64_t scale = 1, q = mant * rows;
        for (int i = 0; i < places; i++) scale *= 10;
        winners = (double)(q / scale + (q % scale != 0));
    } else {
        winners = ceil((double)rate * (double)rows); /* over 18 decimal places, or D·B past 64 bits */
    }
    return winners < 1.0 ? 1 : (size_t)winners;
}

/* The winners of the batch's rows per unit; none at test time, where every unit stays active. */
static clae_status wta_forward(clae_net *net, clae_layer *L, clae_net_pass *p, size_t rows)
{
    if (!p->training) return CLAE_OK;
    return clae_op_topk_cols(net->rt, p->val[L->index], L->t[0], rows, L->in, wta_winners(L->farg[0], rows));
}

static void wta_describe(const clae_layer *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "winner-take-all %g%%", 100.0 * (double)L->farg[0]);
}

const clae_layer_kind clae_layer_wta = {
    .name = "wta",
    .couples_rows = "winner-take-all picks each unit's winners among all the batch's rows (lifetime sparsity)",
    .claims = CLAE_CLAIM_SELECT,
    .parse = wta_parse,
    .format = wta_format,
    .shape = select_shape,
    .in_place = select_in_place,
    .declare = wta_declare,
    .forward = wta_forward,
    .backward = select_backward,
    .describe = wta_describe,
};
