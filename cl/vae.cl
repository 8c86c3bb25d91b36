/* vae.cl — the Gaussian layer of the variational autoencoder (Kingma & Welling 2013): the reparameterized draw
 * (Philox tag 2, prior draws tag 4), its KL term against N(0, I) and the backward pass. Twins of
 * lib/ops/ops_vae_ref.c: the same Philox counters and float Box–Muller (so the same ε bits), the same float
 * expressions operation for operation, and sums in a fixed order by one work-item each. */

/* For r < rows, l < L: e = (ids[r]·count + k)·L + l, the (row, sample, unit)'s index in the data set, so a row
 * draws the same ε whatever batch it lands in; ε = N(w2, w3) of w = Philox(ctr = (e lo, e hi, step, tag),
 * key = seed); s' = clamp(S, s_min, s_max) is written back, Z = μ + exp(s'/2)·ε. A has_* flag of 0 means the
 * buffer is absent (its argument is a stand-in, never touched): no μ gives Z = exp(s'/2)·ε, no S gives Z = ε. */
__kernel void gauss_sample(__global const float *MU, ulong muoff, int has_mu, __global float *S, ulong soff,
                           int has_s, __global const uint *ids, ulong idoff, uint seed_lo, uint seed_hi, uint step,
                           uint tag, uint k, uint count, float s_min, float s_max, __global float *EPS, ulong epsoff,
                           int has_eps, __global float *Z, ulong zoff, ulong rows, ulong L)
{
    ulong l = get_global_id(0), r = get_global_id(1);
    if (l >= L || r >= rows) return;
    ulong i = r * L + l;
    ulong e = ((ulong)ids[idoff + r] * count + k) * L + l;
    uint4 w = clae_philox4x32_10((uint4)((uint)e, (uint)(e >> 32), step, tag), (uint2)(seed_lo, seed_hi));
    float eps = clae_normal_bm(w.z, w.w);
    if (has_eps) EPS[epsoff + i] = eps;
    float scale = 1.0f;
    if (has_s) {
        float s = S[soff + i];
        s = s < s_min ? s_min : (s > s_max ? s_max : s);
        S[soff + i] = s;
        scale = exp(0.5f * s);
    }
    Z[zoff + i] = (has_mu ? MU[muoff + i] : 0.0f) + scale * eps;
}

/* Σ_l −½(1 + s − μ² − e^s) of row r, in l order, rounded to float: the value kl_rows holds, and the term the
 * total adds, so the penalty is the same number whether or not the caller asks for the rows. */
float gauss_kl_row(__global const float *MU, ulong muoff, __global const float *S, ulong soff, ulong r, ulong L)
{
    clae_sum acc = {0, 0};
    for (ulong l = 0; l < L; l++) {
        acc_t m = (acc_t)MU[muoff + r * L + l], s = (acc_t)S[soff + r * L + l];
        clae_sum_add(&acc, (acc_t)-0.5 * ((acc_t)1 + s - m * m - exp(s)));
    }
    return (float)acc.s;
}

/* kl_rows[r] for r < rows, one work-item per row. */
__kernel void gauss_kl_rows(__global const float *MU, ulong muoff, __global const float *S, ulong soff, ulong rows,
                            ulong L, __global float *kl, ulong kloff)
{
    ulong r = get_global_id(0);
    if (r >= rows) return;
    kl[kloff + r] = gauss_kl_row(MU, muoff, S, soff, r, L);
}

/* pen[0] = (β/rows)·Σ_r row r, one work-item over the rows in order: from kl_rows (has_rows, written by
 * gauss_kl_rows before it on the in-order queue), else each row formed here. */
__kernel void gauss_kl_pen(float beta, __global const float *MU, ulong muoff, __global const float *S, ulong soff,
                           ulong rows, ulong L, __global const float *kl, ulong kloff, int has_rows,
                           __global float *pen, ulong poff)
{
    if (get_global_id(0) != 0) return;
    clae_sum acc = {0, 0};
    for (ulong r = 0; r < rows; r++)
        clae_sum_add(&acc, (acc_t)(has_rows ? kl[kloff + r] : gauss_kl_row(MU, muoff, S, soff, r, L)));
    pen[poff] = (float)((acc_t)beta * acc.s / (acc_t)rows);
}

/* GMU = G_Z + kb·μ, GS = G_Z·ε·σ/2 + (kb/2)·(e^s − 1) with σ = exp(s/2), kb = β/rows (formed on the host in
 * float, as the reference does). Each item reads all of its inputs before writing. */
__kernel void gauss_backward(float kb, __global const float *MU, ulong muoff, __global const float *S, ulong soff,
                             __global const float *EPS, ulong epsoff, __global const float *GZ, ulong gzoff,
                             __global float *GMU, ulong gmuoff, __global float *GS, ulong gsoff, ulong n, float smin,
                             float smax)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    float s = S[soff + i], sigma = exp(0.5f * s), g = GZ[gzoff + i], mu = MU[muoff + i], eps = EPS[epsoff + i];
    GMU[gmuoff + i] = g + kb * mu;
    /* A log-variance the clamp held has no gradient (clamped values sit exactly on a bound). */
    GS[gsoff + i] = (s <= smin || s >= smax) ? 0.0f : g * eps * sigma * 0.5f + 0.5f * kb * (exp(s) - 1.0f);
}
