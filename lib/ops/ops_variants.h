/* ops_variants.h — the regularized-variant ops (README, The math) on both paths: the functions the
 * op tables point at, and the host-side constants both paths must share exactly (checks: lib/ops/ops.c). */
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

/* The per-element factor of the sparsity gradient, in double then rounded once, so both paths
 * add the same float: KL β/B (β/(2B) for tanh, whose codes are mapped by (a+1)/2), L1 and L2 λ/B. */
static inline float clae_sparsity_grad_scale(clae_sparsity kind, clae_activation f, float weight, size_t rows)
{
    double b = (double)rows;
    if (kind == CLAE_SPARSITY_KL && f == CLAE_ACT_TANH) b *= 2.0;
    return (float)((double)weight / b);
}

/* 2λ/B of the contractive gradients (R_nj = (2λ/B)·s·d·q_j, c_j = (2λ/B)·Σ_n s_nj²), in double then
 * rounded once (both paths multiply by the same float). */
static inline float clae_contractive_scale(float lambda, size_t rows)
{
    return (float)(2.0 * (double)lambda / (double)rows);
}

#endif
