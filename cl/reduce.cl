/* reduce.cl — column sums, i.e. the bias gradient ∂L/∂b = colsum(G_Z) of the dense layer.
 * Deterministic: each column is summed by one work-item in row order. */

/* out[c] = Σ_r G[r,c]. Work-items on consecutive columns read consecutive floats of each row,
 * so the loads coalesce on GPUs and stream through the cache on CPUs. */
__kernel void colsum(__global const float *G, ulong goff, ulong rows, ulong cols, __global float *out,
                     ulong outoff)
{
    ulong c = get_global_id(0);
    if (c >= cols) return;
    clae_sum acc = {0, 0};
    for (ulong r = 0; r < rows; r++) clae_sum_add(&acc, (acc_t)G[goff + r * cols + c]);
    out[outoff + c] = (float)acc.s;
}
