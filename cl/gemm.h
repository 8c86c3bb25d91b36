/* gemm.h — what the tiled GEMM engine's programs share (gemm.cl, gemm_tiles.cl, gemm_nt.cl; the engine is
 * lib/ops/gemm/gemm_tiled.c): tile defines, vector types, the kernel bodies as macros, the epilogue. */

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

/* The tuner's two other tiles (lib/ops/gemm/gemm_tiled.c reads the same rules): half the rows; and half the
 * vectors per row with 1.5× the rows (one vector when NV is 1). */
#define GEMM_HALF_TM (CLAE_GEMM_TM > 1 ? CLAE_GEMM_TM / 2 : 1)
#define GEMM_TALL_NV (CLAE_GEMM_NV > 1 ? CLAE_GEMM_NV / 2 : 1)
#define GEMM_TALL_TM (CLAE_GEMM_TM + CLAE_GEMM_TM / 2)

#define GEMM_CAT_(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT_(a, b)
typedef GEMM_CAT(float, CLAE_GEMM_VW) gemm_vec;
#define GEMM_VLOAD GEMM_CAT(vload, CLAE_GEMM_VW)
#define GEMM_VSTORE GEMM_CAT(vstore, CLAE_GEMM_VW)

/* One step of k: acc[r][v] += op(A)[i0+r, k] · op(B)[k, j0+v·VW ...], the A element read by
 * LOADA(r) and the B segment by LOADB(v) (a full vector, or lane-guarded at the right edge of C).
 * fma is correctly rounded, so every C element is the same fixed ascending-k chain on every run
 * and every device. */
#define GEMM_K_LOOP(TM, NV, LOADA, LOADB)                                                          \
    for (ulong k = 0; k < K; k++) {                                                                \
        __global const float *bk = B + boff + k * ldb + j0;                                        \
        gemm_vec b[NV];                                                                            \
        _Pragma("unroll") for (int v = 0; v < (NV); v++) b[v] = LOADB(v);                          \
        _Pragma("unroll") for (int r = 0; r < (TM); r++) {                                         \
            gemm_vec a = (gemm_vec)(LOADA(r));                                                     \
            _Pragma("unroll") for (int v = 0; v < (NV); v++) acc[r][v] = fma(a, b[v], acc[r][v]);  \
        }                                                                                          \
    }

/* op(A) = A: row r's pointer walks along k. op(A) = Aᵀ: one pointer per k, rows side by side.
 * Either way the stride is known here, so the loop keeps one index register, not TM pointers. */
#define GEMM_LOADA_ROWS(r) ap[r][k]
#define GEMM_LOADA_COLS(r) A[aoff + k * lda + ia[r]]
#define GEMM_LOADB_FULL(v) GEMM_VLOAD((size_t)(v), bk)
#define GEMM_LOADB_EDGE(v) gemm_load_edge(bk + (v) * CLAE_GEMM_VW, j0 + (ulong)(v) * CLAE_GEMM_VW, N)

/* A B row segment that may cross column N: lanes past the edge read nothing and hold 0. */
CLAE_INLINE gemm_vec gemm_load_edge(__global const float *p, ulong j, ulong N)
{
    float t[CLAE_GEMM_VW];
    for (int l = 0; l < CLAE_GEMM_VW; l++) t[l] = j + (ulong)l < N ? p[l] : 0.0f;
    return GEMM_VLOAD(0, t);
}

/* op(A)[i, k] is A[aoff + i·lda + k], or A[aoff + k·lda + i] when trans_a. op(B)[k, j] =
 * B[boff + k·ldb + j]: B is row-major K×N here (the host transposes Bᵀ into a workspace first),
 * so a tile's B segment is VW·NV consecutive floats. Rows past M read row M−1 (clamped, never
 * stored); columns past N read zeros. beta = 0 never reads C, so stale NaNs cannot survive. */
