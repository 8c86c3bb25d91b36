/* ops_variants_cl.c — the OpenCL side of the regularized-variant ops (README, The math): arguments (checked
 * by lib/ops/ops.c) and launches of cl/noise.cl, select.cl and penalty.cl, queued without waiting. */
#include "ops/ops.h"
#include "ops/ops_cl_util.h"
#include "ops/ops_variants.h"

/* Enqueues `groups` work-groups of the kernel's work-group size (kernels that split one unit of
 * work across a group and read get_group_id). */
static clae_status launch_groups(clae_runtime *rt, const char *name, const karg *args, size_t nargs, size_t groups)
{
    if (groups == 0) return CLAE_OK;
    size_t wg = 0;
    cl_kernel k = NULL;
    clae_status s = kernel_with_args(rt, name, args, nargs, &wg, &k);
    if (s != CLAE_OK) return s;
    s = clae_rt_enqueue_1d(rt, k, name, groups * wg, wg);
    return s == CLAE_OK ? s : clae_rt_fail(rt, s);
}

/* pen[0] = 0 (h2o's controller and "no sparsity" are not losses). */
static clae_status zero_pen(clae_runtime *rt, clae_buf pen)
{
    return clae_buf_zero(rt, clae_buf_view(pen, 0, 1));
}

/* ---- denoising corruption (cl/noise.cl) ----------------------------------------------------- */

clae_status clae_cl_corrupt(clae_runtime *rt, clae_noise kind, float level, clae_buf X, clae_buf Xt,
                            clae_buf row_ids, size_t rows, size_t cols, uint64_t seed, uint32_t step,
                            clae_buf mean, clae_buf lo, clae_buf hi)
{
    /* A kind that reads no fill value gets X in its place, so no argument is a null buffer. */
    if (kind != CLAE_NOISE_MASK) mean = X;
    if (kind != CLAE_NOISE_SALTPEPPER) lo = hi = X;
    /* row_ids holds uint32 words in float slots: the same offset in words as in floats. */
    karg a[] = {ARG_I32(kind),       ARG_F32(level),          ARG_U32(clae_noise_threshold(level)),
                ARG_BUF(X),          ARG_BUF(Xt),             ARG_BUF(row_ids),
                ARG_U64(rows),       ARG_U64(cols),           ARG_U32(seed & 0xffffffffu),
                ARG_U32(seed >> 32), ARG_U32(step),           ARG_BUF(mean),
                ARG_BUF(lo),         ARG_BUF(hi)};
    return launch(rt, "corrupt", a, NARGS(a), cols, rows, 1);
}

/* ---- top-k selection and masks (cl/select.cl) ---------------------------------------------- */

static clae_status topk(clae_runtime *rt, const char *mask_kernel, clae_buf A, clae_buf mask, size_t rows,
                        size_t cols, size_t k)
{
    karg a[] = {ARG_BUF(A), ARG_BUF(mask), ARG_U64(rows), ARG_U64(cols), ARG_U64(k)};
    clae_status s = launch(rt, mask_kernel, a, NARGS(a), cols, rows, 1);
    if (s != CLAE_OK) return s;
    karg b[] = {ARG_BUF(A), ARG_BUF(mask), ARG_U64(rows * cols)};
    return launch(rt, "topk_apply", b, NARGS(b), rows * cols, 0, 0);
}

clae_status clae_cl_topk_rows(clae_runtime *rt, clae_buf A, clae_buf mask, size_t rows, size_t cols, size_t k)
{
    return topk(rt, "topk_rows_mask", A, mask, rows, cols, k);
}

clae_status clae_cl_topk_cols(clae_runtime *rt, clae_buf A, clae_buf mask, size_t rows, size_t cols, size_t m)
{
    return topk(rt, "topk_cols_mask", A, mask, rows, cols, m);
}

clae_status clae_cl_mul_mask(clae_runtime *rt, clae_buf G, clae_buf mask, size_t n)
{
    karg a[] = {ARG_BUF(G), ARG_BUF(mask), ARG_U64(n)};
    return launch(rt, "mul_mask", a, NARGS(a), n, 0, 0);
}

/* ---- sparsity penalties (cl/penalty.cl) ---------------------------------------------------- */

clae_status clae_cl_sparsity_forward(clae_runtime *rt, clae_sparsity kind, clae_activation f, float rho, float weight,
                                     clae_buf A, size_t rows, size_t cols, clae_buf stats, clae_buf pen)
{
    clae_status s;
    switch (kind) {
    case CLAE_SPARSITY_KL: {
        karg a[] = {ARG_I32(f == CLAE_ACT_TANH), ARG_BUF(A), ARG_U64(rows), ARG_U64(cols), ARG_BUF(stats)};
        s = launch(rt, "sparsity_colmean", a, NARGS(a), cols, 0, 0);
        if (s != CLAE_OK) return s;
        karg b[] = {ARG_F32(rho), ARG_F32(weight), ARG_BUF(stats), ARG_U64(cols), ARG_BUF(pen)};
        return launch(rt, "sparsity_kl_pen", b, NARGS(b), 1, 0, 0);
    }
    case CLAE_SPARSITY_L1:
    case CLAE_SPARSITY_L2: {
        karg a[] = {ARG_I32(kind == CLAE_SPARSITY_L2), ARG_F32(weight), ARG_BUF(A), ARG_U64(rows), ARG_U64(cols),
                    ARG_BUF(pen)};
        return launch(rt, "sparsity_act_pen", a, NARGS(a), 1, 0, 0);
    }
    case CLAE_SPARSITY_H2O: {
        karg a[] = {ARG_BUF(A), ARG_U64(rows), ARG_U64(cols), ARG_BUF(stats)};
        s = launch(rt, "sparsity_h2o_ema", a, NARGS(a), cols, 0, 0);
        return s == CLAE_OK && pen.n ? zero_pen(rt, pen) : s;
    }
    default:
        return zero_pen(rt, pen);
    }
}

