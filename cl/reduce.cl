/* reduce.cl — column sums, i.e. the bias gradient ∂L/∂b = colsum(G_Z) of the dense layer.
 * Deterministic: each column is summed by one work-item in row order. */

/* The bias gradient of a hidden dense layer straight from ∂L/∂A: G ⊙= f'(A) (act_backward) and
 * out[c] = Σ_r G[r,c] (colsum) in one pass over G instead of two, each element the same operations in the
 * same order as the two kernels give, so the result is bit for bit theirs (store_g = 0, f linear: colsum
 * alone, G only read: ×1 changes no float but a NaN's payload). A work-item owns eight
 * neighbouring columns as explicit vectors (PoCL left the one-column loop scalar and strided), summing
 * each lane in row order as colsum does. */
#if CLAE_HAS_FP64
typedef double8 abc_acc8;
#define abc_convert_acc8 convert_double8
#else
typedef float8 abc_acc8;
#define abc_convert_acc8 convert_float8
#endif

__kernel void act_backward_colsum(int f, int store_g, __global const float *A, ulong aoff, __global float *G,
                                  ulong goff, ulong rows, ulong cols, __global float *out, ulong outoff)
{
    ulong c0 = get_global_id(0) * 8;
    if (c0 >= cols) return;
    __global const float *a = A + aoff + c0;
    __global float *g = G + goff + c0;
    /* One loop per activation, so no row tests f. */
#define ABC_DERIV(ar)                                                                                       \
    (f == CLAE_ACT_SIGMOID ? (ar) * (1.0f - (ar))                                                        \
     : f == CLAE_ACT_TANH  ? 1.0f - (ar) * (ar)                                                           \
     : f == CLAE_ACT_RELU  ? ((ar) > 0.0f ? 1.0f : 0.0f)                                                  \
                           : 1.0f)
    if (c0 + 8 <= cols) {
#if !CLAE_HAS_FP64
        clae_sum lane[8];
        for (int l = 0; l < 8; l++) lane[l] = (clae_sum){0, 0};
#else
        abc_acc8 acc = (abc_acc8)(0);
#endif
#define ABC_LOOP(DERIV8)                                                                                     \
        for (ulong r = 0; r < rows; r++) {                                                                  \
            float8 ar = vload8(0, a + r * cols);                                                            \
            float8 gr = vload8(0, g + r * cols) * (DERIV8);                                                 \
            if (store_g) vstore8(gr, 0, g + r * cols);                                                      \
            ABC_ADD(gr)                                                                                     \
        }
#if CLAE_HAS_FP64
#define ABC_ADD(gr) acc = acc + abc_convert_acc8(gr);
#else
#define ABC_ADD(gr)                                                                                         \
        {                                                                                                   \
            float t[8];                                                                                     \
            vstore8(gr, 0, t);                                                                              \
            for (int l = 0; l < 8; l++) clae_sum_add(&lane[l], t[l]);                                       \
        }
#endif
        switch (f) {
        case CLAE_ACT_SIGMOID: ABC_LOOP(ar * ((float8)(1.0f) - ar)) break;
        case CLAE_ACT_TANH: ABC_LOOP((float8)(1.0f) - ar * ar) break;
        case CLAE_ACT_RELU: ABC_LOOP(ar > (float8)(0.0f) ? (float8)(1.0f) : (float8)(0.0f)) break;
        default: ABC_LOOP((float8)(1.0f)) break;
        }
#undef ABC_LOOP
#undef ABC_ADD
#if CLAE_HAS_FP64
        vstore8(convert_float8(acc), 0, out + outoff + c0);
#else
        for (int l = 0; l < 8; l++) out[outoff + c0 + l] = lane[l].s;
#endif
        return;
    }
    /* The last columns, one at a time. */
    for (ulong c = 0; c < cols - c0; c++) {
        clae_sum acc = {0, 0};
        for (ulong r = 0; r < rows; r++) {
            float ar = a[r * cols + c];
            float gr = g[r * cols + c] * ABC_DERIV(ar);
            if (store_g) g[r * cols + c] = gr;
            clae_sum_add(&acc, (acc_t)gr);
        }
        out[outoff + c0 + c] = (float)acc.s;
    }
#undef ABC_DERIV
}
