/* ops.c — the one checking entry point of every op: arguments are checked here, once for both paths,
 * and only then does the call go to the runtime's table (lib/ops/ops_ref.c or ops_cl.c), whose bodies trust them. */
#include <math.h>
#include <stdio.h>

#include "ops/gemm/gemm.h"
#include "ops/ops.h"
#include "ops/ops_check.h"

/* Messages name the path, as the reference and OpenCL tests compare both. */

/* Every buffer an op touches must hold at least n floats, in the memory of its
 * path (host memory for the reference, a memory object for OpenCL). */
clae_status clae_op_need(clae_runtime *rt, const char *op, const char *name, clae_buf b, size_t n)
{
    int present = rt->trace || (rt->is_ref ? b.host != NULL : b.mem != NULL);
    if (b.n >= n && (n == 0 || present)) {
        if (n) clae_rt_trace_use(rt, b); /* a dry run learns here which tensors the op touches */
        return CLAE_OK;
    }
    return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): buffer %s holds %zu floats%s, needs %zu", op, clae_op_path(rt),
                                      name, b.n,
                                      present           ? ""
                                      : rt->is_ref      ? " and is not a host buffer"
                                                        : " and is not a device buffer",
                                      n));
}

/* An enum argument (activation, loss, …) must be one the ops know. */
static clae_status check_enum(clae_runtime *rt, const char *op, const char *what, int v, int count)
{
    if (v >= 0 && v < count) return CLAE_OK;
    return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): unknown %s %d", op, clae_op_path(rt), what, v));
}

#define check_act(op, f) check_enum(rt, (op), "activation", (int)(f), CLAE_ACT_COUNT)
#define check_loss(op, l) check_enum(rt, (op), "loss", (int)(l), CLAE_LOSS_COUNT)

/* ---- dense layer, losses, reductions, optimizers, random numbers -------------------------- */