clae_status clae_cl_sparsity_backward(clae_runtime *rt, clae_sparsity kind, clae_activation f, float rho, float weight,
                                      clae_buf A, size_t rows, size_t cols, clae_buf stats, clae_buf G, clae_buf db)
{
    /* h2o's step is not a gradient: it acts on the bias around its update (sparsity_h2o_push). */
    if (kind == CLAE_SPARSITY_NONE || kind == CLAE_SPARSITY_H2O) return CLAE_OK;
    (void)db;
    const float scale = clae_sparsity_grad_scale(kind, f, weight, rows);
    if (kind == CLAE_SPARSITY_KL) {
        karg a[] = {ARG_F32(scale), ARG_F32(rho), ARG_BUF(stats), ARG_U64(rows), ARG_U64(cols), ARG_BUF(G)};
        return launch(rt, "sparsity_kl_grad", a, NARGS(a), cols, rows, 1);
    }
    karg a[] = {ARG_I32(kind == CLAE_SPARSITY_L2), ARG_F32(scale), ARG_BUF(A), ARG_U64(rows * cols), ARG_BUF(G)};
    return launch(rt, "sparsity_act_grad", a, NARGS(a), rows * cols, 0, 0);
}

_Static_assert(CLAE_OPT_ADAM == 3 && CLAE_OPT_ADADELTA == 4, "cl/penalty.cl numbers the optimizers as clae.h does");

clae_status clae_cl_sparsity_h2o_push(clae_runtime *rt, const clae_opt_hyper *h, float rho, float weight, clae_buf ema,
                                      clae_buf db, clae_buf s1, clae_buf s2, size_t cols, clae_buf P)
{
    /* Optimizers without that state read db in its place (never used: no null buffer arguments). */
    if (h->kind != CLAE_OPT_ADADELTA) s1 = db;
    if (h->kind != CLAE_OPT_ADAM && h->kind != CLAE_OPT_ADADELTA) s2 = db;
    float a = h->kind == CLAE_OPT_ADAM ? h->beta2 : h->rho;
    float e = h->kind == CLAE_OPT_ADAM ? h->eps : h->adadelta_eps;
    karg k[] = {ARG_I32(h->kind), ARG_F32(h->lr), ARG_F32(a),    ARG_F32(e),      ARG_F32(h->bc2), ARG_F32(rho),
                ARG_F32(weight),  ARG_BUF(ema),   ARG_BUF(db),   ARG_BUF(s1),     ARG_BUF(s2),     ARG_U64(cols),
                ARG_BUF(P)};
    return launch(rt, "sparsity_h2o_push", k, NARGS(k), cols, 0, 0);
}

/* ---- contractive penalty (cl/penalty.cl) --------------------------------------------------- */

clae_status clae_cl_contractive_forward(clae_runtime *rt, clae_activation f, float lambda, clae_buf A, clae_buf W,
                                        size_t rows, size_t H, size_t D, clae_buf q, clae_buf pen)
{
    karg a[] = {ARG_BUF(W), ARG_U64(H), ARG_U64(D), ARG_BUF(q)};
    clae_status s = launch(rt, "contractive_q", a, NARGS(a), H, 0, 0);
    if (s != CLAE_OK) return s;
    karg b[] = {ARG_I32(f), ARG_F32(lambda), ARG_BUF(A), ARG_BUF(q), ARG_U64(rows), ARG_U64(H), ARG_BUF(pen)};
    return launch(rt, "contractive_pen", b, NARGS(b), 1, 0, 0);
}

clae_status clae_cl_contractive_grad_z(clae_runtime *rt, clae_activation f, float lambda, clae_buf A, clae_buf q,
                                       size_t rows, size_t H, clae_buf GZ)
{
    /* relu and linear: d = 0, so R = 0 and there is nothing to add (as in the reference). */
    if (f == CLAE_ACT_RELU || f == CLAE_ACT_LINEAR) return CLAE_OK;
    karg a[] = {ARG_I32(f), ARG_F32(clae_contractive_scale(lambda, rows)), ARG_BUF(A), ARG_BUF(q), ARG_U64(rows),
                ARG_U64(H), ARG_BUF(GZ)};
    return launch(rt, "contractive_grad_z", a, NARGS(a), H, rows, 1);
}

clae_status clae_cl_contractive_grad_w(clae_runtime *rt, clae_activation f, float lambda, clae_buf A, clae_buf W,
                                       size_t rows, size_t H, size_t D, clae_buf dW)
{
    if (D == 0) return CLAE_OK;
    karg a[] = {ARG_I32(f), ARG_F32(lambda), ARG_BUF(A), ARG_BUF(W), ARG_U64(rows), ARG_U64(H), ARG_U64(D),
                ARG_BUF(dW)};
    return launch_groups(rt, "contractive_grad_w", a, NARGS(a), H);
}
