/* ops_ref.c — the plain-C reference of every op in ops.h, written to read like the README's math.
 * It runs the cpu-ref device and is the yardstick the OpenCL kernels are tested against. */
#include <math.h>

#include "ops/ops.h"
#include "ops/ops_check.h"
#include "ops/ops_ref_util.h"
#include "ops/ops_variants.h"

/* σ(z) = 1/(1+e^−z) for z ≥ 0, e^z/(1+e^z) otherwise: only ever exp of a non-positive number, so
 * no overflow for any z. */
static float sigmoid(float z)
{
    if (z >= 0.0f) return 1.0f / (1.0f + expf(-z));
    float e = expf(z);
    return e / (1.0f + e);
}

/* softplus(z) = max(z,0) + log1p(exp(−|z|)), in double for the loss sums. */
static double softplus(double z) { return (z > 0.0 ? z : 0.0) + log1p(exp(-fabs(z))); }

/* ---- dense layer: bias, activation forward and backward --------------------------------- */

static clae_status bias_add(clae_runtime *rt, clae_buf Z, clae_buf b, size_t rows, size_t cols)
{
    (void)rt;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) Z.host[r * cols + c] += b.host[c];
    return CLAE_OK;
}

static clae_status act_forward(clae_runtime *rt, clae_activation f, clae_buf Z, clae_buf A, size_t n)
{
    (void)rt;
    for (size_t i = 0; i < n; i++) {
        float z = Z.host[i];
        switch (f) {
        case CLAE_ACT_SIGMOID: A.host[i] = sigmoid(z); break;
        case CLAE_ACT_TANH: A.host[i] = tanhf(z); break;
        case CLAE_ACT_RELU: A.host[i] = z > 0.0f ? z : 0.0f; break;
        default: A.host[i] = z; break;
        }
    }
    return CLAE_OK;
}

static clae_status act_backward(clae_runtime *rt, clae_activation f, clae_buf A, clae_buf G, size_t n)
{
    (void)rt;
    for (size_t i = 0; i < n; i++) G.host[i] = G.host[i] * act_deriv(f, A.host[i]);
    return CLAE_OK;
}

/* ---- losses: per-row value and output-gradient seed (sse ½(x̂−x)², bce softplus(o) − x·o) ---- */

static clae_status loss_rows(clae_runtime *rt, clae_loss loss, clae_buf O, clae_buf Xhat, clae_buf X,
                             size_t rows, size_t cols, clae_buf out)
{
    (void)rt;
    for (size_t r = 0; r < rows; r++) {
        double sum = 0.0;
        for (size_t c = 0; c < cols; c++) {
            size_t i = r * cols + c;
            double x = X.host[i];
            if (loss == CLAE_LOSS_BCE) {
                double o = O.host[i];
                sum += softplus(o) - x * o; /* = −x log σ(o) − (1−x) log(1−σ(o)) */
            } else {
                double d = (double)Xhat.host[i] - x;
                sum += 0.5 * d * d;
            }
        }
        out.host[r] = (float)sum;
    }
    return CLAE_OK;
}

static clae_status loss_grad(clae_runtime *rt, clae_loss loss, clae_activation out_act, clae_buf Xhat,
                             clae_buf X, size_t n, float scale, clae_buf G)
{
    (void)rt;
    for (size_t i = 0; i < n; i++) {
        float xh = Xhat.host[i];
        float d = xh - X.host[i];
        if (loss != CLAE_LOSS_BCE) d = d * act_deriv(out_act, xh);
        G.host[i] = scale * d;
    }
    return CLAE_OK;
}

static clae_status row_sq_error(clae_runtime *rt, clae_buf Xhat, clae_buf X, size_t rows, size_t cols,
                                clae_buf out)
{
    (void)rt;
    for (size_t r = 0; r < rows; r++) {
        double sum = 0.0;
        for (size_t c = 0; c < cols; c++) {
            double d = (double)Xhat.host[r * cols + c] - (double)X.host[r * cols + c];
            sum += d * d;
        }
        out.host[r] = (float)sum;
    }
    return CLAE_OK;
}

/* ---- reductions -------------------------------------------------------------------------- */

static clae_status colsum(clae_runtime *rt, clae_buf G, size_t rows, size_t cols, clae_buf out)
{
    (void)rt;
    for (size_t c = 0; c < cols; c++) {
        double sum = 0.0;
        for (size_t r = 0; r < rows; r++) sum += G.host[r * cols + c];
        out.host[c] = (float)sum;
    }
    return CLAE_OK;
}

static clae_status row_mse(clae_runtime *rt, clae_buf Xhat, clae_buf X, size_t rows, size_t cols, clae_buf out)
{
    TRY(row_sq_error(rt, Xhat, X, rows, cols, out));
    for (size_t r = 0; r < rows; r++) out.host[r] = (float)((double)out.host[r] / (double)cols);
    return CLAE_OK;
}

/* The fused ops' twins: the two reference ops in turn, which is what the fused kernels must equal. */
static clae_status act_backward_colsum(clae_runtime *rt, clae_activation f, clae_buf A, clae_buf G, size_t rows,
                                       size_t cols, clae_buf out)
{
    TRY(act_backward(rt, f, A, G, rows * cols));
    return colsum(rt, G, rows, cols, out);
}

