/* rng.cl — counter-based random numbers on the device: weight initialisation (Glorot/He uniform) and
 * a raw Philox4x32-10 kernel for the known-answer tests (Random123's vectors). */

/* theta[e] = a·(2u − 1), u = (w0 >> 8)·2^-24, w = Philox(ctr = (e lo, e hi, layer_id, 9),
 * key = (seed lo, seed hi)). 2u − 1 is exact and the product rounds once, so the host gets
 * the same bits. */
__kernel void init_uniform(__global float *theta, ulong toff, ulong n, uint seed_lo, uint seed_hi,
                           uint layer_id, float a)
{
    ulong e = get_global_id(0);
    if (e >= n) return;
    uint4 w = clae_philox4x32_10((uint4)((uint)e, (uint)(e >> 32), layer_id, 9u), (uint2)(seed_lo, seed_hi));
    float u = clae_u01(w.x);
    theta[toff + e] = a * (2.0f * u - 1.0f);
}

/* out[4i..4i+3] = Philox4x32-10(ctr[4i..4i+3], key) for i < n. */
__kernel void philox_raw(__global const uint *ctr, __global uint *out, uint key_lo, uint key_hi, ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    uint4 w = clae_philox4x32_10(vload4(i, ctr), (uint2)(key_lo, key_hi));
    vstore4(w, i, out);
}
