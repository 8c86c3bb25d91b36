/* loss.cl — reconstruction losses (sse ½(x̂−x)², bce softplus(o) − x·o): per-row loss, the
 * output-gradient seed, and the per-row squared error used for anomaly scores. */

/* ℓ for eight columns at once, in the accumulator precision: the vector forms of the scalar
 * expression, lane for lane the same operations, so each lane rounds as the scalar term would.
 * sse: ½(x̂−x)²; bce: softplus(o) − x·o, never log σ(o), so |o| ≫ 1 stays finite. */
#if CLAE_HAS_FP64
typedef double8 acc8_t;
#define clae_convert_acc8 convert_double8
#else
typedef float8 acc8_t;
#define clae_convert_acc8 convert_float8
#endif

/* out[r] = Σ_c ℓ(r,c). One work-item per row, summing its columns in index order, so the
 * result does not depend on the work-group size or the device (see clae_sum in common.h).
 * The terms are formed eight at a time (a scalar double log1p(exp()) per column was most of
 * a training step on CPU devices) and then added one by one, lane 0 first, so the sum is the
 * same sequence of additions as the plain loop and the loss keeps its bits. */
__kernel void loss_rows(int loss, __global const float *O, ulong ooff, __global const float *Xh,
                        ulong xhoff, __global const float *X, ulong xoff, ulong rows, ulong cols,
                        __global float *out, ulong outoff)
{
    ulong r = get_global_id(0);
    if (r >= rows) return;
    clae_sum acc = {0, 0};
    ulong base = r * cols, c = 0;
    for (; c + 8 <= cols; c += 8) {
        acc8_t x = clae_convert_acc8(vload8(0, X + xoff + base + c)), t;
        if (loss == CLAE_LOSS_BCE) {
            acc8_t o = clae_convert_acc8(vload8(0, O + ooff + base + c));
            acc8_t m = o > (acc8_t)0 ? o : (acc8_t)0;
            t = (m + log1p(exp(-fabs(o)))) - x * o;
        } else {
            acc8_t d = clae_convert_acc8(vload8(0, Xh + xhoff + base + c)) - x;
            t = (acc8_t)0.5 * d * d;
        }
        clae_sum_add(&acc, t.s0);
        clae_sum_add(&acc, t.s1);
        clae_sum_add(&acc, t.s2);
        clae_sum_add(&acc, t.s3);
        clae_sum_add(&acc, t.s4);
        clae_sum_add(&acc, t.s5);
        clae_sum_add(&acc, t.s6);
        clae_sum_add(&acc, t.s7);
    }
    for (; c < cols; c++) {
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

/* out[r] = Σ_c (x̂−x)², one work-item per row in column order (the MSE metric and the anomaly
 * score (1/D)·Σ_c (x̂−x)² divide it by D on the host). */
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