/* The engines check GEMM's shapes themselves (clae_gemm_prologue, gemm_ref.c): they are also called alone. */
clae_status clae_op_gemm(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                         clae_buf A, size_t lda, clae_buf B, size_t ldb, float beta, clae_buf C, size_t ldc)
{
    if (rt->trace) {
        /* A dry run: the shape is checked when the op really runs; here it is the tensors and the
         * workspace this call would take that matter. */
        clae_rt_trace_use(rt, A);
        clae_rt_trace_use(rt, B);
        clae_rt_trace_use(rt, C);
        rt->trace->workspace(rt->trace, rt->gemm->workspace_bytes(rt, trans_a, trans_b, M, N, K, lda, ldb, ldc));
        if (rt->trace->gemm) rt->trace->gemm(rt->trace, trans_a, trans_b, M, N, K);
        return CLAE_OK;
    }
    return rt->gemm->sgemm(rt, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* The dense forward: the engine's fused epilogue where it has one, else the three ops in turn (the epilogue
 * repeats their rounded operations in their order). */
clae_status clae_op_gemm_bias_act(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                                  clae_buf A, size_t lda, clae_buf B, size_t ldb, clae_buf bias, clae_activation f,
                                  clae_buf Z, clae_buf C)
{
    TRY(check_act("gemm_bias_act", f));
    NEED("gemm_bias_act", bias, M ? N : 0);
    NEED("gemm_bias_act", C, M * N);
    if (Z.n) NEED("gemm_bias_act", Z, M * N);
    if (rt->trace) {
        clae_rt_trace_use(rt, A);
        clae_rt_trace_use(rt, B);
        rt->trace->workspace(rt->trace, rt->gemm->workspace_bytes(rt, trans_a, trans_b, M, N, K, lda, ldb, N));
        if (rt->trace->gemm) rt->trace->gemm(rt->trace, trans_a, trans_b, M, N, K);
        return CLAE_OK;
    }
    if (rt->gemm->sgemm_bias_act)
        return rt->gemm->sgemm_bias_act(rt, trans_a, trans_b, M, N, K, A, lda, B, ldb, bias, f, Z, C, N);
    clae_buf pre = Z.n ? Z : C;
    TRY(rt->gemm->sgemm(rt, trans_a, trans_b, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, pre, N));
    TRY(rt->ops->bias_add(rt, pre, bias, M, N));
    return rt->ops->act_forward(rt, f, pre, C, M * N);
}

void clae_op_gemm_describe(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K, char *buf,
                           size_t cap)
{
    if (!cap) return;
    int w = snprintf(buf, cap, "%s", rt->gemm->name);
    if (w < 0 || (size_t)w + 2 >= cap || !rt->gemm->describe) return;
    snprintf(buf + w, cap - (size_t)w, ": ");
    rt->gemm->describe(rt, trans_a, trans_b, M, N, K, buf + w + 2, cap - (size_t)w - 2);
}

clae_status clae_op_bias_add(clae_runtime *rt, clae_buf Z, clae_buf b, size_t rows, size_t cols)
{
    NEED("bias_add", Z, rows * cols);
    NEED("bias_add", b, rows ? cols : 0);
    return rt->trace ? CLAE_OK : rt->ops->bias_add(rt, Z, b, rows, cols);
}

clae_status clae_op_act_forward(clae_runtime *rt, clae_activation f, clae_buf Z, clae_buf A, size_t n)
{
    TRY(check_act("act_forward", f));
    NEED("act_forward", Z, n);
    NEED("act_forward", A, n);
    return rt->trace ? CLAE_OK : rt->ops->act_forward(rt, f, Z, A, n);
}

clae_status clae_op_act_backward(clae_runtime *rt, clae_activation f, clae_buf A, clae_buf G, size_t n)
{
    TRY(check_act("act_backward", f));
    NEED("act_backward", A, n);
    NEED("act_backward", G, n);
    return rt->trace ? CLAE_OK : rt->ops->act_backward(rt, f, A, G, n);
}

clae_status clae_op_loss_rows(clae_runtime *rt, clae_loss loss, clae_buf O, clae_buf Xhat, clae_buf X, size_t rows,
                              size_t cols, clae_buf out)
{
    TRY(check_loss("loss_rows", loss));
    NEED("loss_rows", X, rows * cols);
    /* bce reads only O, sse only Xhat: the other may be an empty buffer. */
    if (loss == CLAE_LOSS_BCE) NEED("loss_rows", O, rows * cols);
    else NEED("loss_rows", Xhat, rows * cols);
    NEED("loss_rows", out, rows);
    return rt->trace ? CLAE_OK : rt->ops->loss_rows(rt, loss, O, Xhat, X, rows, cols, out);
}

clae_status clae_op_loss_rows_grad(clae_runtime *rt, clae_loss loss, clae_activation out_act, clae_buf O,
                                   clae_buf Xhat, clae_buf X, size_t rows, size_t cols, clae_buf out, float scale,
                                   clae_buf G)
{
    TRY(check_loss("loss_rows_grad", loss));
    TRY(check_act("loss_rows_grad", out_act));
    if (loss == CLAE_LOSS_BCE && out_act != CLAE_ACT_SIGMOID)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "loss_rows_grad (%s): bce needs a sigmoid output, not %s",
                                          clae_op_path(rt), clae_activation_name(out_act)));
    NEED("loss_rows_grad", X, rows * cols);
    NEED("loss_rows_grad", Xhat, rows * cols);
    if (loss == CLAE_LOSS_BCE) NEED("loss_rows_grad", O, rows * cols);
    NEED("loss_rows_grad", out, rows);
    NEED("loss_rows_grad", G, rows * cols);
    return rt->trace ? CLAE_OK : rt->ops->loss_rows_grad(rt, loss, out_act, O, Xhat, X, rows, cols, out, scale, G);
}

clae_status clae_op_loss_grad(clae_runtime *rt, clae_loss loss, clae_activation out_act, clae_buf Xhat, clae_buf X,
                              size_t n, float scale, clae_buf G)
{
    TRY(check_loss("loss_grad", loss));
    TRY(check_act("loss_grad", out_act));
    /* The fused form σ(o) − x holds only for a sigmoid output. */
    if (loss == CLAE_LOSS_BCE && out_act != CLAE_ACT_SIGMOID)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "loss_grad (%s): bce needs a sigmoid output, not %s", clae_op_path(rt),
                                          clae_activation_name(out_act)));
    NEED("loss_grad", Xhat, n);
    NEED("loss_grad", X, n);
    NEED("loss_grad", G, n);
    return rt->trace ? CLAE_OK : rt->ops->loss_grad(rt, loss, out_act, Xhat, X, n, scale, G);
}

clae_status clae_op_row_mse(clae_runtime *rt, clae_buf Xhat, clae_buf X, size_t rows, size_t cols, clae_buf out)
{
    NEED("row_mse", Xhat, rows * cols);
    NEED("row_mse", X, rows * cols);
    NEED("row_mse", out, rows);
    return rt->trace ? CLAE_OK : rt->ops->row_mse(rt, Xhat, X, rows, cols, out);
}

