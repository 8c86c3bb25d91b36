/* reg_sparse.c — activation sparsity on a layer's output (Ng, CS294A): KL toward a target mean, L1 or L2
 * penalties, and h2o's EMA bias controller (H2O Deep Learning, sparsity_beta), as attachable regularizers. */
#include <math.h>
#include <stdio.h>

#include "layers/layer.h"

/* f[0] = ρ and f[1] = β for kl and h2o, f[0] = λ for l1 and l2. */
static float weight(const clae_reg *r)
{
    return (r->sparsity == CLAE_SPARSITY_KL || r->sparsity == CLAE_SPARSITY_H2O) ? r->f[1] : r->f[0];
}

/* The target ρ the ops take (KL and h2o; L1 and L2 have none). */
static float target(const clae_reg *r)
{
    return (r->sparsity == CLAE_SPARSITY_KL || r->sparsity == CLAE_SPARSITY_H2O) ? r->f[0] : 0.0f;
}

static clae_sparsity kind_of(const clae_reg *r)
{
    return r->kind == &clae_reg_kl ? CLAE_SPARSITY_KL : r->kind == &clae_reg_l1 ? CLAE_SPARSITY_L1
                                                      : r->kind == &clae_reg_l2 ? CLAE_SPARSITY_L2
                                                                                : CLAE_SPARSITY_H2O;
}

/* kl[:RHO[:BETA]] (0.05, 3), h2o[:RHO[:BETA]] (0.05, 3), l1[:LAMBDA] and l2[:LAMBDA] (1e-3). */
static clae_status sparse_parse(clae_reg *r, char **args, int n)
{
    r->sparsity = kind_of(r);
    int pair = r->sparsity == CLAE_SPARSITY_KL || r->sparsity == CLAE_SPARSITY_H2O;
    if (n > (pair ? 2 : 1))
        return clae_fail(CLAE_ERR_ARG, "%s: expected %s", r->label, pair ? "kl|h2o[:RHO[:BETA]]" : "l1|l2[:LAMBDA]");
    r->f[0] = pair ? 0.05f : 1e-3f;
    r->f[1] = 3.0f;
    if (n >= 1) TRY(clae_parse_float(r->label, pair ? "rho" : "lambda", args[0], &r->f[0]));
    if (n >= 2) TRY(clae_parse_float(r->label, "beta", args[1], &r->f[1]));
    return CLAE_OK;
}

static void sparse_format(const clae_reg *r, char *buf, size_t cap)
{
    char a[32], b[32];
    clae_format_float(a, sizeof a, r->f[0]);
    clae_format_float(b, sizeof b, r->f[1]);
    if (r->sparsity == CLAE_SPARSITY_KL || r->sparsity == CLAE_SPARSITY_H2O) snprintf(buf, cap, "%s:%s", a, b);
    else snprintf(buf, cap, "%s", a);
}

static clae_status sparse_check(const clae_reg *r, const clae_layer *L, int is_output)
{
    if (!L->kind->weights || is_output || (r->sparsity == CLAE_SPARSITY_H2O && L->kind != &clae_layer_dense))
        return clae_fail(CLAE_ERR_ARG, "%s: a sparsity penalty attaches to a hidden %s layer", r->label,
                         r->sparsity == CLAE_SPARSITY_H2O ? "dense (its bias steers each unit)" : "dense, conv or convT");
    if (r->sparsity == CLAE_SPARSITY_KL && L->act != CLAE_ACT_SIGMOID && L->act != CLAE_ACT_TANH)
        return clae_fail(CLAE_ERR_ARG,
                         "%s needs sigmoid or tanh units (KL is undefined for a mean above 1); the layer is %s: "
                         "use l1 or a sigmoid activation", r->label, clae_activation_name(L->act));
    if (r->sparsity == CLAE_SPARSITY_KL && !(r->f[0] > 0.0f && r->f[0] < 1.0f))
        return clae_fail(CLAE_ERR_ARG, "%s: rho %g: expected a target mean activation in (0, 1)", r->label, (double)r->f[0]);
    if (r->sparsity == CLAE_SPARSITY_H2O && !(r->f[0] >= -1.0f && r->f[0] <= 1.0f))
        return clae_fail(CLAE_ERR_ARG, "%s: rho %g: expected h2o's average_activation in [-1, 1]", r->label, (double)r->f[0]);
    float w = weight(r);
    if (!isfinite(w) || w < 0.0f)
        return clae_fail(CLAE_ERR_ARG, "%s: weight %g: expected a finite value >= 0", r->label, (double)w);
    return CLAE_OK;
}

/* kl, l1, l2: the batch's mean activation and the penalty (one float, read at the step's end); h2o: the
 * running mean ā (persistent, named after the layer whose bias it steers) and the bias push. */
