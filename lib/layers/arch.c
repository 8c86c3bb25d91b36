/* arch.c — the spec string: every layer kind and regularizer by name, the parser and printer of
 * architectures, and the one place where layers are checked against each other (widths, ties, claims). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layer.h"

static const clae_layer_kind *const layer_kinds[] = {
    &clae_layer_dense,   &clae_layer_conv,     &clae_layer_convT,   &clae_layer_maxpool, &clae_layer_unpool,
    &clae_layer_upsample, &clae_layer_flatten, &clae_layer_reshape, &clae_layer_noise,   &clae_layer_topk,
    &clae_layer_wta,     &clae_layer_gauss,   &clae_layer_concrete, &clae_layer_mdl,     &clae_layer_adv};
static const clae_reg_kind *const reg_kinds[] = {&clae_reg_kl, &clae_reg_l1, &clae_reg_l2, &clae_reg_h2o,
                                                 &clae_reg_contractive};
#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))

const clae_layer_kind *clae_layer_kind_find(const char *name)
{
    for (int i = 0; i < COUNT(layer_kinds); i++)
        if (!strcmp(layer_kinds[i]->name, name)) return layer_kinds[i];
    return NULL;
}

const clae_reg_kind *clae_reg_kind_find(const char *name)
{
    for (int i = 0; i < COUNT(reg_kinds); i++)
        if (!strcmp(reg_kinds[i]->name, name)) return reg_kinds[i];
    return NULL;
}

/* ---- argument helpers ---------------------------------------------------------------------- */

clae_status clae_parse_float(const char *label, const char *what, const char *s, float *out)
{
    char *end = NULL;
    errno = 0;
    float v = strtof(s, &end);
    if (!*s || end == s || *end || errno == ERANGE)
        return clae_fail(CLAE_ERR_ARG, "%s: %s '%s' is not a number", label, what, s);
    *out = v;
    return CLAE_OK;
}

clae_status clae_parse_int(const char *label, const char *what, const char *s, long lo, long hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || end == s || *end || errno || v < lo || v > hi)
        return clae_fail(CLAE_ERR_ARG, "%s: %s '%s' is not a whole number in %ld..%ld", label, what, s, lo, hi);
    *out = (int)v;
    return CLAE_OK;
}

