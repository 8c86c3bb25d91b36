/* ops_vae.h — the ops of the variational autoencoder's Gaussian layer (Kingma & Welling 2013): the
 * reparameterized sample, its KL term against N(0, I), and their backward pass, on rows × L latent units. */
#ifndef CLAE_OPS_VAE_H
#define CLAE_OPS_VAE_H

#include "ops/ops.h"

/* Philox stream tags of the Gaussian layer's draws (the denoising corruption is 1, weights 9). */
#define CLAE_STREAM_GAUSS 2u /* ε of the reparameterization */
#define CLAE_STREAM_PRIOR 4u /* z ~ N(0, I) decoded by clae sample */

/* log σ² is clamped to this range before use, on both paths. */
#define CLAE_LOGVAR_MIN (-30.0f)
#define CLAE_LOGVAR_MAX 20.0f

/* The bodies; callers use the clae_op_* entries below (lib/ops/ops_vae.c). Contracts:
 *
 * gauss_sample: for r < rows, l < L, with s' = clamp(S[r,l], CLAE_LOGVAR_MIN, CLAE_LOGVAR_MAX) written back to
 *   S, e = (row_ids[r]·count + k)·L + l (row_ids: rows uint32 words, the rows' data-set indices),
 *   w = Philox4x32-10(ctr = (e lo, e hi, step, tag), key = (seed lo, seed hi)),
 *   ε = clae_normal_bm(w2, w3) (Box–Muller through clae's float log and cos, as the denoising noise),
 *   EPS[r,l] = ε when EPS is not empty, Z[r,l] = MU[r,l] + exp(s'/2)·ε.
 *   MU may be empty: then Z = exp(s'/2)·ε, and S may be empty too: Z = ε (prior draws).
 * gauss_kl: pen[0] = (β/rows)·Σ_{r,l} −½(1 + s − μ² − e^s), the sum in double (reference) or a fixed order
 *   (OpenCL: one work-item per row, then the rows in order); kl_rows[r] = Σ_l −½(1 + s − μ² − e^s) when
 *   kl_rows is not empty.
 * gauss_backward: with σ = exp(s/2) and G_Z the gradient of the loss with respect to Z (rows×L),
 *   GMU = G_Z + (β/rows)·μ,   GS = G_Z·ε·σ/2 + (β/(2·rows))·(e^s − 1), and GS = 0 where s lies on a clamp bound
 *   (gauss_sample put it there: the clamped log-variance does not move the loss).
 *   G_Z is read only. */
typedef struct clae_vae_ops {
    clae_status (*gauss_sample)(clae_runtime *rt, size_t rows, size_t L, clae_buf MU, clae_buf S, clae_buf row_ids,
                                uint64_t seed, uint32_t step, uint32_t tag, uint32_t k, uint32_t count, clae_buf EPS,
                                clae_buf Z);
    clae_status (*gauss_kl)(clae_runtime *rt, size_t rows, size_t L, float beta, clae_buf MU, clae_buf S, clae_buf pen,
                            clae_buf kl_rows);
    clae_status (*gauss_backward)(clae_runtime *rt, size_t rows, size_t L, float beta, clae_buf MU, clae_buf S,
                                  clae_buf EPS, clae_buf GZ, clae_buf GMU, clae_buf GS);
} clae_vae_ops;

extern const clae_vae_ops clae_vae_ops_ref; /* lib/ops/ops_vae_ref.c */
extern const clae_vae_ops clae_vae_ops_cl;  /* lib/ops/ops_vae_cl.c, kernels in cl/vae.cl */

clae_status clae_op_gauss_sample(clae_runtime *rt, size_t rows, size_t L, clae_buf MU, clae_buf S, clae_buf row_ids,
                                 uint64_t seed, uint32_t step, uint32_t tag, uint32_t k, uint32_t count, clae_buf EPS,
                                 clae_buf Z);
clae_status clae_op_gauss_kl(clae_runtime *rt, size_t rows, size_t L, float beta, clae_buf MU, clae_buf S, clae_buf pen,
                             clae_buf kl_rows);
clae_status clae_op_gauss_backward(clae_runtime *rt, size_t rows, size_t L, float beta, clae_buf MU, clae_buf S,
                                   clae_buf EPS, clae_buf GZ, clae_buf GMU, clae_buf GS);

#endif
