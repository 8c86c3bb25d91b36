/* gemm.cl — the "tiled" GEMM engine's kernels (lib/ops/gemm/gemm_tiled.c): register-tiled row-major
 * C = alpha·op(A)·op(B) + beta·C, each work-item owning one TM×(VW·NV) tile of C in registers. */

/* Tile shape, CLBlast style: defaults tuned for CPU devices (PoCL), overridable per device with
 * -D (CLAE_BUILD_OPTIONS); lib/ops/gemm/gemm_tiled.c reads the same names from the build options so the
 * host's grid and the kernel's tile always agree.
 *   CLAE_GEMM_TM  rows of C per work-item (A elements broadcast per k)
 *   CLAE_GEMM_VW  vector width of a B row segment: 2, 4, 8 or 16
 *   CLAE_GEMM_NV  vectors per row, so a tile is TM × (VW·NV) with TM·NV live accumulators
 *   CLAE_GEMM_M_FIRST  1: dimension 0 of the grid runs down M, so neighbouring work-items share
 *                      a B panel (L2-resident) and stream A; 0: across N
 *   CLAE_GEMM_L0, CLAE_GEMM_L1  the work-group shape (host only; 1×1 by default)
 * On a CPU the tile decides everything: TM·NV accumulators plus NV B vectors must stay in
 * registers (32 zmm with AVX-512), and each k costs TM broadcasts + NV loads for TM·NV fmas.
 * On the 2-core AVX-512 PoCL machine 8×32 (16 zmm accumulators) measured best, 6×32 and 10×32
 * within a few percent, 8×16 (the LESSONS.md starting point) about 0.8× of it. Work-groups of
 * one leave each work-item's registers alone; a GPU wants larger ones (and gets CLBlast from the
 * engine table). */
/* Defaults follow the device's preferred float vector width (CLAE_VEC_FLOAT): 8×32 in zmm where
 * it is 16 (AVX-512: 16 accumulators of 32 registers), 6×16 in ymm otherwise (AVX2: 12 of 16).
 * tile_of() in lib/ops/gemm/gemm_tiled.c applies the same rule. */
#ifndef CLAE_GEMM_VW
#if CLAE_VEC_FLOAT >= 16
#define CLAE_GEMM_VW 16
#else
#define CLAE_GEMM_VW 8
#endif
#endif
#ifndef CLAE_GEMM_TM
#if CLAE_GEMM_VW >= 16
#define CLAE_GEMM_TM 8
#else
#define CLAE_GEMM_TM 6
#endif
#endif
#ifndef CLAE_GEMM_NV
#define CLAE_GEMM_NV 2
#endif
#ifndef CLAE_GEMM_M_FIRST
#define CLAE_GEMM_M_FIRST 1
#endif

#define GEMM_CAT_(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT_(a, b)
#define GEMM_TN (CLAE_GEMM_VW * CLAE_GEMM_NV)
typedef GEMM_CAT(float, CLAE_GEMM_VW) gemm_vec;
#define GEMM_VLOAD GEMM_CAT(vload, CLAE_GEMM_VW)
#define GEMM_VSTORE GEMM_CAT(vstore, CLAE_GEMM_VW)

/* One step of k: acc[r][v] += op(A)[i0+r, k] · op(B)[k, j0+v·VW ...], the A element read by
 * LOADA(r) and the B segment by LOADB(v) (a full vector, or lane-guarded at the right edge of C).
 * fma is correctly rounded, so every C element is the same fixed ascending-k chain on every run
 * and every device. */
#define GEMM_K_LOOP(LOADA, LOADB)                                                                  \
    for (ulong k = 0; k < K; k++) {                                                                \
        __global const float *bk = B + boff + k * ldb + j0;                                        \
        gemm_vec b[CLAE_GEMM_NV];                                                                  \
        _Pragma("unroll") for (int v = 0; v < CLAE_GEMM_NV; v++) b[v] = LOADB(v);                  \
        _Pragma("unroll") for (int r = 0; r < CLAE_GEMM_TM; r++) {                                 \
            gemm_vec a = (gemm_vec)(LOADA(r));                                                     \
            _Pragma("unroll") for (int v = 0; v < CLAE_GEMM_NV; v++) acc[r][v] = fma(a, b[v], acc[r][v]); \
        }                                                                                          \
    }

/* op(A) = A: row r's pointer walks along k. op(A) = Aᵀ: one pointer per k, rows side by side.
 * Either way the stride is known here, so the loop keeps one index register, not TM pointers. */
