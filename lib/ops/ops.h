/* ops.h — every op the models use: one checking entry point each (clae_op_*, lib/ops/ops.c), and the
 * table of bodies with an OpenCL and a plain-C reference twin that the entry calls once the arguments pass. */
#ifndef CLAE_OPS_H
#define CLAE_OPS_H

#include "runtime/runtime.h"

/* Loss kinds understood by the loss ops (clae_loss values). */

/* Hyperparameters of one optimizer update. bc1 = 1 − β1^t and bc2 = 1 − β2^t
 * are computed in double on the host (pow), so both paths divide by the same floats. */
typedef struct clae_opt_hyper {
    clae_optimizer kind;
    float lr, momentum;
    float beta1, beta2, eps, bc1, bc2;
    float rho, adadelta_eps;
} clae_opt_hyper;

/* The bodies of one path. Callers go through clae_op_<name> below, never through the table: the
 * entry checks every argument (buffer sizes, enum ranges, hyperparameters; CLAE_ERR_ARG naming the op
 * and the path) so the bodies, which trust them, hold no checks of their own. The contracts are here. */
typedef struct clae_ops {
    const char *name; /* "ref" or "opencl" */

    /* Z[r,c] += b[c] for r < rows, c < cols. */
    clae_status (*bias_add)(clae_runtime *rt, clae_buf Z, clae_buf b, size_t rows, size_t cols);

    /* A = f(Z) elementwise over n floats (A may equal Z). */
    clae_status (*act_forward)(clae_runtime *rt, clae_activation f, clae_buf Z, clae_buf A, size_t n);

    /* G = G ⊙ f'(·), where f' is taken from the cached output A (σ: a(1−a), tanh: 1−a²,
     * relu' = 1 where a > 0). */
    clae_status (*act_backward)(clae_runtime *rt, clae_activation f, clae_buf A, clae_buf G, size_t n);

    /* Per-row loss: out[r] = Σ_c ℓ(r,c). sse: ½(Xhat−X)²; bce: softplus(O)−X·O
     * (stable: never log σ). O is the output pre-activation (unused for sse),
     * Xhat the output. Accumulates in double (ref) or a fixed-order loop (OpenCL). */
    clae_status (*loss_rows)(clae_runtime *rt, clae_loss loss, clae_buf O, clae_buf Xhat, clae_buf X,
                             size_t rows, size_t cols, clae_buf out);

    /* Output-gradient seed G = scale·∂ℓ/∂O over n floats: sse: scale·(Xhat−X)·g'(Xhat)
     * with g the output activation; bce (sigmoid output, fused): scale·(Xhat−X). */
    clae_status (*loss_grad)(clae_runtime *rt, clae_loss loss, clae_activation out_act, clae_buf Xhat,
                             clae_buf X, size_t n, float scale, clae_buf G);

    /* loss_rows and loss_grad of the same rows in one pass (the training step's loss): out as loss_rows
     * gives it, G (rows·cols floats) as loss_grad with that scale gives it, bit for bit. */
    clae_status (*loss_rows_grad)(clae_runtime *rt, clae_loss loss, clae_activation out_act, clae_buf O,
                                  clae_buf Xhat, clae_buf X, size_t rows, size_t cols, clae_buf out, float scale,
                                  clae_buf G);

    /* Per-row squared error: out[r] = Σ_c (Xhat−X)². */
    clae_status (*row_sq_error)(clae_runtime *rt, clae_buf Xhat, clae_buf X, size_t rows, size_t cols,
                                clae_buf out);

    /* Per-row mean squared error, the anomaly score: out[r] = (float)((double)e_r / cols) with e_r the float
     * row_sq_error gives, so it equals that op followed by the host's division bit for bit (in float where
     * the device lacks fp64). */
    clae_status (*row_mse)(clae_runtime *rt, clae_buf Xhat, clae_buf X, size_t rows, size_t cols, clae_buf out);

    /* out[c] = Σ_r G[r,c] (fixed order, deterministic). */
    clae_status (*colsum)(clae_runtime *rt, clae_buf G, size_t rows, size_t cols, clae_buf out);

    /* act_backward then colsum (a hidden dense layer's G = ∂L/∂Z and bias gradient), in one pass on
     * OpenCL, bit for bit what the two give. */
    clae_status (*act_backward_colsum)(clae_runtime *rt, clae_activation f, clae_buf A, clae_buf G, size_t rows,
                                       size_t cols, clae_buf out);

    /* One optimizer update of n parameters: theta, grad, and state s1, s2 (n
     * floats each; unused ones may be empty). The update rules: README, The math: optimizers. */
    clae_status (*opt_update)(clae_runtime *rt, const clae_opt_hyper *h, clae_buf theta, clae_buf grad,
                              clae_buf s1, clae_buf s2, size_t n);

    /* theta[e] = a·(2u−1), u = (w0 >> 8)·2^-24, w = Philox(ctr=(e lo, e hi,
     * layer_id, 9), key=(seed lo, seed hi)) — bit-identical on every path. */
    clae_status (*init_uniform)(clae_runtime *rt, clae_buf theta, size_t n, uint64_t seed,
                                uint32_t layer_id, float a);

    /* Philox4x32-10 of n counters on the device: ctr is 4n words, out 4n words
     * (host arrays), all with one key. For known-answer tests of each path. */
    clae_status (*philox)(clae_runtime *rt, const uint32_t *ctr, const uint32_t key[2], uint32_t *out,
                          size_t n);

    /* ---- regularized variants (README, The math) ---------------------- */

    /* Xt = C(X), the denoising corruption: Philox key = (seed lo, seed hi), ctr = (e lo, e hi, step, 1)
     * with e = row_ids[r]·cols + c (row_ids holds `rows` uint32 words: the rows'
     * indices in the data set). w0 decides corruption ((w0 >> 8) < floor(ν·2^24)),
     * w1's top bit picks salt (1) or pepper (0), w2/w3 drive Box–Muller through
     * clae's own float log/cos polynomials so both paths give the same bits.
     * level is σ (gaussian) or ν (mask, saltpepper). A corrupted element becomes the feature's
     * training value fill: mask writes mean[c], salt-and-pepper hi[c] (salt) or lo[c] (pepper);
     * each is cols floats, read only by the kinds that use it (others may be empty). */
    clae_status (*corrupt)(clae_runtime *rt, clae_noise kind, float level, clae_buf X, clae_buf Xt,
                           clae_buf row_ids, size_t rows, size_t cols, uint64_t seed, uint32_t step,
                           clae_buf mean, clae_buf lo, clae_buf hi);

    /* k-sparse (Makhzani & Frey 2013): mask[r,c] = 1 for the k largest A[r,:] (value descending,
     * index ascending on ties), else 0; then A ⊙= mask. k >= cols keeps all. */
    clae_status (*topk_rows)(clae_runtime *rt, clae_buf A, clae_buf mask, size_t rows, size_t cols, size_t k);

    /* Winner-take-all (Makhzani & Frey 2015): per column, mask the m largest A[:,c] (value
     * descending, row ascending on ties); then A ⊙= mask. */
    clae_status (*topk_cols)(clae_runtime *rt, clae_buf A, clae_buf mask, size_t rows, size_t cols, size_t m);

    /* G ⊙= mask over n floats (gradient through a fixed selection). */
    clae_status (*mul_mask)(clae_runtime *rt, clae_buf G, clae_buf mask, size_t n);

    /* Sparsity forward on a layer's output A (rows×cols) with activation f:
     * KL: stats[c] = ρ̂_c (batch mean of a, or of (a+1)/2 for tanh), pen[0] = β·Σ KL(ρ‖clamp(ρ̂));
     * L1: pen[0] = (λ/B)·Σ|a|;  L2: pen[0] = (λ/2B)·Σa²  (B = rows, weight = β or λ);
     * H2O: stats holds the EMA ā (persistent state, cols floats): for each row in
     * order ā ← 0.999·ā + 0.001·a_row; pen[0] = 0 (not a loss) when pen is not empty. */
    clae_status (*sparsity_forward)(clae_runtime *rt, clae_sparsity kind, clae_activation f, float rho,
                                    float weight, clae_buf A, size_t rows, size_t cols, clae_buf stats,
                                    clae_buf pen);

    /* Sparsity backward: KL/L1/L2 add ∂P/∂A to G (G is ∂L/∂A, before f'); H2O does nothing
     * here (its step is sparsity_h2o_push, applied around the bias update). */
    clae_status (*sparsity_backward)(clae_runtime *rt, clae_sparsity kind, clae_activation f, float rho,
                                     float weight, clae_buf A, size_t rows, size_t cols, clae_buf stats,
                                     clae_buf G, clae_buf db);

    /* h2o's sparsity step for one hidden layer's bias b (cols units), computed before the
     * optimizer update h of b and subtracted from b after it (the model does b ← b − P):
     * P[c] = r_c·β·(ā_c − ρ) with ā = ema and r_c the rate that update gives bias c for its
     * gradient db[c] and state s1, s2 (read only): η for SGD, momentum and Nesterov;
     * η/(√(v′_c/bc2) + ε) for Adam, v′_c = β2·v_c + (1−β2)·db_c²; √((Edx2_c + ε)/(Eg2′_c + ε))
     * for ADADELTA, Eg2′_c = ρ·Eg2_c + (1−ρ)·db_c² — the very floats the update computes. */
    clae_status (*sparsity_h2o_push)(clae_runtime *rt, const clae_opt_hyper *h, float rho, float weight,
                                     clae_buf ema, clae_buf db, clae_buf s1, clae_buf s2, size_t cols,
                                     clae_buf P);

    /* Contractive forward (Rifai et al. 2011), for an encoder layer h = f(z) with W (H×D):
     * q[j] = Σ_i W[j,i]², pen[0] = (λ/B)·Σ_n Σ_j s_nj²·q_j with s = f'(z) from A. */
    clae_status (*contractive_forward)(clae_runtime *rt, clae_activation f, float lambda, clae_buf A,
                                       clae_buf W, size_t rows, size_t H, size_t D, clae_buf q, clae_buf pen);

    /* Contractive backward: GZ[n,j] += R_nj = (2λ/B)·s·d·q_j (GZ is ∂L/∂Z). */
    clae_status (*contractive_grad_z)(clae_runtime *rt, clae_activation f, float lambda, clae_buf A,
                                      clae_buf q, size_t rows, size_t H, clae_buf GZ);

    /* Contractive backward: dW[j,i] += c_j·W[j,i], c_j = (2λ/B)·Σ_n s_nj². */
    clae_status (*contractive_grad_w)(clae_runtime *rt, clae_activation f, float lambda, clae_buf A,
                                      clae_buf W, size_t rows, size_t H, size_t D, clae_buf dW);
} clae_ops;