void clae_format_float(char *buf, size_t cap, float v)
{
    for (int d = 1; d <= 9; d++) {
        snprintf(buf, cap, "%.*g", d, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    if (strstr(buf, "e+")) snprintf(buf, cap, "%.0f", (double)v); /* whole at that size: the float itself */
}

/* The kinds' names, for messages: "dense, noise, topk or wta". */
static void list_names(char *buf, size_t cap, int regs)
{
    size_t len = 0;
    int n = regs ? COUNT(reg_kinds) : COUNT(layer_kinds);
    buf[0] = '\0';
    for (int i = 0; i < n && len < cap; i++) {
        const char *name = regs ? reg_kinds[i]->name : layer_kinds[i]->name;
        int w = snprintf(buf + len, cap - len, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", name);
        if (w > 0) len += (size_t)w;
    }
}

clae_status clae_parse_shape(const char *label, const char *what, const char *s, size_t *c, size_t *h, size_t *w)
{
    unsigned long v[3] = {0, 1, 1};
    int n = 0;
    const char *p = s;
    while (n < 3) {
        char *end = NULL;
        errno = 0;
        v[n] = strtoul(p, &end, 10);
        if (end == p || errno || v[n] == 0 || v[n] > 1000000000UL || *p == '-') break;
        n++;
        p = end;
        if (*p != 'x') break;
        p++;
    }
    if ((n != 1 && n != 3) || *p || (double)v[0] * (double)v[1] * (double)v[2] > 1e9)
        return clae_fail(CLAE_ERR_ARG, "%s: %s '%s' is neither a width nor CxHxW (e.g. 784 or 1x28x28)", label, what, s);
    *c = v[0], *h = v[1], *w = v[2];
    return CLAE_OK;
}

int clae_arg_key(const char *arg, const char *key, const char **value)
{
    size_t n = strlen(key);
    if (strncmp(arg, key, n) || arg[n] != '=') return 0;
    *value = arg + n + 1;
    return 1;
}

/* ---- declarations the layers make ---------------------------------------------------------- */

clae_status clae_net_declare(clae_net *net, clae_buf *dst, size_t n, int persistent, const char *fmt, ...)
{
    char name[CLAE_TENSOR_NAME];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return net->declare(net->owner, name, dst, n, persistent);
}

clae_status clae_net_param(clae_net *net, int user, size_t rows, size_t cols, const char *name, clae_param **out)
{
    if (net->n_params == CLAE_MAX_PARAMS) return clae_fail(CLAE_ERR_ARG, "net: more than %d parameters", CLAE_MAX_PARAMS);
    clae_param *p = &net->param[net->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->rows = rows;
    p->cols = cols;
    p->first_user = p->last_user = user;
    *out = p;
    size_t n = rows * cols;
    TRY(clae_net_declare(net, &p->value, n, 1, "%s", name));
    if (!net->training_model) return CLAE_OK;
    TRY(clae_net_declare(net, &p->grad, n, 0, "grad.%s", name));
    clae_optimizer o = net->hyper.kind;
    if (o != CLAE_OPT_SGD)
        TRY(clae_net_declare(net, &p->s1, n, 1, "%s.%s",
                             o == CLAE_OPT_ADAM ? "adam.m" : o == CLAE_OPT_ADADELTA ? "adadelta.eg2" : "velocity", name));
    if (o == CLAE_OPT_ADAM || o == CLAE_OPT_ADADELTA)
        TRY(clae_net_declare(net, &p->s2, n, 1, "%s.%s", o == CLAE_OPT_ADAM ? "adam.v" : "adadelta.edx2", name));
    return CLAE_OK;
}

int clae_param_updates_here(const clae_param *p, const clae_layer *L) { return p && p->last_user == L->index; }

clae_status clae_net_reduce(clae_net *net, const clae_param *const *P, int n)
{
    /* A dry run walks the step without data: the hook must see only real gradients. */
    if (!net->reduce || !net->update || net->rt->trace) return CLAE_OK;
    clae_host_staging *st = &net->reduce_stage;
    size_t total = 0;
    for (int i = 0; i < n; i++) total += P[i] ? P[i]->grad.n : 0;
    if (!total) return CLAE_OK;
    if (total > st->n)
        return clae_fail(CLAE_ERR_ARG, "gradient reduction: the bucket of %s holds %zu floats, the staging %zu",
                         P[0] ? P[0]->name : "?", total, st->n);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if (!P[i]) continue;
        TRY(clae_buf_read(net->rt, P[i]->grad, 0, st->ptr + off, P[i]->grad.n));
        off += P[i]->grad.n;
    }
    const float w = net->reduce_weight;
    for (size_t i = 0; i < total; i++) st->ptr[i] *= w;
    clae_status s = net->reduce(st->ptr, total, net->reduce_user);
    if (s != CLAE_OK) {
        char why[CLAE_ERROR_MAX];
        snprintf(why, sizeof why, "%s", clae_last_error());
        const clae_param *first = NULL;
        for (int i = 0; i < n && !first; i++) first = P[i];
        return clae_fail(s, "gradient reduction of the bucket of %s (%zu floats) failed: %s", first->name, total,
                         *why ? why : clae_status_string(s));
    }
    off = 0;
    for (int i = 0; i < n; i++) {
        if (!P[i]) continue;
        TRY(clae_buf_write(net->rt, P[i]->grad, 0, st->ptr + off, P[i]->grad.n));
        off += P[i]->grad.n;
    }
    return CLAE_OK;
}

/* ---- parsing ------------------------------------------------------------------------------- */

#define MAX_ARGS 8

/* Splits s (modified) at ':' into args; returns the count or -1 past MAX_ARGS. */
static int split_args(char *s, char **args)
{
    int n = 0;
    for (char *p = s; p; n++) {
        if (n == MAX_ARGS) return -1;
        args[n] = p;
        p = strchr(p, ':');
        if (p) *p++ = '\0';
    }
    return n;
}

static clae_status parse_reg(clae_layer *L, char *part)
{
    if (L->n_reg == CLAE_MAX_REGS)
        return clae_fail(CLAE_ERR_ARG, "%s: more than %d regularizers on one layer", L->label, CLAE_MAX_REGS);
    clae_reg *r = &L->reg[L->n_reg];
    memset(r, 0, sizeof *r);
    snprintf(r->label, sizeof r->label, "%s", part);
    char *args[MAX_ARGS];
    int n = split_args(part, args);
    if (n < 0) return clae_fail(CLAE_ERR_ARG, "%s: too many arguments", r->label);
    r->kind = clae_reg_kind_find(args[0]);
    if (!r->kind) {
        char names[160];
        list_names(names, sizeof names, 1);
        return clae_fail(CLAE_ERR_ARG, "'+%s': unknown regularizer '%s'; expected %s", r->label, args[0], names);
    }
    TRY(r->kind->parse(r, args + 1, n - 1));
    L->n_reg++;
    return CLAE_OK;
}

/* One token: kind[:args][@code][+reg[:args]]... */
static clae_status parse_layer(clae_arch *a, char *tok, int *code_mark)
{
    if (a->n == CLAE_MAX_NET) return clae_fail(CLAE_ERR_ARG, "arch: more than %d layers", CLAE_MAX_NET);
    char *at = strstr(tok, "@code");
    if (at) {
        if (*code_mark >= 0) return clae_fail(CLAE_ERR_ARG, "arch: '@code' marks more than one layer");
        *code_mark = a->n;
        memmove(at, at + 5, strlen(at + 5) + 1);
    }
    clae_layer *L = &a->layer[a->n];
    memset(L, 0, sizeof *L);
    L->tie = -1;
    char *plus = strchr(tok, '+');
    if (plus) *plus++ = '\0';
    snprintf(L->label, sizeof L->label, "%s", tok);
    char *args[MAX_ARGS];
    int n = split_args(tok, args);
    if (n < 0) return clae_fail(CLAE_ERR_ARG, "%s: too many arguments", L->label);
    L->kind = clae_layer_kind_find(args[0]);
    if (!L->kind) {
        char names[160];
        list_names(names, sizeof names, 0);
        return clae_fail(CLAE_ERR_ARG, "arch: '%s': unknown layer kind '%s'; expected %s", L->label, args[0], names);
    }
    TRY(L->kind->parse(L, args + 1, n - 1));
    while (plus) {
        char *next = strchr(plus, '+');
        if (next) *next++ = '\0';
        TRY(parse_reg(L, plus));
        plus = next;
    }
    a->n++;
    return CLAE_OK;
}

int clae_arch_dense_count(const clae_arch *a)
{
    int d = 0;
    for (int k = 0; k < a->n; k++) d += a->layer[k].kind->weights;
    return d;
}

/* The code's group: the marked layer and the in-place layers right after it. */
static int group_end(const clae_arch *a, int k)
{
    while (k + 1 < a->n && a->layer[k + 1].kind->in_place(&a->layer[k + 1], 1)) k++;
    return k;
}

int clae_arch_dense_end(const clae_arch *a, int ordinal)
{
    for (int k = 0; k < a->n; k++) {
        if (!a->layer[k].kind->weights || a->layer[k].ordinal != ordinal) continue;
        int e = k;
        while (e + 1 < a->n && !a->layer[e + 1].kind->weights && e != a->code) e++;
        return e;
    }
    return -1;
}

clae_status clae_arch_parse(const char *spec, clae_arch *a)
{
    if (!spec || !a) return clae_fail(CLAE_ERR_ARG, "arch: spec string or output is NULL");
    memset(a, 0, sizeof *a);
    size_t len = strlen(spec);
    char *copy = malloc(len + 1);
    if (!copy) return clae_fail(CLAE_ERR_NOMEM, "arch: out of host memory");
    memcpy(copy, spec, len + 1);
    clae_status s = CLAE_OK;
    int code_mark = -1;
    char *save = copy, *tok;
    int i = 0;
    for (char *p = copy; s == CLAE_OK && p; i++) {
        tok = p;
        p = strchr(p, ',');
        if (p) *p++ = '\0';
        if (!*tok) {
            s = clae_fail(CLAE_ERR_ARG, "arch '%s': entry %d is empty", spec, i + 1);
        } else if (i == 0) {
            s = clae_parse_shape("arch", "input", tok, &a->c, &a->h, &a->w);
            a->input = a->c * a->h * a->w;
        } else {
            s = parse_layer(a, tok, &code_mark);
        }
    }
    free(save);
    if (s != CLAE_OK) return s;
    a->code = code_mark; /* -1: the middle; resolved to its group's end by clae_arch_check */
    return clae_arch_check(a);
}

/* ---- checking ------------------------------------------------------------------------------ */

/* Pairs of claims that cannot share a net, and why. */
static const struct {
    unsigned a, b;
    const char *why;
} conflicts[] = {
    {CLAE_CLAIM_SELECT, CLAE_CLAIM_SELECT, "both select the active code units"},
    {CLAE_CLAIM_SPARSITY, CLAE_CLAIM_SELECT, "each already decides which code units are active"},
    {CLAE_CLAIM_JACOBIAN, CLAE_CLAIM_SELECT,
     "the selection makes the encoder Jacobian that the penalty smooths discontinuous"},
};

typedef struct component {
    unsigned claims;
    const char *label;
} component;

static clae_status check_claims(const clae_arch *a)
{
    component c[CLAE_MAX_NET * (CLAE_MAX_REGS + 1)];
    int n = 0;
    for (int k = 0; k < a->n; k++) {
        const clae_layer *L = &a->layer[k];
        if (L->kind->claims) c[n++] = (component){L->kind->claims, L->label};
        for (int r = 0; r < L->n_reg; r++)
            if (L->reg[r].kind->claims) c[n++] = (component){L->reg[r].kind->claims, L->reg[r].label};
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            for (int t = 0; t < COUNT(conflicts); t++) {
                if (!(c[i].claims & conflicts[t].a) || !(c[j].claims & conflicts[t].b)) continue;
                if (conflicts[t].a == conflicts[t].b && j < i) continue; /* say it once */
                return clae_fail(CLAE_ERR_ARG, "%s cannot be combined with %s: %s", c[i].label, c[j].label,
                                 conflicts[t].why);
            }
        }
    return CLAE_OK;
}

/* An adversary of the code (adv) matches the code against a prior: one, in the code's group, right after the
 * weight layer that makes the code. Its phases run the encoder again and back-propagate the generator loss
 * through it, so an encoder layer with a loss term or a regularizer of its own would count it twice. */
static clae_status check_adversary(const clae_arch *a)
{
    int seen = -1;
    for (int k = 0; k < a->n; k++) {
        const clae_layer *L = &a->layer[k];
        if (!L->kind->discriminate) continue;
        if (seen >= 0) return clae_fail(CLAE_ERR_ARG, "%s: a net has one adversary, and %s is another", L->label,
                                        a->layer[seen].label);
        seen = k;
        const clae_layer *C = k ? &a->layer[k - 1] : NULL;
        if (k != a->code || !C || !C->kind->weights || C->kind->penalty)
            return clae_fail(CLAE_ERR_ARG, "%s: the adversary matches the code against a prior: put it right after the "
                                           "dense or conv layer that makes the code (that layer @code)", L->label);
        for (int j = 0; j < k; j++) {
            const clae_layer *E = &a->layer[j];
            if (E->kind->penalty || E->n_reg)
                return clae_fail(CLAE_ERR_ARG, "%s cannot be combined with %s: the adversarial phases run the encoder "
                                               "again, and its %s would count twice", E->n_reg ? E->reg[0].label : E->label,
                                 L->label, E->n_reg ? "penalty" : "loss term");
        }
    }
    return CLAE_OK;
}

/* The max-pool an unpool mirrors: pools and unpools pair like brackets, the innermost first. */
static clae_status pair_unpool(clae_arch *a, int k, int *stack, int *depth)
{
    clae_layer *L = &a->layer[k];
    if (L->kind == &clae_layer_maxpool) stack[(*depth)++] = k;
    if (L->kind != &clae_layer_unpool) return CLAE_OK;
    if (!*depth) return clae_fail(CLAE_ERR_ARG, "%s: no max-pool before it to mirror", L->label);
    L->pool = stack[--*depth];
    const clae_layer *P = &a->layer[L->pool];
    L->iarg[0] = P->iarg[0], L->iarg[1] = (int)P->ic, L->iarg[2] = (int)P->ih, L->iarg[3] = (int)P->iw;
    return CLAE_OK;
}

/* Shapes, ordinals, ties and what needs a gradient, in net order. */
static clae_status check_layers(clae_arch *a)
{
    size_t c = a->c, h = a->h, w = a->w;
    int ordinal = 0, has_params = 0, stack[CLAE_MAX_NET], depth = 0;
    for (int k = 0; k < a->n; k++) {
        clae_layer *L = &a->layer[k];
        L->index = k;
        L->ic = c, L->ih = h, L->iw = w;
        L->in = c * h * w;
        L->is_output = k == a->n - 1;
        L->needs_dx = has_params;
        TRY(pair_unpool(a, k, stack, &depth));
        TRY(L->kind->shape(L));
        L->out = L->oc * L->oh * L->ow;
        if (L->kind == &clae_layer_noise && k != 0)
            return clae_fail(CLAE_ERR_ARG, "%s: a noise layer corrupts the input, so it comes first", L->label);
        if (L->kind->learns) has_params = 1;
        if (L->kind->weights) {
            if (ordinal == CLAE_MAX_LAYERS)
                return clae_fail(CLAE_ERR_ARG, "arch: more than %d weight layers", CLAE_MAX_LAYERS);
            L->ordinal = ordinal++;
            has_params = 1;
        }
        if (L->tie >= 0) {
            const clae_layer *E = NULL;
            for (int j = 0; j < k; j++)
                if (a->layer[j].kind == &clae_layer_dense && a->layer[j].ordinal == L->tie) E = &a->layer[j];
            if (!E)
                return clae_fail(CLAE_ERR_ARG, "%s: tied=%d names no earlier dense layer (weight layers count from 0)",
                                 L->label, L->tie);
            if (E->tie >= 0)
                return clae_fail(CLAE_ERR_ARG, "%s: dense layer %d is tied itself; tie to the layer that owns the weight",
                                 L->label, L->tie);
            if (E->in != L->out || E->out != L->in)
                return clae_fail(CLAE_ERR_ARG, "%s: tied to dense layer %d (%zu -> %zu), it must map %zu -> %zu, not %zu -> %zu",
                                 L->label, L->tie, E->in, E->out, E->out, E->in, L->in, L->out);
        }
        for (int r = 0; r < L->n_reg; r++) TRY(L->reg[r].kind->check(&L->reg[r], L, L->is_output));
        c = L->oc, h = L->oh, w = L->ow;
    }
    return CLAE_OK;
}

clae_status clae_arch_check(clae_arch *a)
{
    if (a->input < 1) return clae_fail(CLAE_ERR_ARG, "arch: the input width must be positive");
    if (a->n < 1) return clae_fail(CLAE_ERR_ARG, "arch: no layers after the input width");
    TRY(check_layers(a));
    const clae_layer *out = &a->layer[a->n - 1];
    if (!out->kind->weights)
        return clae_fail(CLAE_ERR_ARG, "%s: the last layer must be dense, conv or convT (the loss is fused with its "
                                       "activation)", out->label);
    if (out->out != a->input)
        return clae_fail(CLAE_ERR_ARG, "arch: the output width %zu differs from the input width %zu", out->out, a->input);
    int dense = clae_arch_dense_count(a);
    int learning = 0;
    for (int k = 0; k < a->n; k++) learning += a->layer[k].kind->weights || a->layer[k].kind->learns;
    if (learning < 2)
        return clae_fail(CLAE_ERR_ARG, "arch: an autoencoder needs at least two weight layers (a code between)");
    if (a->code < 0) {
        /* The middle: the output of dense layer dense/2 − 1, as --layers puts it. */
        for (int k = 0; k < a->n; k++)
            if (a->layer[k].kind->weights && a->layer[k].ordinal == dense / 2 - 1) a->code = group_end(a, k);
    } else {
        a->code = group_end(a, a->code);
    }
    if (a->code >= a->n - 1)
        return clae_fail(CLAE_ERR_ARG, "arch: '@code' marks the output layer; mark a layer before it");
    int before = 0;
    for (int k = 0; k <= a->code; k++) before += a->layer[k].kind->weights || a->layer[k].kind->learns;
    if (!before) return clae_fail(CLAE_ERR_ARG, "arch: '@code' marks a layer before the first weight layer");
    TRY(check_adversary(a));
    return check_claims(a);
}

/* ---- printing ------------------------------------------------------------------------------ */

void clae_appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (w > 0) *len += (size_t)w;
}

void clae_arch_format(const clae_arch *a, char *buf, size_t cap)
{
    size_t len = 0;
    if (!cap) return;
    buf[0] = '\0';
#define PUT(...) clae_appendf(buf, cap, &len, __VA_ARGS__)
    if (a->h == 1 && a->w == 1) PUT("%zu", a->input);
    else PUT("%zux%zux%zu", a->c, a->h, a->w);
    for (int k = 0; k < a->n; k++) {
        const clae_layer *L = &a->layer[k];
        char args[160];
        L->kind->format(L, args, sizeof args);
        PUT(",%s%s%s", L->kind->name, args[0] ? ":" : "", args);
        if (k == a->code) PUT("@code");
        for (int r = 0; r < L->n_reg; r++) {
            L->reg[r].kind->format(&L->reg[r], args, sizeof args);
            PUT("+%s%s%s", L->reg[r].kind->name, args[0] ? ":" : "", args);
        }
    }
#undef PUT
    if (len >= cap) buf[cap - 1] = '\0';
}
