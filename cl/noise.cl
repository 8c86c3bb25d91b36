/* noise.cl — input corruption of the denoising autoencoder (Vincent et al. 2010; Philox tag 1), the twin of
 * clae_ref_corrupt: same Philox counters, same integer tests, same float Box–Muller, same bits. */

/* Noise kinds: the clae_noise enum of clae.h. */
#define CLAE_NOISE_NONE 0
#define CLAE_NOISE_GAUSSIAN 1
#define CLAE_NOISE_MASK 2
#define CLAE_NOISE_SALTPEPPER 3

/* Xt[r,c] = C(X[r,c]) with w = Philox(ctr = (e lo, e hi, step, 1), key = (seed lo, seed hi)) and
 * e = ids[r]·cols + c, the element's index in the data set (ids are the rows' data-set indices),
 * so a row draws the same noise whatever batch it lands in. Gaussian: x + σ·N(w2, w3); mask and
 * salt-and-pepper corrupt when (w0 >> 8) < thr = floor(ν·2^24): mask writes the feature's training
 * mean, salt-and-pepper its maximum (salt: w1's top bit set) or minimum (pepper).
 * Xt may alias X: each item reads its element before writing it. */
__kernel void corrupt(int kind, float level, uint thr, __global const float *X, ulong xoff, __global float *Xt,
                      ulong xtoff, __global const uint *ids, ulong idoff, ulong rows, ulong cols, uint seed_lo,
                      uint seed_hi, uint step, __global const float *mean, ulong moff, __global const float *lo,
                      ulong looff, __global const float *hi, ulong hioff)
{
    ulong c = get_global_id(0), r = get_global_id(1);
    if (c >= cols || r >= rows) return;
    ulong i = r * cols + c;
    float x = X[xoff + i];
    if (kind == CLAE_NOISE_NONE) {
        Xt[xtoff + i] = x;
        return;
    }
    ulong e = (ulong)ids[idoff + r] * cols + c;
    uint4 w = clae_philox4x32_10((uint4)((uint)e, (uint)(e >> 32), step, 1u), (uint2)(seed_lo, seed_hi));
    float y;
    if (kind == CLAE_NOISE_GAUSSIAN) y = x + level * clae_normal_bm(w.z, w.w);
    else if ((w.x >> 8) < thr) y = kind == CLAE_NOISE_MASK ? mean[moff + c] : ((w.y >> 31) ? hi[hioff + c] : lo[looff + c]);
    else y = x;
    Xt[xtoff + i] = y;
}