static clae_status sparse_declare(clae_net *net, clae_layer *L, clae_reg *r)
{
    if (!net->training_model) return CLAE_OK;
    if (r->sparsity == CLAE_SPARSITY_H2O) {
        TRY(clae_net_declare(net, &r->t[0], L->out, 1, "sparsity.ema.layers.%d", L->ordinal));
        return clae_net_declare(net, &r->t[1], L->out, 0, "sparsity.push.layers.%d", L->ordinal);
    }
    TRY(clae_net_declare(net, &r->t[0], L->out, 0, "sparsity.mean.layers.%d", L->ordinal));
    return clae_net_declare(net, &r->t[1], 1, 0, "sparsity.penalty.layers.%d", L->ordinal);
}

static clae_status sparse_forward(clae_net *net, clae_layer *L, clae_reg *r, clae_net_pass *p, size_t rows)
{
    clae_buf A = p->val[L->index + 1], none = {0};
    if (r->sparsity == CLAE_SPARSITY_H2O) {
        /* h2o's running mean moves only in real steps, not in loss or gradient evaluations. */
        if (!net->in_step) return CLAE_OK;
        return clae_op_sparsity_forward(net->rt, CLAE_SPARSITY_H2O, L->act, target(r), weight(r), A, rows, L->out, r->t[0],
                                        none);
    }
    return clae_op_sparsity_forward(net->rt, r->sparsity, L->act, target(r), weight(r), A, rows, L->out, r->t[0], r->t[1]);
}

static clae_status sparse_penalty(clae_net *net, clae_layer *L, clae_reg *r, double *penalty)
{
    (void)L;
    if (r->sparsity == CLAE_SPARSITY_H2O) return CLAE_OK; /* a controller, not a loss */
    float v = 0.0f;
    TRY(clae_buf_read(net->rt, r->t[1], 0, &v, 1));
    *penalty += v;
    return CLAE_OK;
}

/* kl, l1, l2: ∂P/∂A joins ∂L/∂A before f'. */
static clae_status sparse_grad_act(clae_net *net, clae_layer *L, clae_reg *r, clae_buf G, size_t rows)
{
    if (r->sparsity == CLAE_SPARSITY_H2O) return CLAE_OK;
    clae_buf none = {0};
    return clae_op_sparsity_backward(net->rt, r->sparsity, L->act, target(r), weight(r), net->train.val[L->index + 1], rows,
                                     L->out, r->t[0], G, none);
}

/* h2o (Neurons.update_bias): once the optimizer has moved bias b_j with its rate r_j, the controller moves
 * it again, b_j ← b_j − r_j·β·(ā_j − ρ). The step is formed before the update, which overwrites the
 * state r_j comes from, and subtracted after it (an SGD step of rate 1). */
static clae_status sparse_around_update(clae_net *net, clae_layer *L, clae_reg *r, const clae_opt_hyper *h, int before)
{
    if (r->sparsity != CLAE_SPARSITY_H2O) return CLAE_OK;
    clae_param *b = L->b;
    if (before)
        return clae_op_sparsity_h2o_push(net->rt, h, r->f[0], weight(r), r->t[0], b->grad, b->s1, b->s2, L->out, r->t[1]);
    clae_opt_hyper minus = {.kind = CLAE_OPT_SGD, .lr = 1.0f};
    clae_buf none = {0};
    return clae_op_opt_update(net->rt, &minus, b->value, r->t[1], none, none, L->out);
}

static void sparse_describe(const clae_reg *r, char *buf, size_t cap)
{
    if (r->sparsity == CLAE_SPARSITY_KL || r->sparsity == CLAE_SPARSITY_H2O)
        snprintf(buf, cap, "sparse %s rho=%g beta=%g", clae_sparsity_name(r->sparsity), (double)r->f[0], (double)r->f[1]);
    else
        snprintf(buf, cap, "sparse %s lambda=%g", clae_sparsity_name(r->sparsity), (double)r->f[0]);
}

#define SPARSE_KIND(var, word, coupling)                                                            \
    const clae_reg_kind var = {                                                                     \
        .name = word,                                                                               \
        .couples_rows = coupling,                                                                   \
        .claims = CLAE_CLAIM_SPARSITY,                                                              \
        .parse = sparse_parse,                                                                      \
        .format = sparse_format,                                                                    \
        .check = sparse_check,                                                                      \
        .declare = sparse_declare,                                                                  \
        .forward = sparse_forward,                                                                  \
        .penalty = sparse_penalty,                                                                  \
        .grad_act = sparse_grad_act,                                                                \
        .around_update = sparse_around_update,                                                      \
        .describe = sparse_describe,                                                                \
    }

/* l1 and l2 are means over rows of per-row terms, so the parts' weighted sum is the batch's; kl's ρ̂ is not. */
SPARSE_KIND(clae_reg_kl, "kl", "the KL penalty is on the batch's mean activation, a mean over all its rows");
SPARSE_KIND(clae_reg_l1, "l1", NULL);
SPARSE_KIND(clae_reg_l2, "l2", NULL);
SPARSE_KIND(clae_reg_h2o, "h2o", "h2o's running mean moves row by row through the batch, state each part would "
                                 "move on its own");
