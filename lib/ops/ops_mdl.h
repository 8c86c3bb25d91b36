/* ops_mdl.h — the ops of the minimum-description-length autoencoder (Hinton & Zemel 1994; the trainable relaxation
 * of Ballé, Laparra & Simoncelli 2017): additive uniform noise or rounding of the code, and its rate in bits under
 * a factorised logistic prior, forward and backward, on rows × L latent units. */
#ifndef CLAE_OPS_MDL_H
#define CLAE_OPS_MDL_H

#include "ops/ops.h"

#define CLAE_STREAM_UNIFORM 5u  /* the training noise U ~ Uniform(−½, ½) */
#define CLAE_MDL_P_MIN 1e-9f    /* the likelihood bound: P below it counts as it, with no gradient */

/* The bodies; callers use the clae_op_* entries below (lib/ops/ops_mdl.c). Contracts, for r < rows, l < L:
 *
 * mdl_quantize: noise non-zero (training): T[r,l] = Y[r,l] + (clae_u01_open(w0) − ½) with w = Philox4x32-10(ctr =
 *   (e lo, e hi, step, CLAE_STREAM_UNIFORM), key = (seed lo, seed hi)), e = row_ids[r]·L + l (row_ids: rows uint32
 *   words); noise 0 (inference): T = round(Y), halves away from zero (C's roundf). row_ids may be empty then.
 * mdl_rate: with s_l = exp(logscale[l]), a = (t + ½ − loc_l)/s_l, b = (t − ½ − loc_l)/s_l, the logistic prior's
 *   mass of the unit bin at t, P = σ(−b) − σ(−a) when t − loc_l > 0, else σ(a) − σ(b) (no cancellation in the tails);
 *   rate_rows[r] = −Σ_l log2(max(P, CLAE_MDL_P_MIN)) (double on the reference, a fixed order on OpenCL; may be empty)
 *   and pen[0] = weight·(1/rows)·Σ_r rate_r.
 * mdl_rate_backward: with σ'(u) = σ(u)(1 − σ(u)), dP/dt = (σ'(a) − σ'(b))/s, dP/dloc = −dP/dt,
 *   dP/dlogscale = −(a·σ'(a) − b·σ'(b)); d rate/dθ = −(dP/dθ)/(P·ln 2), 0 where P < CLAE_MDL_P_MIN;
 *   GT[r,l] += (weight/rows)·d rate_r/dt;  dloc[l] = (weight/rows)·Σ_r d rate_r/dloc_l and dlogscale likewise
 *   (overwritten; the sums over rows in a fixed order). */
typedef struct clae_mdl_ops {
    clae_status (*mdl_quantize)(clae_runtime *rt, size_t rows, size_t L, clae_buf Y, clae_buf row_ids, uint64_t seed,
                                uint32_t step, int noise, clae_buf T);
    clae_status (*mdl_rate)(clae_runtime *rt, size_t rows, size_t L, clae_buf T, clae_buf loc, clae_buf logscale,
                            float weight, clae_buf rate_rows, clae_buf pen);
    clae_status (*mdl_rate_backward)(clae_runtime *rt, size_t rows, size_t L, clae_buf T, clae_buf loc, clae_buf logscale,
                                     float weight, clae_buf GT, clae_buf dloc, clae_buf dlogscale);
} clae_mdl_ops;

extern const clae_mdl_ops clae_mdl_ops_ref; /* lib/ops/ops_mdl_ref.c */
extern const clae_mdl_ops clae_mdl_ops_cl;  /* lib/ops/ops_mdl_cl.c, kernels in cl/mdl.cl */

clae_status clae_op_mdl_quantize(clae_runtime *rt, size_t rows, size_t L, clae_buf Y, clae_buf row_ids, uint64_t seed,
                                 uint32_t step, int noise, clae_buf T);
clae_status clae_op_mdl_rate(clae_runtime *rt, size_t rows, size_t L, clae_buf T, clae_buf loc, clae_buf logscale,
                             float weight, clae_buf rate_rows, clae_buf pen);
clae_status clae_op_mdl_rate_backward(clae_runtime *rt, size_t rows, size_t L, clae_buf T, clae_buf loc,
                                      clae_buf logscale, float weight, clae_buf GT, clae_buf dloc, clae_buf dlogscale);

#endif