clae_status clae_op_row_sq_error(clae_runtime *rt, clae_buf Xhat, clae_buf X, size_t rows, size_t cols, clae_buf out)
{
    NEED("row_sq_error", Xhat, rows * cols);
    NEED("row_sq_error", X, rows * cols);
    NEED("row_sq_error", out, rows);
    return rt->trace ? CLAE_OK : rt->ops->row_sq_error(rt, Xhat, X, rows, cols, out);
}

clae_status clae_op_act_backward_colsum(clae_runtime *rt, clae_activation f, clae_buf A, clae_buf G, size_t rows,
                                        size_t cols, clae_buf out)
{
    TRY(check_act("act_backward_colsum", f));
    NEED("act_backward_colsum", A, rows * cols);
    NEED("act_backward_colsum", G, rows * cols);
    NEED("act_backward_colsum", out, cols);
    return rt->trace ? CLAE_OK : rt->ops->act_backward_colsum(rt, f, A, G, rows, cols, out);
}

clae_status clae_op_colsum(clae_runtime *rt, clae_buf G, size_t rows, size_t cols, clae_buf out)
{
    NEED("colsum", G, rows * cols);
    NEED("colsum", out, cols);
    return rt->trace ? CLAE_OK : rt->ops->colsum(rt, G, rows, cols, out);
}

clae_status clae_op_opt_update(clae_runtime *rt, const clae_opt_hyper *h, clae_buf theta, clae_buf grad, clae_buf s1,
                               clae_buf s2, size_t n)
{
    NEED("opt_update", theta, n);
    NEED("opt_update", grad, n);
    /* The state each rule keeps: none for SGD, v for momentum and Nesterov, two moments otherwise. */
    switch (h->kind) {
    case CLAE_OPT_SGD: break;
    case CLAE_OPT_MOMENTUM: NEED("opt_update(momentum)", s1, n); break;
    case CLAE_OPT_NESTEROV: NEED("opt_update(nesterov)", s1, n); break;
    case CLAE_OPT_ADAM:
        NEED("opt_update(adam)", s1, n);
        NEED("opt_update(adam)", s2, n);
        break;
    case CLAE_OPT_ADADELTA:
        NEED("opt_update(adadelta)", s1, n);
        NEED("opt_update(adadelta)", s2, n);
        break;
    default:
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "opt_update (%s): unknown optimizer %d", clae_op_path(rt),
                                          (int)h->kind));
    }
    return rt->trace ? CLAE_OK : rt->ops->opt_update(rt, h, theta, grad, s1, s2, n);
}

clae_status clae_op_init_uniform(clae_runtime *rt, clae_buf theta, size_t n, uint64_t seed, uint32_t layer_id, float a)
{
    NEED("init_uniform", theta, n);
    return rt->trace ? CLAE_OK : rt->ops->init_uniform(rt, theta, n, seed, layer_id, a);
}

clae_status clae_op_philox(clae_runtime *rt, const uint32_t *ctr, const uint32_t key[2], uint32_t *out, size_t n)
{
    return rt->trace ? CLAE_OK : rt->ops->philox(rt, ctr, key, out, n);
}

/* ---- regularized variants ----------------------------------------------------------------- */

clae_status clae_op_corrupt(clae_runtime *rt, clae_noise kind, float level, clae_buf X, clae_buf Xt, clae_buf row_ids,
                            size_t rows, size_t cols, uint64_t seed, uint32_t step, clae_buf mean, clae_buf lo,
                            clae_buf hi)
{
    /* The level must make sense for the kind: σ ≥ 0 finite, ν in [0, 1]. */
    if ((int)kind < 0 || kind >= CLAE_NOISE_COUNT)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "corrupt (%s): unknown noise kind %d", clae_op_path(rt), (int)kind));
    if (kind == CLAE_NOISE_GAUSSIAN && !(isfinite(level) && level >= 0.0f))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "corrupt (%s): gaussian sigma %g must be finite and >= 0",
                                          clae_op_path(rt), (double)level));
    if ((kind == CLAE_NOISE_MASK || kind == CLAE_NOISE_SALTPEPPER) && !(level >= 0.0f && level <= 1.0f))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "corrupt (%s): corruption level %g must be in [0, 1]",
                                          clae_op_path(rt), (double)level));
    NEED("corrupt", X, rows * cols);
    NEED("corrupt", Xt, rows * cols);
    NEED("corrupt", row_ids, kind == CLAE_NOISE_NONE ? 0 : rows);
    /* Only the kind's own fill values are read: mask the mean, salt-and-pepper the min and max. */
    NEED("corrupt(mean)", mean, kind == CLAE_NOISE_MASK ? cols : 0);
    NEED("corrupt(min)", lo, kind == CLAE_NOISE_SALTPEPPER ? cols : 0);
    NEED("corrupt(max)", hi, kind == CLAE_NOISE_SALTPEPPER ? cols : 0);
    return rt->trace ? CLAE_OK : rt->ops->corrupt(rt, kind, level, X, Xt, row_ids, rows, cols, seed, step, mean, lo, hi);
}

