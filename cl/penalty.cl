/* penalty.cl — activation-sparsity (Ng, CS294A) and contractive (Rifai et al. 2011) penalties: values,
 * the statistics the backward pass needs, and gradients. Twins of lib/ops/ops_variants_ref.c: sums run in
 * a fixed order by one work-item each, and per-element float expressions match operation for operation. */

/* Optimizer kinds: the clae_optimizer enum of clae.h (checked by lib/ops/ops_variants_cl.c). */
#define CLAE_OPT_ADAM 3
#define CLAE_OPT_ADADELTA 4

/* ρ̂ clamp of the KL penalty (CLAE_KL_Q_MIN/MAX in lib/ops/ops_variants.h). */
#define CLAE_KL_Q_MIN 1e-6f
#define CLAE_KL_Q_MAX (1.0f - 1e-6f)

float clae_clamp_q(float q) { return q < CLAE_KL_Q_MIN ? CLAE_KL_Q_MIN : (q > CLAE_KL_Q_MAX ? CLAE_KL_Q_MAX : q); }

/* ---- sparsity ------------------------------------------------------------------------------ */

/* stats[c] = ρ̂_c = (1/B)·Σ_r a_rc, with tanh codes mapped to (0,1) by (a+1)/2. */
__kernel void sparsity_colmean(int tanh_map, __global const float *A, ulong aoff, ulong rows, ulong cols,
                               __global float *stats, ulong soff)
{
    ulong c = get_global_id(0);
    if (c >= cols) return;
    clae_sum acc = {0, 0};
    for (ulong r = 0; r < rows; r++) {
        acc_t v = (acc_t)A[aoff + r * cols + c];
        clae_sum_add(&acc, tanh_map ? (v + (acc_t)1) * (acc_t)0.5 : v);
    }
    stats[soff + c] = (float)(acc.s / (acc_t)rows);
}

/* pen[0] = β·Σ_c KL(ρ‖clamp(ρ̂_c)), one work-item over the columns in order. */
__kernel void sparsity_kl_pen(float rho, float weight, __global const float *stats, ulong soff, ulong cols,
                              __global float *pen, ulong poff)
{
    if (get_global_id(0) != 0) return;
    acc_t p = (acc_t)rho;
    clae_sum acc = {0, 0};
    for (ulong c = 0; c < cols; c++) {
        acc_t q = (acc_t)clae_clamp_q(stats[soff + c]);
        clae_sum_add(&acc, p * log(p / q) + ((acc_t)1 - p) * log(((acc_t)1 - p) / ((acc_t)1 - q)));
    }
    pen[poff] = (float)((acc_t)weight * acc.s);
}

/* pen[0] = (λ/B)·Σ|a| (l2 = 0) or (λ/2B)·Σa² (l2 = 1), one work-item in row-major order. */
__kernel void sparsity_act_pen(int l2, float weight, __global const float *A, ulong aoff, ulong rows, ulong cols,
                               __global float *pen, ulong poff)
{
    if (get_global_id(0) != 0) return;
    clae_sum acc = {0, 0};
    ulong n = rows * cols;
    for (ulong i = 0; i < n; i++) {
        acc_t v = (acc_t)A[aoff + i];
        clae_sum_add(&acc, l2 ? v * v : fabs(v));
    }
    pen[poff] = (float)((acc_t)weight * acc.s / (acc_t)(l2 ? 2 * rows : rows));
}

/* h2o's running mean (sparsity_beta): for each row in batch order ā_c ← 0.999·ā_c + 0.001·a_rc, in float. */
__kernel void sparsity_h2o_ema(__global const float *A, ulong aoff, ulong rows, ulong cols, __global float *stats,
                               ulong soff)
{
    ulong c = get_global_id(0);
    if (c >= cols) return;
    float m = stats[soff + c];
    for (ulong r = 0; r < rows; r++) m = 0.999f * m + 0.001f * A[aoff + r * cols + c];
    stats[soff + c] = m;
}

/* G[r,c] += scale·(−ρ/q_c + (1−ρ)/(1−q_c)), q_c = clamp(ρ̂_c); scale = β/B (β/2B for tanh). */
__kernel void sparsity_kl_grad(float scale, float rho, __global const float *stats, ulong soff, ulong rows,
                               ulong cols, __global float *G, ulong goff)
{
    ulong c = get_global_id(0), r = get_global_id(1);
    if (c >= cols || r >= rows) return;
    float q = clae_clamp_q(stats[soff + c]);
    float add = scale * (-rho / q + (1.0f - rho) / (1.0f - q));
    ulong i = goff + r * cols + c;
    G[i] = G[i] + add;
}

/* G += scale·sign(a) (l2 = 0, sign(0) = 0) or scale·a (l2 = 1); scale = λ/B. */
__kernel void sparsity_act_grad(int l2, float scale, __global const float *A, ulong aoff, ulong n,
                                __global float *G, ulong goff)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    float v = A[aoff + i];
    float add = l2 ? scale * v : scale * (float)((v > 0.0f) - (v < 0.0f));
    G[goff + i] = G[goff + i] + add;
}

