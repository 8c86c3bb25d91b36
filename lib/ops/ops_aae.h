/* ops_aae.h — the ops of the adversarial autoencoder (Makhzani et al. 2015): the discriminator's batch of prior
 * draws and codes, and the logistic loss of its logits with their gradient seeds and its accuracy. */
#ifndef CLAE_OPS_AAE_H
#define CLAE_OPS_AAE_H

#include "ops/ops.h"

#define CLAE_STREAM_AAE_PRIOR 6u /* the prior draws the discriminator is shown as real codes */

/* The mixture prior: each component is a Gaussian elongated along its own direction in every pair of code
 * units, σ 0.5 along it and 0.05 across it, centred 1.4 from the origin (the sampler of the public AAE
 * reproductions; Makhzani et al. 2015, Figure 4). */
#define CLAE_AAE_MIX_RADIAL_SD 0.5f
#define CLAE_AAE_MIX_TANGENT_SD 0.05f
#define CLAE_AAE_MIX_SHIFT 1.4f
#define CLAE_AAE_MAX_MODES 65536

/* One row of the prior p(z), L code units, as both paths draw it (modes 0: N(0, I); K ≥ 1: a mixture of K
 * equally likely components, L even). For unit l the Philox words are
 *   w_l = Philox4x32-10(ctr = (e lo, e hi, step, tag), key = (seed lo, seed hi)),  e = id·L + l,
 * and n_l = clae_normal_bm(w_l.2, w_l.3), the Box–Muller normal of the denoising noise.
 *   N(0, I):  z_l = n_l.
 *   mixture:  the component c = ⌊K·(w_0.0 >> 8)/2^24⌋ (from unit 0's first word), its angle θ = 2πc/K with
 *             cos θ = clae_cos2pif(c/K) and sin θ = clae_cos2pif(c/K + 0.75, less 1 when ≥ 1); for each pair
 *             (2j, 2j+1), a = 0.5·n_2j + 1.4 and b = 0.05·n_2j+1 in float,
 *             z_2j = a·cos θ − b·sin θ,   z_2j+1 = a·sin θ + b·cos θ.
 * The float operations are those written, one rounding each, so both paths give the same bits. */
void clae_aae_prior_row(uint32_t modes, uint64_t seed, uint32_t step, uint32_t tag, uint64_t id, size_t L, float *z);

/* The bodies; callers use the clae_op_* entries below (lib/ops/ops_aae.c). Contracts:
 *
 * aae_batch: the discriminator's input, 2·rows × L: OUT rows [0, rows) are prior draws, row r that of
 *   clae_aae_prior_row(modes, seed, step, tag, row_ids[r], L) (row_ids: rows uint32 words, the rows' data-set
 *   indices, so a row draws the same prior sample whatever batch it lands in), and rows [rows, 2·rows) a copy
 *   of CODES (rows × L). CODES may be empty: then only the draws are written (OUT needs rows × L).
 * aae_logit_loss: the logistic loss of discriminator logits D (rows + fake floats): the first rows are labelled
 *   real (t = 1), the next `fake` fake (t = 0). With σ the stable logistic (cl/common.h),
 *   G[i] = (σ(D[i]) − t_i)/rows                                  (the seed ∂loss/∂D, float)
 *   out[0] = (1/rows)·Σ_i [t_i·softplus(−D[i]) + (1 − t_i)·softplus(D[i])]   (summed in double, index order)
 *   out[1] = (#{i < rows: D[i] > 0} + #{i ≥ rows: D[i] < 0})/(rows + fake)   (the share classified right)
 *   Phase 2 calls it with fake = rows (prior draws, then codes); phase 3 with fake = 0 (the codes, which the
 *   generator wants called real: out[1] is then the share of codes that fool the discriminator). G must not
 *   overlap D (the OpenCL body sums D while its items write G). */
typedef struct clae_aae_ops {
    clae_status (*aae_batch)(clae_runtime *rt, size_t rows, size_t L, uint32_t modes, clae_buf row_ids, uint64_t seed,
                             uint32_t step, uint32_t tag, clae_buf CODES, clae_buf OUT);
    clae_status (*aae_logit_loss)(clae_runtime *rt, size_t rows, size_t fake, clae_buf D, clae_buf G, clae_buf out);
} clae_aae_ops;

extern const clae_aae_ops clae_aae_ops_ref; /* lib/ops/ops_aae_ref.c */
extern const clae_aae_ops clae_aae_ops_cl;  /* lib/ops/ops_aae_cl.c, kernels in cl/aae.cl */

clae_status clae_op_aae_batch(clae_runtime *rt, size_t rows, size_t L, uint32_t modes, clae_buf row_ids, uint64_t seed,
                              uint32_t step, uint32_t tag, clae_buf CODES, clae_buf OUT);
clae_status clae_op_aae_logit_loss(clae_runtime *rt, size_t rows, size_t fake, clae_buf D, clae_buf G, clae_buf out);

#endif
