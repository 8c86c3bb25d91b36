/* ops_variants_ref.c — plain-C reference of the regularized-variant ops (README, The math):
 * corruption, top-k selection, sparsity and contractive penalties, written to read like the math. */
#include <stdlib.h>
#include <string.h>

#include "ops/mathf.h"
#include "ops/ops.h"
#include "ops/ops_ref_util.h"
#include "ops/ops_variants.h"

/* gcc in ISO C mode never fuses a*b+c into an FMA; clang does by default where the target has
 * one, which would round differently from the OpenCL kernels (FP_CONTRACT OFF in cl/common.h). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- denoising corruption (Vincent et al. 2010), Philox stream tag 1 ------------------------ */

clae_status clae_ref_corrupt(clae_runtime *rt, clae_noise kind, float level, clae_buf X, clae_buf Xt,
                             clae_buf row_ids, size_t rows, size_t cols, uint64_t seed, uint32_t step,
                             clae_buf mean, clae_buf lo, clae_buf hi)
{
    (void)rt;
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const uint32_t thr = clae_noise_threshold(level);
    for (size_t r = 0; r < rows; r++) {
        /* The ids are uint32 bit patterns stored in float slots: copy the bits, never convert. */
        uint32_t id = 0;
        if (kind != CLAE_NOISE_NONE) memcpy(&id, row_ids.host + r, sizeof id);
        for (size_t c = 0; c < cols; c++) {
            size_t i = r * cols + c;
            float x = X.host[i];
            if (kind == CLAE_NOISE_NONE) {
                Xt.host[i] = x;
                continue;
            }
            /* e is the element's index in the whole data set, so the draw does not depend on the
             * batch it happens to be in. */
            uint64_t e = (uint64_t)id * cols + c;
            const uint32_t ctr[4] = {(uint32_t)e, (uint32_t)(e >> 32), step, CLAE_STREAM_CORRUPT};
            uint32_t w[4];
            clae_philox4x32_10(ctr, key, w);
            if (kind == CLAE_NOISE_GAUSSIAN) {
                Xt.host[i] = x + level * clae_normal_bm(w[2], w[3]);
            } else if ((w[0] >> 8) < thr) {
                /* mask: the feature's mean; salt-and-pepper: the top bit of w1 picks salt (its max)
                 * or pepper (its min). */
                if (kind == CLAE_NOISE_MASK) Xt.host[i] = mean.host[c];
                else Xt.host[i] = (w[1] >> 31) ? hi.host[c] : lo.host[c];
            } else {
                Xt.host[i] = x;
            }
        }
    }
    return CLAE_OK;
}

/* ---- top-k selection (k-sparse along rows, winner-take-all down columns) -------------------- */

/* One candidate of a selection: its value and its index along the competing axis. */
typedef struct ranked {
    float v;
    size_t i;
} ranked;

/* The selection order: value descending, index ascending on ties, NaN after every number (and
 * NaNs among themselves by index). A strict total order, so any sort gives one answer. */
static int ranked_cmp(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    int na = isnan(a->v), nb = isnan(b->v);
    if (na != nb) return na ? 1 : -1;
    if (!na && a->v != b->v) return a->v > b->v ? -1 : 1;
    return a->i < b->i ? -1 : (a->i > b->i ? 1 : 0);
}

/* Sorts the n values at A[base + j·stride] and marks the k first in the mask; A keeps its value
 * there and is set to 0 elsewhere (a select, not a product, so an unselected ±inf or NaN becomes 0
 * too). `tmp` holds n entries. */
static void select_top(float *A, float *mask, size_t base, size_t stride, size_t n, size_t k, ranked *tmp)
{
    for (size_t j = 0; j < n; j++) tmp[j] = (ranked){A[base + j * stride], j};
    qsort(tmp, n, sizeof *tmp, ranked_cmp);
    for (size_t j = 0; j < n; j++) mask[base + tmp[j].i * stride] = j < k ? 1.0f : 0.0f;
    for (size_t j = 0; j < n; j++)
        if (mask[base + j * stride] == 0.0f) A[base + j * stride] = 0.0f;
}

static clae_status topk(clae_runtime *rt, const char *op, clae_buf A, clae_buf mask, size_t rows, size_t cols,
                        size_t k, int down_columns)
{
    size_t lines = down_columns ? cols : rows, len = down_columns ? rows : cols;
    if (lines == 0 || len == 0) return CLAE_OK;
    ranked *tmp = malloc(len * sizeof *tmp);
    if (!tmp) return clae_rt_fail(rt, clae_fail(CLAE_ERR_NOMEM, "%s (ref): no memory for %zu entries", op, len));
    for (size_t l = 0; l < lines; l++) {
        if (down_columns) select_top(A.host, mask.host, l, cols, rows, k, tmp); /* column l */
        else select_top(A.host, mask.host, l * cols, 1, cols, k, tmp);          /* row l */
    }
    free(tmp);
    return CLAE_OK;
}