/* h2o's bias controller, not the gradient of a loss: P[c] = r_c·β·(ā_c − ρ), with r_c the rate the
 * coming update of bias c applies (optim.cl's float expressions, from the state before it): η;
 * Adam η/(√(v′/bc2) + ε), v′ = β2·v + (1−β2)·g²; ADADELTA √((Edx2 + ε)/(Eg2′ + ε)), Eg2′ = ρ·Eg2 + (1−ρ)·g².
 * a is β2 (Adam) or ρ (ADADELTA), e the matching ε; s1 = Eg2, s2 = v or Edx2. */
__kernel void sparsity_h2o_push(int kind, float lr, float a, float e, float bc2, float rho, float weight,
                                __global const float *ema, ulong emoff, __global const float *db, ulong dboff,
                                __global const float *s1, ulong s1off, __global const float *s2, ulong s2off,
                                ulong cols, __global float *P, ulong poff)
{
    ulong c = get_global_id(0);
    if (c >= cols) return;
    float g = db[dboff + c], r;
    if (kind == CLAE_OPT_ADAM) {
        float v = a * s2[s2off + c] + (1.0f - a) * (g * g);
        r = lr / (sqrt(v / bc2) + e);
    } else if (kind == CLAE_OPT_ADADELTA) {
        float eg = a * s1[s1off + c] + (1.0f - a) * (g * g);
        r = sqrt((s2[s2off + c] + e) / (eg + e));
    } else {
        r = lr;
    }
    P[poff + c] = r * weight * (ema[emoff + c] - rho);
}

/* ---- contractive --------------------------------------------------------------------------- */

/* d = ∂s/∂z from the cached output a and s = f'(z): sigmoid s(1−2a), tanh −2a·s, else 0. */
float clae_act_deriv2(int f, float a, float s)
{
    switch (f) {
    case CLAE_ACT_SIGMOID: return s * (1.0f - 2.0f * a);
    case CLAE_ACT_TANH: return -2.0f * a * s;
    default: return 0.0f;
    }
}

/* q[j] = Σ_i W[j,i]², unit j's squared incoming-weight norm. */
__kernel void contractive_q(__global const float *W, ulong woff, ulong H, ulong D, __global float *q, ulong qoff)
{
    ulong j = get_global_id(0);
    if (j >= H) return;
    clae_sum acc = {0, 0};
    for (ulong i = 0; i < D; i++) {
        acc_t w = (acc_t)W[woff + j * D + i];
        clae_sum_add(&acc, w * w);
    }
    q[qoff + j] = (float)acc.s;
}

/* pen[0] = (λ/B)·Σ_n Σ_j s_nj²·q_j, one work-item in row-major order. */
__kernel void contractive_pen(int f, float lambda, __global const float *A, ulong aoff, __global const float *q,
                              ulong qoff, ulong rows, ulong H, __global float *pen, ulong poff)
{
    if (get_global_id(0) != 0) return;
    clae_sum acc = {0, 0};
    for (ulong n = 0; n < rows; n++)
        for (ulong j = 0; j < H; j++) {
            acc_t s = (acc_t)clae_act_deriv(f, A[aoff + n * H + j]);
            clae_sum_add(&acc, s * s * (acc_t)q[qoff + j]);
        }
    pen[poff] = (float)((acc_t)lambda * acc.s / (acc_t)rows);
}

/* GZ[n,j] += R_nj = scale·(s·d)·q_j, scale = 2λ/B. */
__kernel void contractive_grad_z(int f, float scale, __global const float *A, ulong aoff, __global const float *q,
                                 ulong qoff, ulong rows, ulong H, __global float *GZ, ulong gzoff)
{
    ulong j = get_global_id(0), n = get_global_id(1);
    if (j >= H || n >= rows) return;
    float a = A[aoff + n * H + j], s = clae_act_deriv(f, a);
    float sd = s * clae_act_deriv2(f, a, s);
    ulong i = gzoff + n * H + j;
    GZ[i] = GZ[i] + scale * sd * q[qoff + j];
}

/* dW[j,:] += c_j·W[j,:], c_j = (2λ/B)·Σ_n s_nj². One work-group per unit j: its first item sums
 * the column in row order (so c_j does not depend on the group size), the group shares it through
 * local memory and updates the row's D weights together. */
__kernel void contractive_grad_w(int f, float lambda, __global const float *A, ulong aoff, __global const float *W,
                                 ulong woff, ulong rows, ulong H, ulong D, __global float *dW, ulong dwoff)
{
    ulong j = get_group_id(0);
    if (j >= H) return; /* uniform over the group, so no item misses the barrier */
    size_t lid = get_local_id(0), lsz = get_local_size(0);
    __local float cj;
    if (lid == 0) {
        clae_sum acc = {0, 0};
        for (ulong n = 0; n < rows; n++) {
            acc_t s = (acc_t)clae_act_deriv(f, A[aoff + n * H + j]);
            clae_sum_add(&acc, s * s);
        }
        cj = (float)((acc_t)2 * (acc_t)lambda * acc.s / (acc_t)rows);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    float c = cj;
    for (ulong i = lid; i < D; i += lsz) {
        ulong idx = j * D + i;
        dW[dwoff + idx] = dW[dwoff + idx] + c * W[woff + idx];
    }
}
