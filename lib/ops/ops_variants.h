/* ops_variants.h — the regularized-variant ops (README, The math) on both paths: the functions the
 * op tables point at, and the host-side checks and constants both paths must share exactly. */
#ifndef CLAE_OPS_VARIANTS_H
#define CLAE_OPS_VARIANTS_H

#include <math.h>

#include "ops/ops.h" /* clae_opt_hyper */

/* ---- the ops; contracts in lib/ops/ops.h (struct clae_ops, "regularized variants") ------- */

/* CLAE_VARIANT_OPS(clae_ref_) declares clae_ref_corrupt, clae_ref_topk_rows, ... with the
 * signatures of the table entries; one list keeps the two paths' declarations from drifting. */
#define CLAE_VARIANT_OPS(P)                                                                         \
    clae_status P##corrupt(clae_runtime *rt, clae_noise kind, float level, clae_buf X, clae_buf Xt,      \
                           clae_buf row_ids, size_t rows, size_t cols, uint64_t seed, uint32_t step,      \
                           clae_buf mean, clae_buf lo, clae_buf hi);                                     \
    clae_status P##topk_rows(clae_runtime *rt, clae_buf A, clae_buf mask, size_t rows, size_t cols,      \
                             size_t k);                                                                  \
    clae_status P##topk_cols(clae_runtime *rt, clae_buf A, clae_buf mask, size_t rows, size_t cols,      \
                             size_t m);                                                                  \
    clae_status P##mul_mask(clae_runtime *rt, clae_buf G, clae_buf mask, size_t n);                      \
    clae_status P##sparsity_forward(clae_runtime *rt, clae_sparsity kind, clae_activation f, float rho,  \
                                    float weight, clae_buf A, size_t rows, size_t cols, clae_buf stats,  \
                                    clae_buf pen);                                                       \
    clae_status P##sparsity_backward(clae_runtime *rt, clae_sparsity kind, clae_activation f, float rho, \
                                     float weight, clae_buf A, size_t rows, size_t cols, clae_buf stats, \
                                     clae_buf G, clae_buf db);                                           \
    clae_status P##sparsity_h2o_push(clae_runtime *rt, const clae_opt_hyper *h, float rho, float weight, \
                                     clae_buf ema, clae_buf db, clae_buf s1, clae_buf s2, size_t cols,   \
                                     clae_buf P);                                                        \
    clae_status P##contractive_forward(clae_runtime *rt, clae_activation f, float lambda, clae_buf A,    \
                                       clae_buf W, size_t rows, size_t H, size_t D, clae_buf q,          \
                                       clae_buf pen);                                                    \
    clae_status P##contractive_grad_z(clae_runtime *rt, clae_activation f, float lambda, clae_buf A,     \
                                      clae_buf q, size_t rows, size_t H, clae_buf GZ);                   \
    clae_status P##contractive_grad_w(clae_runtime *rt, clae_activation f, float lambda, clae_buf A,     \
                                      clae_buf W, size_t rows, size_t H, size_t D, clae_buf dW);

/* lib/ops/ops_variants_ref.c (plain C) and lib/ops/ops_variants_cl.c (cl/noise.cl, select.cl, penalty.cl). */
CLAE_VARIANT_OPS(clae_ref_)
CLAE_VARIANT_OPS(clae_cl_)

/* ---- shared host-side pieces ---------------------------------------------------------------- */

/* ρ̂ is clamped to [1e-6, 1 − 1e-6] in the KL value and its gradient, as floats (KL needs 0 < ρ̂ < 1). */
#define CLAE_KL_Q_MIN 1e-6f
#define CLAE_KL_Q_MAX (1.0f - 1e-6f)

/* Philox stream tag of the denoising corruption: ctr = (e lo, e hi, step, 1). */
#define CLAE_STREAM_CORRUPT 1u

/* Bernoulli(ν) threshold thr = floor(ν·2^24), computed once in double, so corruption is
 * the integer test (w0 >> 8) < thr on every path. ν = 1 gives 2^24: every element. */
static inline uint32_t clae_noise_threshold(float nu) { return (uint32_t)floor((double)nu * 16777216.0); }