clae_status clae_ref_topk_rows(clae_runtime *rt, clae_buf A, clae_buf mask, size_t rows, size_t cols, size_t k)
{
    return topk(rt, "topk_rows", A, mask, rows, cols, k, 0);
}

clae_status clae_ref_topk_cols(clae_runtime *rt, clae_buf A, clae_buf mask, size_t rows, size_t cols, size_t m)
{
    return topk(rt, "topk_cols", A, mask, rows, cols, m, 1);
}

clae_status clae_ref_mul_mask(clae_runtime *rt, clae_buf G, clae_buf mask, size_t n)
{
    (void)rt;
    for (size_t i = 0; i < n; i++) G.host[i] = G.host[i] * mask.host[i];
    return CLAE_OK;
}

/* ---- sparsity penalties (KL, L1, L2: Ng, CS294A; h2o's running mean) ------------------------ */

static float clamp_q(float q) { return q < CLAE_KL_Q_MIN ? CLAE_KL_Q_MIN : (q > CLAE_KL_Q_MAX ? CLAE_KL_Q_MAX : q); }

clae_status clae_ref_sparsity_forward(clae_runtime *rt, clae_sparsity kind, clae_activation f, float rho, float weight,
                                      clae_buf A, size_t rows, size_t cols, clae_buf stats, clae_buf pen)
{
    (void)rt;
    const float *a = A.host;
    switch (kind) {
    case CLAE_SPARSITY_KL: {
        /* ρ̂_c = (1/B) Σ_n a_nc, tanh codes mapped to (0,1) by (a+1)/2; then β·Σ_c KL(ρ‖q_c) from the
         * stored float ρ̂, which is what the backward pass will see. */
        for (size_t c = 0; c < cols; c++) {
            double sum = 0.0;
            for (size_t r = 0; r < rows; r++) {
                double v = a[r * cols + c];
                sum += f == CLAE_ACT_TANH ? (v + 1.0) * 0.5 : v;
            }
            stats.host[c] = (float)(sum / (double)rows);
        }
        double p = rho, total = 0.0;
        for (size_t c = 0; c < cols; c++) {
            double q = clamp_q(stats.host[c]);
            total += p * log(p / q) + (1.0 - p) * log((1.0 - p) / (1.0 - q));
        }
        pen.host[0] = (float)((double)weight * total);
        return CLAE_OK;
    }
    case CLAE_SPARSITY_L1:
    case CLAE_SPARSITY_L2: {
        /* (λ/B)·Σ|a| or (λ/2B)·Σa², summed in row-major order. */
        double sum = 0.0;
        for (size_t i = 0; i < rows * cols; i++) {
            double v = a[i];
            sum += kind == CLAE_SPARSITY_L1 ? fabs(v) : v * v;
        }
        pen.host[0] = (float)((double)weight * sum / (double)(kind == CLAE_SPARSITY_L1 ? rows : 2 * rows));
        return CLAE_OK;
    }
    case CLAE_SPARSITY_H2O:
        /* h2o's running mean, one row at a time in batch order, in float as h2o does. */
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < cols; c++) stats.host[c] = 0.999f * stats.host[c] + 0.001f * a[r * cols + c];
        if (pen.n) pen.host[0] = 0.0f;
        return CLAE_OK;
    default:
        pen.host[0] = 0.0f;
        return CLAE_OK;
    }
}

clae_status clae_ref_sparsity_backward(clae_runtime *rt, clae_sparsity kind, clae_activation f, float rho,
                                       float weight, clae_buf A, size_t rows, size_t cols, clae_buf stats, clae_buf G,
                                       clae_buf db)
{
    (void)rt;
    /* h2o's step is not a gradient: it acts on the bias around its update (sparsity_h2o_push). */
    if (kind == CLAE_SPARSITY_NONE || kind == CLAE_SPARSITY_H2O) return CLAE_OK;
    (void)db;
    const float scale = clae_sparsity_grad_scale(kind, f, weight, rows);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            size_t i = r * cols + c;
            float add;
            if (kind == CLAE_SPARSITY_KL) {
                /* k_c = scale·(−ρ/q + (1−ρ)/(1−q)), the same for every row of column c. */
                float q = clamp_q(stats.host[c]);
                add = scale * (-rho / q + (1.0f - rho) / (1.0f - q));
            } else if (kind == CLAE_SPARSITY_L1) {
                float v = A.host[i];
                add = scale * (float)((v > 0.0f) - (v < 0.0f)); /* sign(0) = 0 */
            } else {
                add = scale * A.host[i];
            }
            G.host[i] = G.host[i] + add;
        }
    return CLAE_OK;
}