clae_status clae_op_topk_rows(clae_runtime *rt, clae_buf A, clae_buf mask, size_t rows, size_t cols, size_t k)
{
    NEED("topk_rows", A, rows * cols);
    NEED("topk_rows", mask, rows * cols);
    return rt->trace ? CLAE_OK : rt->ops->topk_rows(rt, A, mask, rows, cols, k);
}

clae_status clae_op_topk_cols(clae_runtime *rt, clae_buf A, clae_buf mask, size_t rows, size_t cols, size_t m)
{
    NEED("topk_cols", A, rows * cols);
    NEED("topk_cols", mask, rows * cols);
    return rt->trace ? CLAE_OK : rt->ops->topk_cols(rt, A, mask, rows, cols, m);
}

clae_status clae_op_mul_mask(clae_runtime *rt, clae_buf G, clae_buf mask, size_t n)
{
    NEED("mul_mask", G, n);
    NEED("mul_mask", mask, n);
    return rt->trace ? CLAE_OK : rt->ops->mul_mask(rt, G, mask, n);
}

/* Kind, activation, weights and batch size of a sparsity op. KL needs ρ in (0, 1) (its logs);
 * KL, L1 and L2 divide by B = rows, so an empty batch is refused rather than turned into NaN. */
static clae_status check_sparsity(clae_runtime *rt, const char *op, clae_sparsity kind, clae_activation f, float rho,
                                  float weight, size_t rows)
{
    if ((int)kind < 0 || kind >= CLAE_SPARSITY_COUNT)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): unknown sparsity kind %d", op, clae_op_path(rt), (int)kind));
    TRY(check_act(op, f));
    if (kind == CLAE_SPARSITY_NONE) return CLAE_OK;
    if (!isfinite(weight) || !isfinite(rho))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): weight %g and target %g must be finite", op, clae_op_path(rt),
                                          (double)weight, (double)rho));
    if (kind == CLAE_SPARSITY_KL && !(rho > 0.0f && rho < 1.0f))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): KL target rho %g must be in (0, 1)", op, clae_op_path(rt),
                                          (double)rho));
    if (kind != CLAE_SPARSITY_H2O && rows == 0)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): the penalty divides by the batch size, which is 0",
                                          op, clae_op_path(rt)));
    return CLAE_OK;
}

clae_status clae_op_sparsity_forward(clae_runtime *rt, clae_sparsity kind, clae_activation f, float rho, float weight,
                                     clae_buf A, size_t rows, size_t cols, clae_buf stats, clae_buf pen)
{
    TRY(check_sparsity(rt, "sparsity_forward", kind, f, rho, weight, rows));
    NEED("sparsity_forward", pen, kind == CLAE_SPARSITY_H2O ? 0 : 1);
    NEED("sparsity_forward", A, kind == CLAE_SPARSITY_NONE ? 0 : rows * cols);
    if (kind == CLAE_SPARSITY_KL || kind == CLAE_SPARSITY_H2O) NEED("sparsity_forward", stats, cols);
    return rt->trace ? CLAE_OK : rt->ops->sparsity_forward(rt, kind, f, rho, weight, A, rows, cols, stats, pen);
}