extern const clae_ops clae_ops_ref;
extern const clae_ops clae_ops_cl;

/* The checking entry points, one per op, with the table's signatures (contracts above). GEMM is not
 * in the table: C = alpha·op(A)·op(B) + beta·C, row-major, op(X) = Xᵀ when trans is non-zero, op(A)
 * M×K, op(B) K×N, C M×N, goes straight to rt->gemm, whose engines check their own arguments. */
clae_status clae_op_gemm(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                         clae_buf A, size_t lda, clae_buf B, size_t ldb, float beta, clae_buf C, size_t ldc);
/* The dense layer's forward, C = f(op(A)·op(B) + bias) with C and Z M×N (leading dimension N) and bias N
 * floats added to every row; the pre-activation is also left in Z when Z is not empty (C may not alias Z).
 * One launch on engines with an epilogue (tiled), the gemm, bias_add and act_forward ops elsewhere: the
 * same Z either way, and the same C up to the last ulp or so of a sigmoid or tanh (vector builtins). */
clae_status clae_op_gemm_bias_act(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                                  clae_buf A, size_t lda, clae_buf B, size_t ldb, clae_buf bias, clae_activation f,
                                  clae_buf Z, clae_buf C);
/* How rt's GEMM engine runs a shape: "<engine>: <what the engine says>" into buf (cap bytes, always
 * terminated); never fails. */
