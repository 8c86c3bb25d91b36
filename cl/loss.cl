/* loss.cl — reconstruction losses (VARIANTS.md §0.3): per-row loss, the output-gradient seed,
 * and the per-row squared error used for anomaly scores. */

/* out[r] = Σ_c ℓ(r,c). One work-item per row, summing its columns in index order, so the
 * result does not depend on the work-group size or the device (see clae_sum in common.h).
 * sse: ½(x̂−x)²; bce: softplus(o) − x·o, never log σ(o), so |o| ≫ 1 stays finite. */
__kernel void loss_rows(int loss, __global const float *O, ulong ooff, __global const float *Xh,
                        ulong xhoff, __global const float *X, ulong xoff, ulong rows, ulong cols,
                        __global float *out, ulong outoff)
{
    ulong r = get_global_id(0);
    if (r >= rows) return;
    clae_sum acc = {0, 0};
    ulong base = r * cols;
    for (ulong c = 0; c < cols; c++) {
        acc_t x = (acc_t)X[xoff + base + c], term;
        if (loss == CLAE_LOSS_BCE) {
            acc_t o = (acc_t)O[ooff + base + c];
            term = clae_softplus(o) - x * o;
        } else {
            acc_t d = (acc_t)Xh[xhoff + base + c] - x;
            term = (acc_t)0.5 * d * d;
        }
        clae_sum_add(&acc, term);
    }
    out[outoff + r] = (float)acc.s;
}

/* G = scale·∂ℓ/∂o, the seed of the backward pass — the twin of loss_rows.
 * sse: scale·(x̂−x)·g'(x̂) with g the output activation; bce (fused with a sigmoid output):
 * scale·(x̂−x), since σ'(o) cancels against the log-loss denominator. */
__kernel void loss_grad(int loss, int out_act, __global const float *Xh, ulong xhoff,
                        __global const float *X, ulong xoff, ulong n, float scale, __global float *G,
                        ulong goff)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    float xh = Xh[xhoff + i];
    float d = xh - X[xoff + i];
    if (loss != CLAE_LOSS_BCE) d = d * clae_act_deriv(out_act, xh);
    G[goff + i] = scale * d;
}

/* out[r] = Σ_c (x̂−x)², one work-item per row in column order (the MSE metric of §0.2 and the
 * anomaly score of §13.1 divide it by D on the host). */
__kernel void row_sq_error(__global const float *Xh, ulong xhoff, __global const float *X, ulong xoff,
                           ulong rows, ulong cols, __global float *out, ulong outoff)
{
    ulong r = get_global_id(0);
    if (r >= rows) return;
    clae_sum acc = {0, 0};
    ulong base = r * cols;
    for (ulong c = 0; c < cols; c++) {
        acc_t d = (acc_t)Xh[xhoff + base + c] - (acc_t)X[xoff + base + c];
        clae_sum_add(&acc, d * d);
    }
    out[outoff + r] = (float)acc.s;
}
