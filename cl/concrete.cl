/* concrete.cl — the concrete autoencoder's selector (Abid, Balin & Zou 2019): the Gumbel-softmax of K selectors
 * over D features (Philox stream 3), its backward pass and the hard read-out. Twins of lib/ops/ops_concrete_ref.c. */

/* One work-item per selector k, d ascending: Y = (Λ + g·G)/T into M with its running max, then Σ exp(Y − max),
 * then M = exp(Y − max)/Σ. Y is the reference's float expression bit for bit (the same Philox counter
 * (e lo, e hi, step, stream) with e = k·D + d, clae's own float log, a correctly rounded division); the exps and the
 * sum are in the accumulator precision (double where the device has it, as the reference; else float with Kahan
 * compensation), so the two paths agree to float rounding. Each M[k,d] is read as Λ before it is written, so M
 * may be LAMBDA itself. */
__kernel void concrete_softmax(__global const float *LAMBDA, ulong loff, float T, uint seed_lo, uint seed_hi, uint step,
                               uint stream, int gumbel, __global float *M, ulong moff, ulong K, ulong D)
{
    ulong k = get_global_id(0);
    if (k >= K) return;
    __global const float *lam = LAMBDA + loff + k * D;
    __global float *y = M + moff + k * D;
    float top = -INFINITY;
    for (ulong d = 0; d < D; d++) {
        float g = 0.0f;
        if (gumbel) {
            ulong e = k * D + d;
            uint4 w = clae_philox4x32_10((uint4)((uint)e, (uint)(e >> 32), step, stream), (uint2)(seed_lo, seed_hi));
            g = -clae_logf(-clae_logf(clae_u01_open(w.x)));
        }
        float v = (lam[d] + g) / T;
        y[d] = v;
        if (v > top) top = v;
    }
    clae_sum acc = {0, 0};
    for (ulong d = 0; d < D; d++) clae_sum_add(&acc, exp((acc_t)y[d] - (acc_t)top));
    for (ulong d = 0; d < D; d++) y[d] = (float)(exp((acc_t)y[d] - (acc_t)top) / acc.s);
}

/* One work-item per selector: c_k = Σ_d M·Gm in d order, then dΛ = M·(Gm − c_k)/T in the accumulator precision,
 * the reference's expression. The row is read whole for c_k before any of it is written, so dLAMBDA may be Gm. */
__kernel void concrete_backward(float T, __global const float *M, ulong moff, __global const float *Gm, ulong goff,
                                __global float *dL, ulong doff, ulong K, ulong D)
{
    ulong k = get_global_id(0);
    if (k >= K) return;
    __global const float *m = M + moff + k * D, *gm = Gm + goff + k * D;
    __global float *dl = dL + doff + k * D;
    clae_sum acc = {0, 0};
    for (ulong d = 0; d < D; d++) clae_sum_add(&acc, (acc_t)m[d] * (acc_t)gm[d]);
    const acc_t c = acc.s;
    for (ulong d = 0; d < D; d++) dl[d] = (float)((acc_t)m[d] * ((acc_t)gm[d] - c) / (acc_t)T);
}

/* idx[k] = the first d holding the row's maximum (a strict > keeps the lowest on ties), as a float. */
__kernel void concrete_argmax(__global const float *LAMBDA, ulong loff, __global float *idx, ulong ioff, ulong K,
                              ulong D)
{
    ulong k = get_global_id(0);
    if (k >= K) return;
    __global const float *lam = LAMBDA + loff + k * D;
    ulong best = 0;
    for (ulong d = 1; d < D; d++)
        if (lam[d] > lam[best]) best = d;
    idx[ioff + k] = (float)best;
}

/* S[r,k] = X[r, idx[k]], one work-item per (k, r), k along dimension 0. */
__kernel void gather_cols(__global const float *X, ulong xoff, __global const float *idx, ulong ioff,
                          __global float *S, ulong soff, ulong rows, ulong D, ulong K)
{
    ulong k = get_global_id(0), r = get_global_id(1);
    if (k >= K || r >= rows) return;
    S[soff + r * K + k] = X[xoff + r * D + (ulong)idx[ioff + k]];
}
