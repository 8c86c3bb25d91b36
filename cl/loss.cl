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
 * a training step on CPU devices). With fp64 each lane keeps its own double sum (columns c ≡ lane
 * mod 8), the eight added pairwise at the end: a chain of 784 dependent adds was the kernel's
 * critical path, and double sums of float terms differ from the plain order's by ~1e-16 relative,
 * far below the float they round to. Without fp64 the Kahan sum takes the terms in index order. bce's log1p(exp(−|o|)) ≤ log 2 is taken in float
 * (absolute error ~1e-7 a term, a tenth of the double form's cost on PoCL); the rest of the term and
 * the sum stay in the accumulator precision. */
/* The loss of row r into out[r], and, when want_grad, the row's output-gradient seed G = grad_scale·∂ℓ/∂o
 * as loss_grad writes it (the training step's fused loss: the row is still in cache for its second loop). */
CLAE_INLINE void loss_row(int loss, int out_act, __global const float *O, ulong ooff, __global const float *Xh, ulong xhoff,
              __global const float *X, ulong xoff, ulong r, ulong cols, __global float *out, ulong outoff,
              int want_grad, float grad_scale, __global float *G, ulong goff);

__kernel void loss_rows(int loss, __global const float *O, ulong ooff, __global const float *Xh,
                        ulong xhoff, __global const float *X, ulong xoff, ulong rows, ulong cols,
                        __global float *out, ulong outoff)
{
    ulong r = get_global_id(0);
    if (r >= rows) return;
    loss_row(loss, CLAE_ACT_LINEAR, O, ooff, Xh, xhoff, X, xoff, r, cols, out, outoff, 0, 0.0f, out, outoff);
}

/* loss_rows and loss_grad in one pass: out[r] as loss_rows, G (rows·cols floats) as loss_grad, bit for bit. */
__kernel void loss_rows_grad(int loss, int out_act, __global const float *O, ulong ooff, __global const float *Xh,
                             ulong xhoff, __global const float *X, ulong xoff, ulong rows, ulong cols,
                             __global float *out, ulong outoff, float scale, __global float *G, ulong goff)
{
    ulong r = get_global_id(0);
    if (r >= rows) return;
    loss_row(loss, out_act, O, ooff, Xh, xhoff, X, xoff, r, cols, out, outoff, 1, scale, G, goff);
}

/* The seed of one element, shared by loss_grad and the fused loss so both give the same bits. */
CLAE_INLINE float loss_seed(int loss, int out_act, float xh, float x, float scale)
{
    float d = xh - x;
    if (loss != CLAE_LOSS_BCE) d = d * clae_act_deriv(out_act, xh);
    return scale * d;
}

CLAE_INLINE void loss_row(int loss, int out_act, __global const float *O, ulong ooff, __global const float *Xh, ulong xhoff,
              __global const float *X, ulong xoff, ulong r, ulong cols, __global float *out, ulong outoff,
              int want_grad, float grad_scale, __global float *G, ulong goff)
{
    clae_sum acc = {0, 0};
#if CLAE_HAS_FP64
    acc8_t acc8 = (acc8_t)(0);
#endif
    ulong base = r * cols, c = 0;
    for (; c + 8 <= cols; c += 8) {
        acc8_t x = clae_convert_acc8(vload8(0, X + xoff + base + c)), t;
        if (loss == CLAE_LOSS_BCE) {
            float8 of = vload8(0, O + ooff + base + c);
            acc8_t o = clae_convert_acc8(of);
            acc8_t m = o > (acc8_t)0 ? o : (acc8_t)0;
            t = (m + clae_convert_acc8(log1p(exp(-fabs(of))))) - x * o;
        } else {
            acc8_t d = clae_convert_acc8(vload8(0, Xh + xhoff + base + c)) - x;
            t = (acc8_t)0.5 * d * d;
        }
#if CLAE_HAS_FP64
        acc8 = acc8 + t;
#else
        clae_sum_add(&acc, t.s0);
        clae_sum_add(&acc, t.s1);
        clae_sum_add(&acc, t.s2);
        clae_sum_add(&acc, t.s3);
        clae_sum_add(&acc, t.s4);
        clae_sum_add(&acc, t.s5);
        clae_sum_add(&acc, t.s6);
        clae_sum_add(&acc, t.s7);
#endif
    }
#if CLAE_HAS_FP64
    acc.s = ((acc8.s0 + acc8.s1) + (acc8.s2 + acc8.s3)) + ((acc8.s4 + acc8.s5) + (acc8.s6 + acc8.s7));
#endif
    for (; c < cols; c++) {
        acc_t x = (acc_t)X[xoff + base + c], term;
        if (loss == CLAE_LOSS_BCE) {
            float of = O[ooff + base + c];
            acc_t o = (acc_t)of, m = o > (acc_t)0 ? o : (acc_t)0;
            term = (m + (acc_t)log1p(exp(-fabs(of)))) - x * o;
        } else {
            acc_t d = (acc_t)Xh[xhoff + base + c] - x;
            term = (acc_t)0.5 * d * d;
        }
        clae_sum_add(&acc, term);
    }
    out[outoff + r] = (float)acc.s;
    if (want_grad)
        for (c = 0; c < cols; c++)
            G[goff + base + c] = loss_seed(loss, out_act, Xh[xhoff + base + c], X[xoff + base + c], grad_scale);
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
    G[goff + i] = loss_seed(loss, out_act, Xh[xhoff + i], X[xoff + i], scale);
}

/* out[r] = Σ_c (x̂−x)², one work-item per row in column order; with mean, the anomaly score (1/D)·Σ_c (x̂−x)²
 * rounded as the host divides the float sum: (float)((double)e / D) (float division without fp64). */
__kernel void row_sq_error(__global const float *Xh, ulong xhoff, __global const float *X, ulong xoff,
                           ulong rows, ulong cols, __global float *out, ulong outoff, int mean)
{
    ulong r = get_global_id(0);
    if (r >= rows) return;
    clae_sum acc = {0, 0};
    ulong base = r * cols;
    for (ulong c = 0; c < cols; c++) {
        acc_t d = (acc_t)Xh[xhoff + base + c] - (acc_t)X[xoff + base + c];
        clae_sum_add(&acc, d * d);
    }
    float e = (float)acc.s;
    out[outoff + r] = mean ? (float)((acc_t)e / (acc_t)cols) : e;
}