static clae_status loss_rows_grad(clae_runtime *rt, clae_loss loss, clae_activation out_act, clae_buf O,
                                  clae_buf Xhat, clae_buf X, size_t rows, size_t cols, clae_buf out, float scale,
                                  clae_buf G)
{
    TRY(loss_rows(rt, loss, O, Xhat, X, rows, cols, out));
    return loss_grad(rt, loss, out_act, Xhat, X, rows * cols, scale, G);
}

/* ---- optimizers (README, The math); float32 state, one rounding per operation as written ---- */

static clae_status opt_update(clae_runtime *rt, const clae_opt_hyper *h, clae_buf theta, clae_buf grad,
                              clae_buf s1, clae_buf s2, size_t n)
{
    (void)rt;
    float *th = theta.host, *g = grad.host;
    switch (h->kind) {
    case CLAE_OPT_SGD: /* θ ← θ − η·g */
        for (size_t i = 0; i < n; i++) th[i] = th[i] - h->lr * g[i];
        return CLAE_OK;
    case CLAE_OPT_MOMENTUM: { /* v ← μ·v − η·g; θ ← θ + v */
        float *v = s1.host;
        for (size_t i = 0; i < n; i++) {
            v[i] = h->momentum * v[i] - h->lr * g[i];
            th[i] = th[i] + v[i];
        }
        return CLAE_OK;
    }
    case CLAE_OPT_NESTEROV: { /* v ← μ·v + g; θ ← θ − η·(g + μ·v) */
        float *v = s1.host;
        for (size_t i = 0; i < n; i++) {
            v[i] = h->momentum * v[i] + g[i];
            th[i] = th[i] - h->lr * (g[i] + h->momentum * v[i]);
        }
        return CLAE_OK;
    }
    case CLAE_OPT_ADAM: { /* m, v moments; bias corrections bc1, bc2 from the host */
        float *m = s1.host, *v = s2.host;
        for (size_t i = 0; i < n; i++) {
            m[i] = h->beta1 * m[i] + (1.0f - h->beta1) * g[i];
            v[i] = h->beta2 * v[i] + (1.0f - h->beta2) * (g[i] * g[i]);
            float mhat = m[i] / h->bc1, vhat = v[i] / h->bc2;
            th[i] = th[i] - h->lr * mhat / (sqrtf(vhat) + h->eps);
        }
        return CLAE_OK;
    }
    default: { /* ADADELTA (clae_op_opt_update refuses other kinds): Eg2, Edx2 running averages, no lr */
        float *eg2 = s1.host, *edx2 = s2.host, rho = h->rho, eps = h->adadelta_eps;
        for (size_t i = 0; i < n; i++) {
            eg2[i] = rho * eg2[i] + (1.0f - rho) * (g[i] * g[i]);
            float r = sqrtf((edx2[i] + eps) / (eg2[i] + eps));
            float dx = -r * g[i];
            edx2[i] = rho * edx2[i] + (1.0f - rho) * (dx * dx);
            th[i] = th[i] + dx;
        }
        return CLAE_OK;
    }
    }
}

/* ---- random numbers ---------------------------------------------------------------------- */

static clae_status init_uniform(clae_runtime *rt, clae_buf theta, size_t n, uint64_t seed, uint32_t layer_id,
                                float a)
{
    (void)rt;
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (size_t e = 0; e < n; e++) {
        const uint32_t ctr[4] = {(uint32_t)e, (uint32_t)((uint64_t)e >> 32), layer_id, 9u};
        uint32_t w[4];
        clae_philox4x32_10(ctr, key, w);
        float u = (float)(w[0] >> 8) * 0x1p-24f;
        theta.host[e] = a * (2.0f * u - 1.0f);
    }
    return CLAE_OK;
}

static clae_status philox(clae_runtime *rt, const uint32_t *ctr, const uint32_t key[2], uint32_t *out, size_t n)
{
    (void)rt;
    for (size_t i = 0; i < n; i++) clae_philox4x32_10(ctr + 4 * i, key, out + 4 * i);
    return CLAE_OK;
}

const clae_ops clae_ops_ref = {
    .name = "ref",
    .bias_add = bias_add,
    .act_forward = act_forward,
    .act_backward = act_backward,
    .loss_rows = loss_rows,
    .loss_grad = loss_grad,
    .row_sq_error = row_sq_error,
    .row_mse = row_mse,
    .colsum = colsum,
    .act_backward_colsum = act_backward_colsum,
    .loss_rows_grad = loss_rows_grad,
    .opt_update = opt_update,
    .init_uniform = init_uniform,
    .philox = philox,
    .corrupt = clae_ref_corrupt,
    .topk_rows = clae_ref_topk_rows,
    .topk_cols = clae_ref_topk_cols,
    .mul_mask = clae_ref_mul_mask,
    .sparsity_forward = clae_ref_sparsity_forward,
    .sparsity_backward = clae_ref_sparsity_backward,
    .sparsity_h2o_push = clae_ref_sparsity_h2o_push,
    .contractive_forward = clae_ref_contractive_forward,
    .contractive_grad_z = clae_ref_contractive_grad_z,
    .contractive_grad_w = clae_ref_contractive_grad_w,
};