/* The dense layer's epilogue, fused so the tile leaves registers once: out = alpha·acc + beta·C, then
 * out + bias[j] (has_bias), stored to Z (has_z: the pre-activation a bce output keeps), then f(out) into C
 * (act ≥ 0). Each is the same rounded operation, in the same order, as the separate gemm, bias_add and
 * act_forward kernels (FP_CONTRACT is off), so Z and a relu's output keep their bits; a sigmoid or tanh
 * takes the vector exp and tanh, which may differ from act_forward's scalar ones by an ulp. act = −1: plain GEMM. */
CLAE_INLINE float gemm_act1(int f, float z)
{
    switch (f) {
    case CLAE_ACT_SIGMOID: return clae_sigmoid(z);
    case CLAE_ACT_TANH: return tanh(z);
    case CLAE_ACT_RELU: return z > 0.0f ? z : 0.0f;
    default: return z;
    }
}

/* The vector form of gemm_act1, lane for lane clae_sigmoid's two branches (exp of −|z| either way). */
CLAE_INLINE gemm_vec gemm_act(int f, gemm_vec z)
{
    if (f == CLAE_ACT_RELU) return z > (gemm_vec)(0.0f) ? z : (gemm_vec)(0.0f);
    if (f == CLAE_ACT_TANH) return tanh(z);
    if (f != CLAE_ACT_SIGMOID) return z;
    gemm_vec e = exp(-fabs(z)), one = (gemm_vec)(1.0f);
    return z >= (gemm_vec)(0.0f) ? one / (one + e) : e / (one + e);
}

/* The kernel's body for a TM × (VW·NV) tile; gemm_tiled takes the device's tile (CLAE_GEMM_TM, CLAE_GEMM_NV)
 * and the _half and _tall kernels two neighbours of it, among which the tuner (lib/ops/gemm/gemm_tune.c)
 * picks per shape. The kernels are spelled out in gemm.cl and gemm_tiles.cl, so a scan of the sources finds their names. */
#define GEMM_TILED_ARGS                                                                                         \
    ulong M, ulong N, ulong K, float alpha, int trans_a, __global const float *A, ulong aoff, ulong lda,        \
        __global const float *B, ulong boff, ulong ldb, float beta, __global float *C, ulong coff, ulong ldc,     \
        __global const float *bias, ulong biasoff, int has_bias, __global float *Z, ulong zoff, int has_z, int act

#if CLAE_GEMM_M_FIRST
#define GEMM_TILE_ORIGIN(TM, TN) ulong i0 = get_global_id(0) * (TM), j0 = get_global_id(1) * (TN);
#else
#define GEMM_TILE_ORIGIN(TM, TN) ulong j0 = get_global_id(0) * (TN), i0 = get_global_id(1) * (TM);
#endif

