/* ops_concrete.h — the ops of the concrete autoencoder's selector (Abid, Balin & Zou 2019): K relaxed one-hot
 * selections of D input features by a Gumbel-softmax at temperature T, their backward pass, and the hard read-out. */
#ifndef CLAE_OPS_CONCRETE_H
#define CLAE_OPS_CONCRETE_H

#include "ops/ops.h"

#define CLAE_STREAM_GUMBEL 3u /* the selector's Gumbel noise */

/* The bodies; callers use the clae_op_* entries below (lib/ops/ops_concrete.c). Contracts, for k < K, d < D:
 *
 * concrete_softmax: Y[k,d] = (LAMBDA[k,d] + g·G[k,d]) / T with g = 1 when gumbel is non-zero, else 0, and
 *   G = −log(−log U), U = clae_u01_open(w0) of w = Philox4x32-10(ctr = (e lo, e hi, step, CLAE_STREAM_GUMBEL),
 *   key = (seed lo, seed hi)), e = k·D + d (one draw per selector per step, shared by the batch), the logs
 *   through clae's own float log (lib/ops/mathf.h, cl/common.h) so both paths draw the same G;
 *   M[k,d] = exp(Y[k,d] − max_d Y[k,:]) / Σ_d exp(Y[k,d] − max_d Y[k,:]), the sum in double (reference) or in a
 *   fixed order (OpenCL: one work-item per selector, d ascending).
 * concrete_backward: with Gm = ∂L/∂M (K×D), c_k = Σ_d M[k,d]·Gm[k,d],
 *   dLAMBDA[k,d] = M[k,d]·(Gm[k,d] − c_k) / T   (overwritten).
 * concrete_argmax: idx[k] = the lowest d with LAMBDA[k,d] = max_d LAMBDA[k,:], as a float (exact below 2^24).
 * gather_cols: S[r,k] = X[r, idx[k]] for r < rows. */
typedef struct clae_concrete_ops {
    clae_status (*concrete_softmax)(clae_runtime *rt, size_t K, size_t D, clae_buf LAMBDA, float T, uint64_t seed,
                                    uint32_t step, int gumbel, clae_buf M);
    clae_status (*concrete_backward)(clae_runtime *rt, size_t K, size_t D, float T, clae_buf M, clae_buf Gm,
                                     clae_buf dLAMBDA);
    clae_status (*concrete_argmax)(clae_runtime *rt, size_t K, size_t D, clae_buf LAMBDA, clae_buf idx);
    clae_status (*gather_cols)(clae_runtime *rt, size_t rows, size_t D, size_t K, clae_buf X, clae_buf idx, clae_buf S);
} clae_concrete_ops;

extern const clae_concrete_ops clae_concrete_ops_ref; /* lib/ops/ops_concrete_ref.c */
extern const clae_concrete_ops clae_concrete_ops_cl;  /* lib/ops/ops_concrete_cl.c, kernels in cl/concrete.cl */

clae_status clae_op_concrete_softmax(clae_runtime *rt, size_t K, size_t D, clae_buf LAMBDA, float T, uint64_t seed,
                                     uint32_t step, int gumbel, clae_buf M);
clae_status clae_op_concrete_backward(clae_runtime *rt, size_t K, size_t D, float T, clae_buf M, clae_buf Gm,
                                      clae_buf dLAMBDA);
clae_status clae_op_concrete_argmax(clae_runtime *rt, size_t K, size_t D, clae_buf LAMBDA, clae_buf idx);
clae_status clae_op_gather_cols(clae_runtime *rt, size_t rows, size_t D, size_t K, clae_buf X, clae_buf idx, clae_buf S);

#endif