#define GEMM_LOADA_ROWS(r) ap[r][k]
#define GEMM_LOADA_COLS(r) A[aoff + k * lda + ia[r]]
#define GEMM_LOADB_FULL(v) GEMM_VLOAD((size_t)(v), bk)
#define GEMM_LOADB_EDGE(v) gemm_load_edge(bk + (v) * CLAE_GEMM_VW, j0 + (ulong)(v) * CLAE_GEMM_VW, N)

/* A B row segment that may cross column N: lanes past the edge read nothing and hold 0. */
gemm_vec gemm_load_edge(__global const float *p, ulong j, ulong N)
{
    float t[CLAE_GEMM_VW];
    for (int l = 0; l < CLAE_GEMM_VW; l++) t[l] = j + (ulong)l < N ? p[l] : 0.0f;
    return GEMM_VLOAD(0, t);
}

/* op(A)[i, k] is A[aoff + i·lda + k], or A[aoff + k·lda + i] when trans_a. op(B)[k, j] =
 * B[boff + k·ldb + j]: B is row-major K×N here (the host transposes Bᵀ into a workspace first),
 * so a tile's B segment is VW·NV consecutive floats. Rows past M read row M−1 (clamped, never
 * stored); columns past N read zeros. beta = 0 never reads C, so stale NaNs cannot survive. */
__kernel void gemm_tiled(ulong M, ulong N, ulong K, float alpha, int trans_a, __global const float *A, ulong aoff,
                         ulong lda, __global const float *B, ulong boff, ulong ldb, float beta, __global float *C,
                         ulong coff, ulong ldc)
{
#if CLAE_GEMM_M_FIRST
    ulong i0 = get_global_id(0) * CLAE_GEMM_TM, j0 = get_global_id(1) * GEMM_TN;
#else
    ulong j0 = get_global_id(0) * GEMM_TN, i0 = get_global_id(1) * CLAE_GEMM_TM;
#endif
    if (j0 >= N || i0 >= M) return;

    ulong ia[CLAE_GEMM_TM];
    __global const float *ap[CLAE_GEMM_TM];
    gemm_vec acc[CLAE_GEMM_TM][CLAE_GEMM_NV];
    _Pragma("unroll") for (int r = 0; r < CLAE_GEMM_TM; r++)
    {
        ia[r] = min(i0 + (ulong)r, M - 1);
        ap[r] = A + aoff + ia[r] * lda;
        _Pragma("unroll") for (int v = 0; v < CLAE_GEMM_NV; v++) acc[r][v] = (gemm_vec)(0.0f);
    }

    /* Four copies of the loop, so none of them tests a layout or an edge per k. */
    int full_cols = j0 + GEMM_TN <= N;
    if (!trans_a && full_cols) {
        GEMM_K_LOOP(GEMM_LOADA_ROWS, GEMM_LOADB_FULL)
    } else if (!trans_a) {
        GEMM_K_LOOP(GEMM_LOADA_ROWS, GEMM_LOADB_EDGE)
    } else if (full_cols) {
        GEMM_K_LOOP(GEMM_LOADA_COLS, GEMM_LOADB_FULL)
    } else {
        GEMM_K_LOOP(GEMM_LOADA_COLS, GEMM_LOADB_EDGE)
    }

    /* C = alpha·acc + beta·C, rounded per operation (FP_CONTRACT is off in common.h). */
    _Pragma("unroll") for (int r = 0; r < CLAE_GEMM_TM; r++)
    {
        if (i0 + (ulong)r >= M) break;
        __global float *c = C + coff + (i0 + (ulong)r) * ldc + j0;
        _Pragma("unroll") for (int v = 0; v < CLAE_GEMM_NV; v++)
        {
            gemm_vec out = (gemm_vec)(alpha) * acc[r][v];
            if (full_cols) {
                if (beta != 0.0f) out = out + (gemm_vec)(beta) * GEMM_VLOAD((size_t)v, c);
                GEMM_VSTORE(out, (size_t)v, c);
            } else {
                float t[CLAE_GEMM_VW];
                GEMM_VSTORE(out, 0, t);
                for (int l = 0; l < CLAE_GEMM_VW; l++) {
                    ulong j = j0 + (ulong)(v * CLAE_GEMM_VW + l);
                    if (j >= N) break;
                    __global float *cj = c + v * CLAE_GEMM_VW + l;
                    *cj = beta != 0.0f ? t[l] + beta * *cj : t[l];
                }
            }
        }
    }
}

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
