/* mdl.cl — the minimum-description-length autoencoder (Hinton & Zemel 1994; Ballé, Laparra & Simoncelli 2017): the
 * code with additive uniform noise (Philox tag 5) or rounded, and its rate in bits under a factorised logistic prior,
 * forward and backward. Twins of lib/ops/ops_mdl_ref.c: the noise bit for bit, the rate in the accumulator precision,
 * sums in a fixed order by one work-item each. */

/* For r < rows, l < L: with noise, T = Y + (u − ½), u = clae_u01_open(w0) of w = Philox(ctr = (e lo, e hi, step,
 * tag), key = seed), e = ids[r]·L + l, so a row draws the same noise whatever batch it lands in; without, T =
 * round(Y) (halves away from zero, as C's roundf) and ids, a stand-in then, is never read. */
__kernel void mdl_quantize(__global const float *Y, ulong yoff, __global const uint *ids, ulong idoff, int noise,
                           uint seed_lo, uint seed_hi, uint step, uint tag, __global float *T, ulong toff, ulong rows,
                           ulong L)
{
    ulong l = get_global_id(0), r = get_global_id(1);
    if (l >= L || r >= rows) return;
    ulong i = r * L + l;
    float y = Y[yoff + i];
    if (!noise) {
        T[toff + i] = round(y);
        return;
    }
    ulong e = (ulong)ids[idoff + r] * L + l;
    uint4 w = clae_philox4x32_10((uint4)((uint)e, (uint)(e >> 32), step, tag), (uint2)(seed_lo, seed_hi));
    T[toff + i] = y + (clae_u01_open(w.x) - 0.5f);
}

#if CLAE_HAS_FP64
#define MDL_LN2 M_LN2
#else
#define MDL_LN2 M_LN2_F
#endif

/* σ with one exp, never of a positive argument, in the accumulator precision. */
acc_t mdl_sig(acc_t u)
{
    if (u >= (acc_t)0) return (acc_t)1 / ((acc_t)1 + exp(-u));
    acc_t e = exp(u);
    return e / ((acc_t)1 + e);
}

/* The logistic prior's mass P of the unit bin at t, with a = (t + ½ − loc)/s, b = (t − ½ − loc)/s, s =
 * exp(logscale): taken from the tail it lies in, so P stays accurate (no 1 − 1 cancellation) far from loc. */
acc_t mdl_mass(float t, float loc, float logscale, acc_t *a, acc_t *b, acc_t *s)
{
    acc_t d = (acc_t)t - (acc_t)loc;
    *s = exp((acc_t)logscale);
    *a = ((acc_t)t + (acc_t)0.5 - (acc_t)loc) / *s;
    *b = ((acc_t)t - (acc_t)0.5 - (acc_t)loc) / *s;
    return d > (acc_t)0 ? mdl_sig(-*b) - mdl_sig(-*a) : mdl_sig(*a) - mdl_sig(*b);
}

/* −Σ_l log2(max(P, p_min)) of row r, in l order, rounded to float: the value rate_rows holds, and the term the total
 * adds, so the penalty is the same number whether or not the caller asks for the rows. */
float mdl_rate_row(__global const float *T, ulong toff, __global const float *loc, ulong loff,
                   __global const float *ls, ulong lsoff, float p_min, ulong r, ulong L)
{
    clae_sum acc = {0, 0};
    for (ulong l = 0; l < L; l++) {
        acc_t a, b, s, P = mdl_mass(T[toff + r * L + l], loc[loff + l], ls[lsoff + l], &a, &b, &s);
        clae_sum_add(&acc, -log2(P > (acc_t)p_min ? P : (acc_t)p_min));
    }
    return (float)acc.s;
}

/* rate_rows[r] for r < rows, one work-item per row. */
__kernel void mdl_rate_rows(__global const float *T, ulong toff, __global const float *loc, ulong loff,
                            __global const float *ls, ulong lsoff, float p_min, ulong rows, ulong L,
                            __global float *rate, ulong roff)
{
    ulong r = get_global_id(0);
    if (r >= rows) return;
    rate[roff + r] = mdl_rate_row(T, toff, loc, loff, ls, lsoff, p_min, r, L);
}

