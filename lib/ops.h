/* ops.h — the op table: every op the models use, with an OpenCL and a plain-C reference twin.
 * Both implementations share one signature; a runtime points at the one for its device. */
#ifndef CLAE_OPS_H
#define CLAE_OPS_H

#include "runtime.h"

/* Loss kinds understood by the loss ops (clae_loss values). */

/* Hyperparameters of one optimizer update. bc1 = 1 − β1^t and bc2 = 1 − β2^t
 * are computed in double on the host (VARIANTS.md A.3). */
typedef struct clae_opt_hyper {
    clae_optimizer kind;
    float lr, momentum;
    float beta1, beta2, eps, bc1, bc2;
    float rho, adadelta_eps;
} clae_opt_hyper;

typedef struct clae_ops {
    const char *name; /* "ref" or "opencl" */

    /* C = alpha·op(A)·op(B) + beta·C, row-major; op(X) = Xᵀ when trans is
     * non-zero; op(A) is M×K, op(B) is K×N, C is M×N. Goes through rt->gemm. */
    clae_status (*gemm)(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                        float alpha, clae_buf A, size_t lda, clae_buf B, size_t ldb, float beta,
                        clae_buf C, size_t ldc);

    /* Z[r,c] += b[c] for r < rows, c < cols. */
    clae_status (*bias_add)(clae_runtime *rt, clae_buf Z, clae_buf b, size_t rows, size_t cols);

    /* A = f(Z) elementwise over n floats (A may equal Z). */
    clae_status (*act_forward)(clae_runtime *rt, clae_activation f, clae_buf Z, clae_buf A, size_t n);

    /* G = G ⊙ f'(·), where f' is taken from the cached output A (VARIANTS.md §0.4:
     * relu' = 1 where a > 0). */
    clae_status (*act_backward)(clae_runtime *rt, clae_activation f, clae_buf A, clae_buf G, size_t n);

    /* Per-row loss: out[r] = Σ_c ℓ(r,c). sse: ½(Xhat−X)²; bce: softplus(O)−X·O
     * (stable form, §0.3). O is the output pre-activation (unused for sse),
     * Xhat the output. Accumulates in double (ref) or a fixed-order loop (OpenCL). */
    clae_status (*loss_rows)(clae_runtime *rt, clae_loss loss, clae_buf O, clae_buf Xhat, clae_buf X,
                             size_t rows, size_t cols, clae_buf out);

    /* Output-gradient seed G = scale·∂ℓ/∂O over n floats: sse: scale·(Xhat−X)·g'(Xhat)
     * with g the output activation; bce (sigmoid output, fused): scale·(Xhat−X). */
    clae_status (*loss_grad)(clae_runtime *rt, clae_loss loss, clae_activation out_act, clae_buf Xhat,
                             clae_buf X, size_t n, float scale, clae_buf G);

    /* Per-row squared error: out[r] = Σ_c (Xhat−X)². */
    clae_status (*row_sq_error)(clae_runtime *rt, clae_buf Xhat, clae_buf X, size_t rows, size_t cols,
                                clae_buf out);

    /* out[c] = Σ_r G[r,c] (fixed order, deterministic). */
    clae_status (*colsum)(clae_runtime *rt, clae_buf G, size_t rows, size_t cols, clae_buf out);

    /* One optimizer update of n parameters: theta, grad, and state s1, s2 (n
     * floats each; unused ones may be empty). VARIANTS.md Appendix A. */
    clae_status (*opt_update)(clae_runtime *rt, const clae_opt_hyper *h, clae_buf theta, clae_buf grad,
                              clae_buf s1, clae_buf s2, size_t n);

    /* theta[e] = a·(2u−1), u = (w0 >> 8)·2^-24, w = Philox(ctr=(e lo, e hi,
     * layer_id, 9), key=(seed lo, seed hi)) — Appendix B, bit-identical on every path. */
    clae_status (*init_uniform)(clae_runtime *rt, clae_buf theta, size_t n, uint64_t seed,
                                uint32_t layer_id, float a);

    /* Philox4x32-10 of n counters on the device: ctr is 4n words, out 4n words
     * (host arrays), all with one key. For known-answer tests of each path. */
    clae_status (*philox)(clae_runtime *rt, const uint32_t *ctr, const uint32_t key[2], uint32_t *out,
                          size_t n);
} clae_ops;

extern const clae_ops clae_ops_ref;
extern const clae_ops clae_ops_cl;

#endif