void clae_op_gemm_describe(clae_runtime *rt, int trans_a, int trans_b, size_t M, size_t N, size_t K, char *buf,
                           size_t cap);
clae_status clae_op_bias_add(clae_runtime *rt, clae_buf Z, clae_buf b, size_t rows, size_t cols);
clae_status clae_op_act_forward(clae_runtime *rt, clae_activation f, clae_buf Z, clae_buf A, size_t n);
clae_status clae_op_act_backward(clae_runtime *rt, clae_activation f, clae_buf A, clae_buf G, size_t n);
clae_status clae_op_loss_rows(clae_runtime *rt, clae_loss loss, clae_buf O, clae_buf Xhat, clae_buf X, size_t rows,
                              size_t cols, clae_buf out);
clae_status clae_op_loss_grad(clae_runtime *rt, clae_loss loss, clae_activation out_act, clae_buf Xhat, clae_buf X,
                              size_t n, float scale, clae_buf G);
clae_status clae_op_loss_rows_grad(clae_runtime *rt, clae_loss loss, clae_activation out_act, clae_buf O,
                                   clae_buf Xhat, clae_buf X, size_t rows, size_t cols, clae_buf out, float scale,
                                   clae_buf G);
clae_status clae_op_act_backward_colsum(clae_runtime *rt, clae_activation f, clae_buf A, clae_buf G, size_t rows,
                                        size_t cols, clae_buf out);
