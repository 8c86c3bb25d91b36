/* aae.cl — the adversarial autoencoder (Makhzani et al. 2015): the discriminator's batch of prior draws (Philox
 * tag 6) and codes, and the logistic loss of its logits. Twins of lib/ops/ops_aae_ref.c: the same Philox counters,
 * float Box–Muller and float rotations (so the same draws, bit for bit), the loss summed in index order by one
 * work-item. */

/* Unit l of the prior row of data-set row id: N(0, I) when modes is 0, else the mixture of lib/ops/ops_aae.h. */
float aae_prior_unit(uint modes, uint seed_lo, uint seed_hi, uint step, uint tag, ulong id, ulong l, ulong L,
                     float radial_sd, float tangent_sd, float shift)
{
    uint2 key = (uint2)(seed_lo, seed_hi);
    if (!modes) {
        ulong e = id * L + l;
        uint4 w = clae_philox4x32_10((uint4)((uint)e, (uint)(e >> 32), step, tag), key);
        return clae_normal_bm(w.z, w.w);
    }
    ulong j = l & ~(ulong)1, e0 = id * L, e = e0 + j;
    uint4 w0 = clae_philox4x32_10((uint4)((uint)e0, (uint)(e0 >> 32), step, tag), key);
    uint4 wa = clae_philox4x32_10((uint4)((uint)e, (uint)(e >> 32), step, tag), key);
    uint4 wb = clae_philox4x32_10((uint4)((uint)(e + 1), (uint)((e + 1) >> 32), step, tag), key);
    uint c = (uint)(((ulong)(w0.x >> 8) * modes) >> 24);
    float u = (float)c / (float)modes;
    float v = u + 0.75f;
    if (v >= 1.0f) v = v - 1.0f;
    float cs = clae_cos2pif(u), sn = clae_cos2pif(v);
    float a = radial_sd * clae_normal_bm(wa.z, wa.w) + shift, b = tangent_sd * clae_normal_bm(wb.z, wb.w);
    return (l & 1) ? a * sn + b * cs : a * cs - b * sn;
}

/* For r < rows, l < L: OUT[r,l] = the prior's unit l for data-set row ids[r]; with has_codes, OUT[rows + r, l] =
 * CODES[r, l] (the discriminator sees the draws first, then the codes). */
__kernel void aae_batch(ulong rows, ulong L, uint modes, __global const uint *ids, ulong idoff, uint seed_lo,
                        uint seed_hi, uint step, uint tag, float radial_sd, float tangent_sd, float shift,
                        __global const float *CODES, ulong coff, int has_codes, __global float *OUT, ulong ooff)
{
    ulong l = get_global_id(0), r = get_global_id(1);
    if (l >= L || r >= rows) return;
    ulong i = r * L + l;
    OUT[ooff + i] = aae_prior_unit(modes, seed_lo, seed_hi, step, tag, (ulong)ids[idoff + r], l, L, radial_sd,
                                   tangent_sd, shift);
    if (has_codes) OUT[ooff + rows * L + i] = CODES[coff + i];
}

/* Logits D: the first rows labelled real (t = 1), the next fake labelled fake (t = 0). Every item i writes its
 * seed G[i] = (σ(D[i]) − t)/rows; item 0 also sums the loss t·softplus(−d) + (1 − t)·softplus(d) over all logits
 * in index order, writing out[0] = sum/rows and out[1] = the share classified right (d > 0 for real, d < 0 for
 * fake). */
__kernel void aae_logit_loss(ulong rows, ulong fake, __global const float *D, ulong doff, __global float *G,
                             ulong goff, __global float *out, ulong ooff)
{
    ulong i = get_global_id(0);
    if (i >= rows + fake) return;
    float d = D[doff + i];
    G[goff + i] = (clae_sigmoid(d) - (i < rows ? 1.0f : 0.0f)) / (float)rows;
    if (i != 0) return;
    clae_sum acc = {0, 0};
    ulong right = 0;
    for (ulong k = 0; k < rows + fake; k++) {
        float x = D[doff + k];
        int real = k < rows;
        clae_sum_add(&acc, clae_softplus(real ? -(acc_t)x : (acc_t)x));
        right += real ? (x > 0.0f) : (x < 0.0f);
    }
    out[ooff] = (float)(acc.s / (acc_t)rows);
    out[ooff + 1] = (float)((acc_t)right / (acc_t)(rows + fake));
}