/* The level must make sense for the kind: σ ≥ 0 finite, ν in [0, 1]. */
static inline clae_status clae_check_noise(clae_runtime *rt, const char *path, clae_noise kind, float level)
{
    if ((int)kind < 0 || kind >= CLAE_NOISE_COUNT)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "corrupt (%s): unknown noise kind %d", path, (int)kind));
    if (kind == CLAE_NOISE_GAUSSIAN && !(isfinite(level) && level >= 0.0f))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "corrupt (%s): gaussian sigma %g must be finite and >= 0",
                                          path, (double)level));
    if ((kind == CLAE_NOISE_MASK || kind == CLAE_NOISE_SALTPEPPER) && !(level >= 0.0f && level <= 1.0f))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "corrupt (%s): corruption level %g must be in [0, 1]", path,
                                          (double)level));
    return CLAE_OK;
}

/* Kind, activation, weights and batch size of a sparsity op. KL needs ρ in (0, 1) (its logs);
 * KL, L1 and L2 divide by B = rows, so an empty batch is refused rather than turned into NaN. */
static inline clae_status clae_check_sparsity(clae_runtime *rt, const char *path, const char *op, clae_sparsity kind,
                                              clae_activation f, float rho, float weight, size_t rows)
{
    if ((int)kind < 0 || kind >= CLAE_SPARSITY_COUNT)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): unknown sparsity kind %d", op, path, (int)kind));
    if ((int)f < 0 || f >= CLAE_ACT_COUNT)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): unknown activation %d", op, path, (int)f));
    if (kind == CLAE_SPARSITY_NONE) return CLAE_OK;
    if (!isfinite(weight) || !isfinite(rho))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): weight %g and target %g must be finite", op, path,
                                          (double)weight, (double)rho));
    if (kind == CLAE_SPARSITY_KL && !(rho > 0.0f && rho < 1.0f))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): KL target rho %g must be in (0, 1)", op, path,
                                          (double)rho));
    if (kind != CLAE_SPARSITY_H2O && rows == 0)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): the penalty divides by the batch size, which is 0",
                                          op, path));
    return CLAE_OK;
}

/* Optimizer, target and weight of h2o's sparsity step. */
static inline clae_status clae_check_h2o_push(clae_runtime *rt, const char *path, const clae_opt_hyper *h, float rho,
                                              float weight)
{
    if (!h || (int)h->kind < 0 || h->kind >= CLAE_OPT_COUNT)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "sparsity_h2o_push (%s): unknown optimizer %d", path,
                                          h ? (int)h->kind : -1));
    if (!isfinite(weight) || !isfinite(rho))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "sparsity_h2o_push (%s): weight %g and target %g must be finite",
                                          path, (double)weight, (double)rho));
    return CLAE_OK;
}

/* The per-element factor of the sparsity gradient, in double then rounded once, so both paths
 * add the same float: KL β/B (β/(2B) for tanh, whose codes are mapped by (a+1)/2), L1 and L2 λ/B. */
static inline float clae_sparsity_grad_scale(clae_sparsity kind, clae_activation f, float weight, size_t rows)
{
    double b = (double)rows;
    if (kind == CLAE_SPARSITY_KL && f == CLAE_ACT_TANH) b *= 2.0;
    return (float)((double)weight / b);
}

/* Activation, λ and batch size of a contractive op (it divides by B = rows). */
static inline clae_status clae_check_contractive(clae_runtime *rt, const char *path, const char *op,
                                                 clae_activation f, float lambda, size_t rows)
{
    if ((int)f < 0 || f >= CLAE_ACT_COUNT)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): unknown activation %d", op, path, (int)f));
    if (!isfinite(lambda))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): lambda %g must be finite", op, path, (double)lambda));
    if (rows == 0)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): the penalty divides by the batch size, which is 0",
                                          op, path));
    return CLAE_OK;
}

/* 2λ/B of the contractive gradients (R_nj = (2λ/B)·s·d·q_j, c_j = (2λ/B)·Σ_n s_nj²), in double then
 * rounded once (both paths multiply by the same float). */
static inline float clae_contractive_scale(float lambda, size_t rows)
{
    return (float)(2.0 * (double)lambda / (double)rows);
}

#endif