clae_status clae_op_row_sq_error(clae_runtime *rt, clae_buf Xhat, clae_buf X, size_t rows, size_t cols, clae_buf out);
clae_status clae_op_row_mse(clae_runtime *rt, clae_buf Xhat, clae_buf X, size_t rows, size_t cols, clae_buf out);
clae_status clae_op_colsum(clae_runtime *rt, clae_buf G, size_t rows, size_t cols, clae_buf out);
clae_status clae_op_opt_update(clae_runtime *rt, const clae_opt_hyper *h, clae_buf theta, clae_buf grad, clae_buf s1,
                               clae_buf s2, size_t n);
clae_status clae_op_init_uniform(clae_runtime *rt, clae_buf theta, size_t n, uint64_t seed, uint32_t layer_id,
                                 float a);
clae_status clae_op_philox(clae_runtime *rt, const uint32_t *ctr, const uint32_t key[2], uint32_t *out, size_t n);
clae_status clae_op_corrupt(clae_runtime *rt, clae_noise kind, float level, clae_buf X, clae_buf Xt, clae_buf row_ids,
                            size_t rows, size_t cols, uint64_t seed, uint32_t step, clae_buf mean, clae_buf lo,
                            clae_buf hi);
clae_status clae_op_topk_rows(clae_runtime *rt, clae_buf A, clae_buf mask, size_t rows, size_t cols, size_t k);
clae_status clae_op_topk_cols(clae_runtime *rt, clae_buf A, clae_buf mask, size_t rows, size_t cols, size_t m);
clae_status clae_op_mul_mask(clae_runtime *rt, clae_buf G, clae_buf mask, size_t n);
clae_status clae_op_sparsity_forward(clae_runtime *rt, clae_sparsity kind, clae_activation f, float rho, float weight,
                                     clae_buf A, size_t rows, size_t cols, clae_buf stats, clae_buf pen);
clae_status clae_op_sparsity_backward(clae_runtime *rt, clae_sparsity kind, clae_activation f, float rho,
                                      float weight, clae_buf A, size_t rows, size_t cols, clae_buf stats, clae_buf G,
                                      clae_buf db);
clae_status clae_op_sparsity_h2o_push(clae_runtime *rt, const clae_opt_hyper *h, float rho, float weight,
                                      clae_buf ema, clae_buf db, clae_buf s1, clae_buf s2, size_t cols, clae_buf P);
clae_status clae_op_contractive_forward(clae_runtime *rt, clae_activation f, float lambda, clae_buf A, clae_buf W,
                                        size_t rows, size_t H, size_t D, clae_buf q, clae_buf pen);
clae_status clae_op_contractive_grad_z(clae_runtime *rt, clae_activation f, float lambda, clae_buf A, clae_buf q,
                                       size_t rows, size_t H, clae_buf GZ);
clae_status clae_op_contractive_grad_w(clae_runtime *rt, clae_activation f, float lambda, clae_buf A, clae_buf W,
                                       size_t rows, size_t H, size_t D, clae_buf dW);

#endif
