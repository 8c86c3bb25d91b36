/* reshape.c — flatten and reshape: the same floats seen with another shape (NCHW to a flat vector and back),
 * in place, so they cost nothing and their gradients pass straight through. */
#include <stdio.h>

#include "layers/layer.h"

static int always_in_place(const clae_layer *L, int training)
{
    (void)L;
    (void)training;
    return 1;
}

static clae_status nothing_to_declare(clae_net *net, clae_layer *L)
{
    (void)net;
    (void)L;
    return CLAE_OK;
}

static clae_status pass_forward(clae_net *net, clae_layer *L, clae_net_pass *p, size_t rows)
{
    (void)net, (void)L, (void)p, (void)rows;
    return CLAE_OK;
}

static clae_status pass_backward(clae_net *net, clae_layer *L, size_t rows)
{
    (void)net, (void)L, (void)rows;
    return CLAE_OK;
}

static void describe_none(const clae_layer *L, char *buf, size_t cap)
{
    (void)L;
    if (cap) buf[0] = '\0';
}

static clae_status flatten_parse(clae_layer *L, char **args, int n)
{
    (void)args;
    if (n) return clae_fail(CLAE_ERR_ARG, "%s: flatten takes no arguments", L->label);
    return CLAE_OK;
}

static void flatten_format(const clae_layer *L, char *buf, size_t cap)
{
    (void)L;
    if (cap) buf[0] = '\0';
}

static clae_status flatten_shape(clae_layer *L)
{
    L->oc = L->in, L->oh = L->ow = 1;
    return CLAE_OK;
}

const clae_layer_kind clae_layer_flatten = {
    .name = "flatten",
    .parse = flatten_parse,
    .format = flatten_format,
    .shape = flatten_shape,
    .in_place = always_in_place,
    .declare = nothing_to_declare,
    .forward = pass_forward,
    .backward = pass_backward,
    .describe = describe_none,
};

/* reshape:CxHxW — the element count must stay. */
static clae_status reshape_parse(clae_layer *L, char **args, int n)
{
    size_t c, h, w;
    if (n != 1) return clae_fail(CLAE_ERR_ARG, "%s: expected reshape:CxHxW", L->label);
    TRY(clae_parse_shape(L->label, "shape", args[0], &c, &h, &w));
    L->iarg[0] = (int)c, L->iarg[1] = (int)h, L->iarg[2] = (int)w;
    return CLAE_OK;
}

static void reshape_format(const clae_layer *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "%dx%dx%d", L->iarg[0], L->iarg[1], L->iarg[2]);
}

static clae_status reshape_shape(clae_layer *L)
{
    L->oc = (size_t)L->iarg[0], L->oh = (size_t)L->iarg[1], L->ow = (size_t)L->iarg[2];
    if (L->oc * L->oh * L->ow != L->in)
        return clae_fail(CLAE_ERR_ARG, "%s: %zu values cannot be seen as %zux%zux%zu", L->label, L->in, L->oc, L->oh, L->ow);
    return CLAE_OK;
}

const clae_layer_kind clae_layer_reshape = {
    .name = "reshape",
    .parse = reshape_parse,
    .format = reshape_format,
    .shape = reshape_shape,
    .in_place = always_in_place,
    .declare = nothing_to_declare,
    .forward = pass_forward,
    .backward = pass_backward,
    .describe = describe_none,
};