/* pen[0] = (weight/rows)·Σ_r rate_r, one work-item over the rows in order: from rate_rows (has_rows, written by
 * mdl_rate_rows before it on the in-order queue), else each row formed here. */
__kernel void mdl_rate_pen(float weight, __global const float *T, ulong toff, __global const float *loc, ulong loff,
                           __global const float *ls, ulong lsoff, float p_min, ulong rows, ulong L,
                           __global const float *rate, ulong roff, int has_rows, __global float *pen, ulong poff)
{
    if (get_global_id(0) != 0) return;
    clae_sum acc = {0, 0};
    for (ulong r = 0; r < rows; r++) {
        float row = has_rows ? rate[roff + r] : mdl_rate_row(T, toff, loc, loff, ls, lsoff, p_min, r, L);
        clae_sum_add(&acc, (acc_t)row);
    }
    pen[poff] = (float)((acc_t)weight * acc.s / (acc_t)rows);
}

/* The rate's derivatives at one (t, loc, logscale): c·dP/dt and c·dP/dlogscale with c = −1/(P·ln 2), both 0 where
 * P < p_min (the bound holds it). σ'(u) = σ(u)·σ(−u), which keeps its relative accuracy in the tails where
 * σ(u)(1 − σ(u)) would lose it to 1 − σ. */
void mdl_rate_grad(float t, float loc, float logscale, float p_min, acc_t *gt, acc_t *gtau)
{
    acc_t a, b, s, P = mdl_mass(t, loc, logscale, &a, &b, &s);
    *gt = 0;
    *gtau = 0;
    if (P < (acc_t)p_min) return;
    acc_t da = mdl_sig(a) * mdl_sig(-a), db = mdl_sig(b) * mdl_sig(-b);
    acc_t c = (acc_t)-1 / (P * MDL_LN2);
    *gt = c * ((da - db) / s);
    *gtau = c * -(a * da - b * db);
}

/* GT[r,l] += (weight/rows)·d rate_r/dt, one item per element. */
__kernel void mdl_rate_backward_t(float weight, __global const float *T, ulong toff, __global const float *loc,
                                  ulong loff, __global const float *ls, ulong lsoff, float p_min, ulong rows, ulong L,
                                  __global float *GT, ulong gtoff)
{
    ulong l = get_global_id(0), r = get_global_id(1);
    if (l >= L || r >= rows) return;
    ulong i = r * L + l;
    acc_t gt, gtau, k = (acc_t)weight / (acc_t)rows;
    mdl_rate_grad(T[toff + i], loc[loff + l], ls[lsoff + l], p_min, &gt, &gtau);
    GT[gtoff + i] += (float)(k * gt);
}

/* dloc[l] = (weight/rows)·Σ_r −d rate_r/dt and dlogscale[l] likewise, one item per unit over the rows in order
 * (overwritten, not accumulated). */
__kernel void mdl_rate_backward_prior(float weight, __global const float *T, ulong toff, __global const float *loc,
                                      ulong loff, __global const float *ls, ulong lsoff, float p_min, ulong rows,
                                      ulong L, __global float *dloc, ulong dloff, __global float *dls, ulong dlsoff)
{
    ulong l = get_global_id(0);
    if (l >= L) return;
    float m = loc[loff + l], tau = ls[lsoff + l];
    clae_sum gm = {0, 0}, gs = {0, 0};
    for (ulong r = 0; r < rows; r++) {
        acc_t gt, gtau;
        mdl_rate_grad(T[toff + r * L + l], m, tau, p_min, &gt, &gtau);
        clae_sum_add(&gm, -gt);
        clae_sum_add(&gs, gtau);
    }
    acc_t k = (acc_t)weight / (acc_t)rows;
    dloc[dloff + l] = (float)(k * gm.s);
    dls[dlsoff + l] = (float)(k * gs.s);
}