#define GEMM_TILED_BODY(TM, NV)                                                                                  \
    {                                                                                                            \
        GEMM_TILE_ORIGIN(TM, (NV) * CLAE_GEMM_VW)                                                                \
        if (j0 >= N || i0 >= M) return;                                                                          \
        ulong ia[TM];                                                                                            \
        __global const float *ap[TM];                                                                            \
        gemm_vec acc[TM][NV];                                                                                    \
        _Pragma("unroll") for (int r = 0; r < (TM); r++)                                                         \
        {                                                                                                        \
            ia[r] = min(i0 + (ulong)r, M - 1);                                                                   \
            ap[r] = A + aoff + ia[r] * lda;                                                                      \
            _Pragma("unroll") for (int v = 0; v < (NV); v++) acc[r][v] = (gemm_vec)(0.0f);                       \
        }                                                                                                        \
        /* Four copies of the loop, so none of them tests a layout or an edge per k. */                          \
        int full_cols = j0 + (NV) * CLAE_GEMM_VW <= N;                                                           \
        if (!trans_a && full_cols) {                                                                             \
            GEMM_K_LOOP(TM, NV, GEMM_LOADA_ROWS, GEMM_LOADB_FULL)                                                \
        } else if (!trans_a) {                                                                                   \
            GEMM_K_LOOP(TM, NV, GEMM_LOADA_ROWS, GEMM_LOADB_EDGE)                                                \
        } else if (full_cols) {                                                                                  \
            GEMM_K_LOOP(TM, NV, GEMM_LOADA_COLS, GEMM_LOADB_FULL)                                                \
        } else {                                                                                                 \
            GEMM_K_LOOP(TM, NV, GEMM_LOADA_COLS, GEMM_LOADB_EDGE)                                                \
        }                                                                                                        \
        /* C = alpha·acc + beta·C, rounded per operation (FP_CONTRACT is off in common.h), then the epilogue. */ \
        _Pragma("unroll") for (int r = 0; r < (TM); r++)                                                         \
        {                                                                                                        \
            if (i0 + (ulong)r >= M) break;                                                                       \
            __global float *c = C + coff + (i0 + (ulong)r) * ldc + j0;                                           \
            __global float *z = Z + zoff + (i0 + (ulong)r) * ldc + j0;                                           \
            __global const float *bj = bias + biasoff + j0;                                                      \
            _Pragma("unroll") for (int v = 0; v < (NV); v++)                                                     \
            {                                                                                                    \
                gemm_vec out = (gemm_vec)(alpha) * acc[r][v];                                                    \
                if (full_cols) {                                                                                 \
                    if (beta != 0.0f) out = out + (gemm_vec)(beta) * GEMM_VLOAD((size_t)v, c);                   \
                    if (has_bias) out = out + GEMM_VLOAD((size_t)v, bj);                                         \
                    if (has_z) GEMM_VSTORE(out, (size_t)v, z);                                                   \
                    if (act >= 0) out = gemm_act(act, out);                                                      \
                    GEMM_VSTORE(out, (size_t)v, c);                                                              \
                } else {                                                                                         \
                    /* The edge's lanes take the same vector activation as full columns: which columns are an \
                     * edge depends on the tile, and a scalar exp may differ from the vector one by an ulp. */   \
                    float t[CLAE_GEMM_VW];                                                                       \
                    GEMM_VSTORE(out, 0, t);                                                                      \
                    for (int l = 0; l < CLAE_GEMM_VW; l++) {                                                     \
                        ulong e = (ulong)(v * CLAE_GEMM_VW + l);                                                 \
                        if (j0 + e >= N) {                                                                       \
                            t[l] = 0.0f;                                                                         \
                            continue;                                                                            \
                        }                                                                                        \
                        if (beta != 0.0f) t[l] = t[l] + beta * c[e];                                             \
                        if (has_bias) t[l] = t[l] + bj[e];                                                       \
                        if (has_z) z[e] = t[l];                                                                  \
                    }                                                                                            \
                    if (act >= 0) GEMM_VSTORE(gemm_act(act, GEMM_VLOAD(0, t)), 0, t);                            \
                    for (int l = 0; l < CLAE_GEMM_VW; l++) {                                                     \
                        ulong e = (ulong)(v * CLAE_GEMM_VW + l);                                                 \
                        if (j0 + e >= N) break;                                                                  \
                        c[e] = t[l];                                                                             \
                    }                                                                                            \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
    }

/* ---- NT: C = alpha·A·Bᵀ with B row-major N×K, read as it lies (no transposed copy) --------------------------
 * For few rows of C (inference on small batches) transposing B costs more than the product: batch 1
 * of the reference model spent two thirds of its time re-transposing weights that never change. Here each
 * work-item owns TM rows × TN columns of C as dot products along k, VW floats at a time from
 * both operands (a row of A and a row of B are both contiguous), each of the TM·TN vector sums
 * reduced pairwise at the end, then the same epilogue as gemm_tiled. The summation order differs from
 * gemm_tiled's ascending chain: results agree within the GEMM tolerance, not bit for bit. */
/* Columns of C (rows of B) per work-item, for one row and for eight: TM·TN vector sums stay in registers
 * (8 and 16 of AVX-512's 32; four rows by eight spilled). Eight rows a work-item read each B row for
 * at most two groups of rows at batch 16: the weights (1.7 MB for the reference model) outgrow L2, so
 * every extra pass over them is a pass from L3. */
#ifndef CLAE_GEMM_NT1_TN
#define CLAE_GEMM_NT1_TN 8
#endif
#ifndef CLAE_GEMM_NT8_TN
#define CLAE_GEMM_NT8_TN 2
#endif
#if CLAE_GEMM_NT1_TN > 16 || 8 * CLAE_GEMM_NT8_TN > 16
#error "the NT kernels finish at most sixteen outputs a work-item: CLAE_GEMM_NT1_TN <= 16, CLAE_GEMM_NT8_TN <= 2"
#endif

/* The sum of a vector's lanes, halves added pairwise (a fixed order on every run). */
CLAE_INLINE float gemm_hsum(gemm_vec v)
{
#if CLAE_GEMM_VW == 16
    float8 h8 = v.lo + v.hi;
#else
    float8 h8 = v;
#endif
    float4 h4 = h8.lo + h8.hi;
    float2 h2 = h4.lo + h4.hi;
    return h2.lo + h2.hi;
}

/* Lanes of a row segment at k ≥ K read nothing and hold 0. */
CLAE_INLINE gemm_vec gemm_load_k(__global const float *p, ulong k, ulong K)
{
    if (k + CLAE_GEMM_VW <= K) return GEMM_VLOAD(0, p);
    float t[CLAE_GEMM_VW];
    for (int l = 0; l < CLAE_GEMM_VW; l++) t[l] = k + (ulong)l < K ? p[l] : 0.0f;
    return GEMM_VLOAD(0, t);
}

/* The body of an NT kernel, TM rows by TN columns a work-item (the kernels are spelled out in gemm_nt.cl, so
 * a scan of the sources finds their names). */
#define GEMM_NT_BODY(TM, TN)                                                                                      \
    {                                                                                                              \
        ulong j0 = get_global_id(0) * (TN), i0 = get_global_id(1) * (TM);                              \
        if (j0 >= N || i0 >= M) return;                                                                            \
        __global const float *ar[TM], *br[(TN)];                                                        \
        gemm_vec acc[TM][(TN)];                                                                         \
        _Pragma("unroll") for (int r = 0; r < (TM); r++) ar[r] = A + aoff + min(i0 + (ulong)r, M - 1) * lda;     \
        _Pragma("unroll") for (int c = 0; c < (TN); c++)                                               \
        {                                                                                                          \
            br[c] = B + boff + min(j0 + (ulong)c, N - 1) * ldb;                                                    \
            _Pragma("unroll") for (int r = 0; r < (TM); r++) acc[r][c] = (gemm_vec)(0.0f);                        \
        }                                                                                                          \
        ulong kfull = K / CLAE_GEMM_VW * CLAE_GEMM_VW;                                                            \
        for (ulong k = 0; k < kfull; k += CLAE_GEMM_VW) {                                                         \
            gemm_vec a[TM];                                                                                        \
            _Pragma("unroll") for (int r = 0; r < (TM); r++) a[r] = GEMM_VLOAD(0, ar[r] + k);                     \
            _Pragma("unroll") for (int c = 0; c < (TN); c++)                                           \
            {                                                                                                      \
                gemm_vec b = GEMM_VLOAD(0, br[c] + k);                                                             \
                _Pragma("unroll") for (int r = 0; r < (TM); r++) acc[r][c] = fma(a[r], b, acc[r][c]);             \
            }                                                                                                      \
        }                                                                                                          \
        if (kfull < K) {                                                                                           \
            gemm_vec a[TM];                                                                                        \
            _Pragma("unroll") for (int r = 0; r < (TM); r++) a[r] = gemm_load_k(ar[r] + kfull, kfull, K);         \
            _Pragma("unroll") for (int c = 0; c < (TN); c++)                                           \
            {                                                                                                      \
                gemm_vec b = gemm_load_k(br[c] + kfull, kfull, K);                                                 \
                _Pragma("unroll") for (int r = 0; r < (TM); r++) acc[r][c] = fma(a[r], b, acc[r][c]);             \
            }                                                                                                      \
        }                                                                                                          \
        GEMM_NT_EPILOGUE(TM, TN)                                                                                   \
    }

#if CLAE_GEMM_VW == 16
/* The lane sums of v[0..15] as one vector, lane i the sum of v[i]: halves added pairwise, then even and odd
 * lanes three times (a fixed order). Fifteen vector adds and their shuffles instead of sixteen scalar
 * reductions, and the epilogue then applies the activation to sixteen outputs at once: at batch 16 the
 * reductions and the scalar sigmoid were more than half of the kernel. */
CLAE_INLINE float16 gemm_sums16(const float16 *v)
{
    float16 s1[8], s2[4], s3[2];
    _Pragma("unroll") for (int p = 0; p < 8; p++) s1[p] = (float16)(v[2 * p].lo + v[2 * p].hi, v[2 * p + 1].lo + v[2 * p + 1].hi);
    _Pragma("unroll") for (int q = 0; q < 4; q++)
        s2[q] = (float16)(s1[2 * q].even + s1[2 * q].odd, s1[2 * q + 1].even + s1[2 * q + 1].odd);
    _Pragma("unroll") for (int r = 0; r < 2; r++)
        s3[r] = (float16)(s2[2 * r].even + s2[2 * r].odd, s2[2 * r + 1].even + s2[2 * r + 1].odd);
    return (float16)(s3[0].even + s3[0].odd, s3[1].even + s3[1].odd);
}

/* Up to sixteen outputs of a TM×TN block (lane r·TN + c), reduced together; lanes past M or N are computed
 * from clamped rows and never stored. */
#define GEMM_NT_EPILOGUE(TM, TN)                                                                                  \
    {                                                                                                              \
        float16 v[16];                                                                                             \
        _Pragma("unroll") for (int l = 0; l < 16; l++) v[l] = l < (TM) * (TN) ? acc[l / (TN)][l % (TN)] : (float16)(0.0f); \
        float o[16];                                                                                               \
        vstore16((float16)(alpha) * gemm_sums16(v), 0, o);                                                         \
        _Pragma("unroll") for (int l = 0; l < (TM) * (TN); l++)                                                    \
        {                                                                                                          \
            ulong i = i0 + (ulong)(l / (TN)), j = j0 + (ulong)(l % (TN));                                          \
            if (i >= M || j >= N) continue;                                                                        \
            if (beta != 0.0f) o[l] = o[l] + beta * C[coff + i * ldc + j];                                          \
            if (has_bias) o[l] = o[l] + bias[biasoff + j];                                                         \
            if (has_z) Z[zoff + i * ldc + j] = o[l];                                                               \
        }                                                                                                          \
        if (act >= 0) vstore16(gemm_act(act, vload16(0, o)), 0, o);                                                \
        _Pragma("unroll") for (int l = 0; l < (TM) * (TN); l++)                                                    \
        {                                                                                                          \
            ulong i = i0 + (ulong)(l / (TN)), j = j0 + (ulong)(l % (TN));                                          \
            if (i < M && j < N) C[coff + i * ldc + j] = o[l];                                                      \
        }                                                                                                          \
    }
#else
/* Narrower vectors: each output reduced and finished on its own. */
#define GEMM_NT_EPILOGUE(TM, TN)                                                                                  \
    _Pragma("unroll") for (int r = 0; r < (TM); r++)                                                              \
    {                                                                                                              \
        ulong i = i0 + (ulong)r;                                                                                   \
        if (i >= M) break;                                                                                         \
        _Pragma("unroll") for (int c = 0; c < (TN); c++)                                                          \
        {                                                                                                          \
            ulong j = j0 + (ulong)c;                                                                               \
            if (j >= N) break;                                                                                     \
            __global float *cij = C + coff + i * ldc + j;                                                          \
            float o = alpha * gemm_hsum(acc[r][c]);                                                                \
            if (beta != 0.0f) o = o + beta * *cij;                                                                 \
            if (has_bias) o = o + bias[biasoff + j];                                                               \
            if (has_z) Z[zoff + i * ldc + j] = o;                                                                  \
            *cij = act >= 0 ? gemm_act1(act, o) : o;                                                               \
        }                                                                                                          \
    }
#endif

#define GEMM_NT_ARGS                                                                                              \
    ulong M, ulong N, ulong K, float alpha, __global const float *A, ulong aoff, ulong lda, __global const float *B, \
        ulong boff, ulong ldb, float beta, __global float *C, ulong coff, ulong ldc, __global const float *bias,   \
        ulong biasoff, int has_bias, __global float *Z, ulong zoff, int has_z, int act