clae_status clae_ref_sparsity_h2o_push(clae_runtime *rt, const clae_opt_hyper *h, float rho, float weight,
                                       clae_buf ema, clae_buf db, clae_buf s1, clae_buf s2, size_t cols, clae_buf P)
{
    (void)rt;
    for (size_t c = 0; c < cols; c++) {
        float g = db.host[c], r;
        /* The rate of opt_update's float expressions (lib/ops/ops_ref.c), from the state before it. */
        if (h->kind == CLAE_OPT_ADAM) {
            float v = h->beta2 * s2.host[c] + (1.0f - h->beta2) * (g * g);
            r = h->lr / (sqrtf(v / h->bc2) + h->eps);
        } else if (h->kind == CLAE_OPT_ADADELTA) {
            float e = h->rho * s1.host[c] + (1.0f - h->rho) * (g * g);
            r = sqrtf((s2.host[c] + h->adadelta_eps) / (e + h->adadelta_eps));
        } else {
            r = h->lr;
        }
        P.host[c] = r * weight * (ema.host[c] - rho);
    }
    return CLAE_OK;
}

/* ---- contractive penalty (Rifai et al. 2011) ------------------------------------------------ */

/* d = ∂s/∂z, s = f'(z), through the cached output a: sigmoid s(1−2a), tanh −2a·s; relu and
 * linear have d = 0 almost everywhere. */
static float act_deriv2(clae_activation f, float a, float s)
{
    switch (f) {
    case CLAE_ACT_SIGMOID: return s * (1.0f - 2.0f * a);
    case CLAE_ACT_TANH: return -2.0f * a * s;
    default: return 0.0f;
    }
}

clae_status clae_ref_contractive_forward(clae_runtime *rt, clae_activation f, float lambda, clae_buf A, clae_buf W,
                                         size_t rows, size_t H, size_t D, clae_buf q, clae_buf pen)
{
    (void)rt;
    /* q_j = ||W_j,:||², the squared norm of unit j's incoming weights. */
    for (size_t j = 0; j < H; j++) {
        double sum = 0.0;
        for (size_t i = 0; i < D; i++) {
            double w = W.host[j * D + i];
            sum += w * w;
        }
        q.host[j] = (float)sum;
    }
    /* (λ/B)·Σ_n Σ_j s_nj²·q_j = (λ/B)·Σ_n ||J(x_n)||²_F, from the stored float q. */
    double sum = 0.0;
    for (size_t n = 0; n < rows; n++)
        for (size_t j = 0; j < H; j++) {
            double sv = act_deriv(f, A.host[n * H + j]);
            sum += sv * sv * (double)q.host[j];
        }
    pen.host[0] = (float)((double)lambda * sum / (double)rows);
    return CLAE_OK;
}

clae_status clae_ref_contractive_grad_z(clae_runtime *rt, clae_activation f, float lambda, clae_buf A, clae_buf q,
                                        size_t rows, size_t H, clae_buf GZ)
{
    (void)rt;
    /* relu and linear: d = 0, so R = 0 and there is nothing to add. */
    if (f == CLAE_ACT_RELU || f == CLAE_ACT_LINEAR) return CLAE_OK;
    const float scale = clae_contractive_scale(lambda, rows);
    for (size_t n = 0; n < rows; n++)
        for (size_t j = 0; j < H; j++) {
            size_t i = n * H + j;
            float a = A.host[i], sv = act_deriv(f, a);
            float sd = sv * act_deriv2(f, a, sv);
            GZ.host[i] = GZ.host[i] + scale * sd * q.host[j]; /* R_nj = (2λ/B)·s·d·q_j */
        }
    return CLAE_OK;
}

clae_status clae_ref_contractive_grad_w(clae_runtime *rt, clae_activation f, float lambda, clae_buf A, clae_buf W,
                                        size_t rows, size_t H, size_t D, clae_buf dW)
{
    (void)rt;
    for (size_t j = 0; j < H; j++) {
        /* c_j = (2λ/B)·Σ_n s_nj², then dW_j,: += c_j·W_j,: (the q-part of ∂P/∂W). */
        double sum = 0.0;
        for (size_t n = 0; n < rows; n++) {
            double sv = act_deriv(f, A.host[n * H + j]);
            sum += sv * sv;
        }
        float c = (float)(2.0 * (double)lambda * sum / (double)rows);
        for (size_t i = 0; i < D; i++) dW.host[j * D + i] = dW.host[j * D + i] + c * W.host[j * D + i];
    }
    return CLAE_OK;
}
