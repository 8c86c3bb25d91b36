/* gemm.cl — the tiled GEMM engine's main kernels (lib/ops/gemm/gemm_tiled.c): row-major C = alpha·op(A)·op(B) + beta·C
 * with the device's tile and the dense layer's epilogue, and the transpose that lays Bᵀ out for it. */

/* The device's tile. */
__kernel void gemm_tiled(GEMM_TILED_ARGS) GEMM_TILED_BODY(CLAE_GEMM_TM, CLAE_GEMM_NV)

/* D[c, r] = S[r, c] for a rows×cols block: Bᵀ → B before gemm_tiled. Each work-item moves one
 * 16×16 block through private memory, so both the reads and the writes run along rows. */
__kernel void gemm_transpose(ulong rows, ulong cols, __global const float *S, ulong soff, ulong lds,
                             __global float *D, ulong doff, ulong ldd)
{
    ulong c0 = get_global_id(0) * 16, r0 = get_global_id(1) * 16;
    if (c0 >= cols || r0 >= rows) return;
    ulong nr = min((ulong)16, rows - r0), nc = min((ulong)16, cols - c0);
    float t[16][16];
    if (nr == 16 && nc == 16) {
        for (int i = 0; i < 16; i++) vstore16(vload16(0, S + soff + (r0 + (ulong)i) * lds + c0), 0, t[i]);
        for (int j = 0; j < 16; j++) {
            float16 col = (float16)(t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j], t[6][j], t[7][j],
                                    t[8][j], t[9][j], t[10][j], t[11][j], t[12][j], t[13][j], t[14][j], t[15][j]);
            vstore16(col, 0, D + doff + (c0 + (ulong)j) * ldd + r0);
        }
        return;
    }
    for (ulong i = 0; i < nr; i++)
        for (ulong j = 0; j < nc; j++) t[i][j] = S[soff + (r0 + i) * lds + c0 + j];
    for (ulong j = 0; j < nc; j++)
        for (ulong i = 0; i < nr; i++) D[doff + (c0 + j) * ldd + r0 + i] = t[i][j];
}