clae_status clae_op_sparsity_backward(clae_runtime *rt, clae_sparsity kind, clae_activation f, float rho, float weight,
                                      clae_buf A, size_t rows, size_t cols, clae_buf stats, clae_buf G, clae_buf db)
{
    TRY(check_sparsity(rt, "sparsity_backward", kind, f, rho, weight, rows));
    /* none and h2o read nothing here (h2o's step is sparsity_h2o_push); KL reads ρ̂, L1 and L2 the codes. */
    if (kind != CLAE_SPARSITY_NONE && kind != CLAE_SPARSITY_H2O) {
        if (kind == CLAE_SPARSITY_KL) NEED("sparsity_backward", stats, cols);
        NEED("sparsity_backward", G, rows * cols);
        if (kind != CLAE_SPARSITY_KL) NEED("sparsity_backward", A, rows * cols);
    }
    return rt->trace ? CLAE_OK : rt->ops->sparsity_backward(rt, kind, f, rho, weight, A, rows, cols, stats, G, db);
}

clae_status clae_op_sparsity_h2o_push(clae_runtime *rt, const clae_opt_hyper *h, float rho, float weight, clae_buf ema,
                                      clae_buf db, clae_buf s1, clae_buf s2, size_t cols, clae_buf P)
{
    if (!h || (int)h->kind < 0 || h->kind >= CLAE_OPT_COUNT)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "sparsity_h2o_push (%s): unknown optimizer %d", clae_op_path(rt),
                                          h ? (int)h->kind : -1));
    if (!isfinite(weight) || !isfinite(rho))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "sparsity_h2o_push (%s): weight %g and target %g must be finite",
                                          clae_op_path(rt), (double)weight, (double)rho));
    NEED("sparsity_h2o_push", ema, cols);
    NEED("sparsity_h2o_push", db, cols);
    NEED("sparsity_h2o_push", P, cols);
    /* The rate reads the optimizer state only for ADADELTA (Eg2, Edx2) and Adam (v). */
    NEED("sparsity_h2o_push(eg2)", s1, h->kind == CLAE_OPT_ADADELTA ? cols : 0);
    NEED("sparsity_h2o_push(v)", s2, h->kind == CLAE_OPT_ADAM || h->kind == CLAE_OPT_ADADELTA ? cols : 0);
    return rt->trace ? CLAE_OK : rt->ops->sparsity_h2o_push(rt, h, rho, weight, ema, db, s1, s2, cols, P);
}

/* Activation, λ and batch size of a contractive op (it divides by B = rows). */
static clae_status check_contractive(clae_runtime *rt, const char *op, clae_activation f, float lambda, size_t rows)
{
    TRY(check_act(op, f));
    if (!isfinite(lambda))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): lambda %g must be finite", op, clae_op_path(rt),
                                          (double)lambda));
    if (rows == 0)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): the penalty divides by the batch size, which is 0",
                                          op, clae_op_path(rt)));
    return CLAE_OK;
}

clae_status clae_op_contractive_forward(clae_runtime *rt, clae_activation f, float lambda, clae_buf A, clae_buf W,
                                        size_t rows, size_t H, size_t D, clae_buf q, clae_buf pen)
{
    TRY(check_contractive(rt, "contractive_forward", f, lambda, rows));
    NEED("contractive_forward", A, rows * H);
    NEED("contractive_forward", W, H * D);
    NEED("contractive_forward", q, H);
    NEED("contractive_forward", pen, 1);
    return rt->trace ? CLAE_OK : rt->ops->contractive_forward(rt, f, lambda, A, W, rows, H, D, q, pen);
}

clae_status clae_op_contractive_grad_z(clae_runtime *rt, clae_activation f, float lambda, clae_buf A, clae_buf q,
                                       size_t rows, size_t H, clae_buf GZ)
{
    TRY(check_contractive(rt, "contractive_grad_z", f, lambda, rows));
    NEED("contractive_grad_z", A, rows * H);
    NEED("contractive_grad_z", q, H);
    NEED("contractive_grad_z", GZ, rows * H);
    return rt->trace ? CLAE_OK : rt->ops->contractive_grad_z(rt, f, lambda, A, q, rows, H, GZ);
}

clae_status clae_op_contractive_grad_w(clae_runtime *rt, clae_activation f, float lambda, clae_buf A, clae_buf W,
                                       size_t rows, size_t H, size_t D, clae_buf dW)
{
    TRY(check_contractive(rt, "contractive_grad_w", f, lambda, rows));
    NEED("contractive_grad_w", A, rows * H);
    NEED("contractive_grad_w", W, H * D);
    NEED("contractive_grad_w", dW, H * D);
    return rt->trace ? CLAE_OK : rt->ops->contractive_grad_w(rt, f, lambda, A, W, rows, H, D, dW);
}
