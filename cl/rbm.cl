/* rbm.cl — RBM pretraining by contrastive divergence (Hinton & Salakhutdinov 2006): sampled hidden states (Philox
 * tag 4), the biases' CD-1 statistics and y += a·x. Twins of lib/ops/ops_rbm_ref.c: the same Philox counters and
 * float comparisons or Box–Muller (so the same states, bit for bit), sums in row order per column. */

/* For r < rows, c < cols: e = ids[r]·cols + c, w = Philox(ctr = (e lo, e hi, step, tag), key = seed); Bernoulli
 * units (gaussian 0): H = 1 when the uniform (w0 >> 8)·2^-24 is below P, else 0; linear units (gaussian 1): H = P
 * plus the Box–Muller normal of w2, w3. Each item reads its P before writing its H, so H may be P. */
__kernel void rbm_sample(int gaussian, ulong rows, ulong cols, __global const float *P, ulong poff,
                         __global const uint *ids, ulong idoff, uint seed_lo, uint seed_hi, uint step, uint tag,
                         __global float *H, ulong hoff)
{
    ulong c = get_global_id(0), r = get_global_id(1);
    if (c >= cols || r >= rows) return;
    ulong i = r * cols + c, e = (ulong)ids[idoff + r] * cols + c;
    uint4 w = clae_philox4x32_10((uint4)((uint)e, (uint)(e >> 32), step, tag), (uint2)(seed_lo, seed_hi));
    float p = P[poff + i];
    H[hoff + i] = gaussian ? p + clae_normal_bm(w.z, w.w) : (clae_u01(w.x) < p ? 1.0f : 0.0f);
}

/* g[c] = (Σ_r X1[r,c] − Σ_r X0[r,c])/rows, one work-item per column, rows in order. */
__kernel void rbm_bias_grad(ulong rows, ulong cols, __global const float *X0, ulong off0, __global const float *X1,
                            ulong off1, __global float *g, ulong goff)
{
    ulong c = get_global_id(0);
    if (c >= cols) return;
    clae_sum s0 = {0, 0}, s1 = {0, 0};
    for (ulong r = 0; r < rows; r++) {
        clae_sum_add(&s0, (acc_t)X0[off0 + r * cols + c]);
        clae_sum_add(&s1, (acc_t)X1[off1 + r * cols + c]);
    }
    g[goff + c] = (float)((s1.s - s0.s) / (acc_t)rows);
}

/* Y[i] += a·X[i]. */
__kernel void axpy(ulong n, float a, __global const float *X, ulong xoff, __global float *Y, ulong yoff)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    Y[yoff + i] = Y[yoff + i] + a * X[xoff + i];
}
