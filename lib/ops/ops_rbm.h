/* ops_rbm.h — the ops of RBM pretraining by contrastive divergence (Hinton & Salakhutdinov 2006): sampled hidden
 * states, the CD-1 statistics of the biases, and the y += a·x that adds weight decay to the weights' statistics. */
#ifndef CLAE_OPS_RBM_H
#define CLAE_OPS_RBM_H

#include "ops/ops.h"

#define CLAE_STREAM_RBM 4u /* the hidden states of CD-1 (the same tag as clae sample's draws; other counters) */

/* How a layer of units is sampled: Bernoulli units are 1 with their probability, linear units are their mean
 * plus unit Gaussian noise (the code layer of Hinton & Salakhutdinov's top RBM). */
typedef enum clae_rbm_units { CLAE_RBM_BERNOULLI = 0, CLAE_RBM_GAUSSIAN = 1 } clae_rbm_units;

/* The bodies; callers use the clae_op_* entries below (lib/ops/ops_rbm.c). Contracts:
 *
 * rbm_sample: for r < rows, c < cols, with e = row_ids[r]·cols + c (row_ids: rows uint32 words, the rows' data-set
 *   indices) and w = Philox4x32-10(ctr = (e lo, e hi, step, tag), key = (seed lo, seed hi)):
 *   Bernoulli: H[r,c] = 1 if (w0 >> 8)·2^-24 < P[r,c], else 0 (a uniform in [0, 1) below the probability);
 *   Gaussian:  H[r,c] = P[r,c] + clae_normal_bm(w2, w3) (the mean plus the denoising noise's Box–Muller normal).
 *   Both are exact functions of P's bits, so both paths give the same H for the same P. H may equal P.
 * rbm_bias_grad: g[c] = (Σ_r X1[r,c] − Σ_r X0[r,c])/rows, each sum in double (reference) or the accumulator in
 *   row order (OpenCL): the CD-1 statistic ⟨x⟩_model − ⟨x⟩_data, the descent direction an optimizer update of a
 *   bias takes (colsum(v0 − v1)/B is its negative).
 * axpy: Y[i] += a·X[i] for i < n (X and Y may not overlap), one rounding for the product and one for the sum. */
typedef struct clae_rbm_ops {
    clae_status (*rbm_sample)(clae_runtime *rt, clae_rbm_units units, size_t rows, size_t cols, clae_buf P,
                              clae_buf row_ids, uint64_t seed, uint32_t step, uint32_t tag, clae_buf H);
    clae_status (*rbm_bias_grad)(clae_runtime *rt, size_t rows, size_t cols, clae_buf X0, clae_buf X1, clae_buf g);
    clae_status (*axpy)(clae_runtime *rt, size_t n, float a, clae_buf X, clae_buf Y);
} clae_rbm_ops;

extern const clae_rbm_ops clae_rbm_ops_ref; /* lib/ops/ops_rbm_ref.c */
extern const clae_rbm_ops clae_rbm_ops_cl;  /* lib/ops/ops_rbm_cl.c, kernels in cl/rbm.cl */

clae_status clae_op_rbm_sample(clae_runtime *rt, clae_rbm_units units, size_t rows, size_t cols, clae_buf P,
                               clae_buf row_ids, uint64_t seed, uint32_t step, uint32_t tag, clae_buf H);
clae_status clae_op_rbm_bias_grad(clae_runtime *rt, size_t rows, size_t cols, clae_buf X0, clae_buf X1, clae_buf g);
clae_status clae_op_axpy(clae_runtime *rt, size_t n, float a, clae_buf X, clae_buf Y);

#endif
