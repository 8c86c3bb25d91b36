/* test_ops.c — the ops suite: every OpenCL op against the plain-C reference on identical inputs,
 * plus known answers (Philox vectors, hand-worked GEMMs and optimizer steps, stable losses). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ops/gemm/gemm.h"
#include "ops/gemm/gemm_tune.h"
#include "ops/ops.h"
#include "test_ops_kit.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static void assert_finite(const float *x, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) ck_assert_msg(isfinite(x[i]), "%s[%zu] = %g is not finite", what, i, (double)x[i]);
}

/* ---- Philox (Salmon et al. 2011): known answers (Random123) on the host and both op paths --- */

static const uint32_t kat_ctr[12] = {0,          0,          0,          0,          0xffffffffu, 0xffffffffu,
                                     0xffffffffu, 0xffffffffu, 0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
static const uint32_t kat_key[3][2] = {{0, 0}, {0xffffffffu, 0xffffffffu}, {0xa4093822u, 0x299f31d0u}};
static const uint32_t kat_out[12] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u, 0x408f276du, 0x41c83b0eu,
                                     0xa20bc7c6u, 0x6d5451fdu, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u};

START_TEST(test_philox_kat)
{
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        clae_philox4x32_10(kat_ctr + 4 * v, kat_key[v], out);
        for (int j = 0; j < 4; j++)
            ck_assert_msg(out[j] == kat_out[4 * v + j], "host vector %d word %d: %08x", v, j, out[j]);
        for (int p = 0; p < 2; p++) {
            uint32_t dev[4] = {0};
            OK(clae_op_philox(test_rt(p), kat_ctr + 4 * v, kat_key[v], dev, 1));
            for (int j = 0; j < 4; j++)
                ck_assert_msg(dev[j] == kat_out[4 * v + j], "%s vector %d word %d: %08x", ops_of(p)->name, v, j,
                              dev[j]);
        }
    }
    /* Several counters in one launch, one key: each must match the host word for word. */
    enum { N = 37 };
    uint32_t ctr[4 * N], want[4 * N], got[4 * N];
    const uint32_t key[2] = {0xdeadbeefu, 0x01234567u};
    for (uint32_t i = 0; i < 4 * N; i++) ctr[i] = i * 0x9e3779b9u;
    for (int i = 0; i < N; i++) clae_philox4x32_10(ctr + 4 * i, key, want + 4 * i);
    OK(clae_op_philox(test_rt_cl(), ctr, key, got, N));
    ck_assert(memcmp(got, want, sizeof want) == 0);
}
END_TEST

/* ---- init_uniform (Glorot/He uniform): bit-identical on both paths --------------------------- */

START_TEST(test_init_uniform)
{
    const size_t n = 785 * 33 + 1;
    const uint64_t seed = 0x0123456789abcdefull; /* both key words non-zero */
    const float a = 0.25f;
    float *out[2] = {fmalloc(n), fmalloc(n)}, *other = fmalloc(n);
    for (int p = 0; p < 2; p++) {
        tbuf t = tb_new(test_rt(p), NULL, n);
        OK(clae_op_init_uniform(test_rt(p), t.b, n, seed, 3, a));
        tb_get(&t, out[p]);
        tb_free(&t);
    }
    ck_assert_msg(memcmp(out[0], out[1], n * sizeof(float)) == 0, "init_uniform differs between paths");

    /* The formula itself, for a few elements, straight from the host Philox. */
    const size_t probe[3] = {0, 1, n - 1};
    for (int i = 0; i < 3; i++) {
        size_t e = probe[i];
        const uint32_t ctr[4] = {(uint32_t)e, 0, 3, 9}, key[2] = {0x89abcdefu, 0x01234567u};
        uint32_t w[4];
        clae_philox4x32_10(ctr, key, w);
        float want = a * (2.0f * ((float)(w[0] >> 8) * 0x1p-24f) - 1.0f);
        ck_assert_msg(out[0][e] == want, "element %zu: %g, want %g", e, (double)out[0][e], (double)want);
    }

    /* U(−a, a): inside the range, mean within 4 standard errors of 0 (σ = a/√3). */
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        ck_assert(out[0][i] >= -a && out[0][i] <= a);
        sum += out[0][i];
    }
    double mean = sum / (double)n, se = (double)a / sqrt(3.0 * (double)n);
    ck_assert_msg(fabs(mean) < 4.0 * se, "mean %g, standard error %g", mean, se);

    /* Another layer id is another stream. */
    tbuf t = tb_new(test_rt_cl(), NULL, n);
    OK(clae_op_init_uniform(test_rt_cl(), t.b, n, seed, 4, a));
    tb_get(&t, other);
    tb_free(&t);
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += other[i] == out[0][i];
    ck_assert_msg(same < n / 100, "%zu of %zu values equal across layer ids", same, n);
    free(out[0]);
    free(out[1]);
    free(other);
}
END_TEST

/* ---- GEMM ------------------------------------------------------------------------------------ */

/* Every GEMM test runs on three paths: q = 0 is the reference on cpu-ref, q = 1, 2 the OpenCL ops
 * with each OpenCL engine in turn. The runtime picks one engine per device, so the other one is
 * lent to it call by call through rt->gemm: both are checked on the device under test. */
static const clae_gemm_engine *const cl_engines[] = {&clae_gemm_tiled, &clae_gemm_clblast};
#define GEMM_PATHS 3

static const char *gemm_path_name(int q) { return q ? cl_engines[q - 1]->name : "ref"; }

/* clae_op_gemm on path q with the engine swapped in only for the call, so a failing check cannot
 * leave the shared runtime on the wrong engine. */
static clae_status gemm_on(int q, int ta, int tb, size_t M, size_t N, size_t K, float alpha, clae_buf A,
                           size_t lda, clae_buf B, size_t ldb, float beta, clae_buf C, size_t ldc)
{
    clae_runtime *rt = test_rt(q > 0);
    const clae_gemm_engine *saved = rt->gemm;
    if (q > 0) rt->gemm = cl_engines[q - 1];
    clae_status s = clae_op_gemm(rt, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    rt->gemm = saved;
    return s;
}

/* Runs C = alpha·op(A)·op(B) + beta·C on path q and returns C (M×ldc floats). */
static void run_gemm(int q, int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                     const float *B, size_t ldb, float beta, const float *C0, size_t ldc, float *C)
{
    clae_runtime *rt = test_rt(q > 0);
    size_t na = (ta ? K : M) * lda, nb = (tb ? N : K) * ldb, nc = M * ldc;
    tbuf a = tb_new(rt, A, na), b = tb_new(rt, B, nb), c = tb_new(rt, C0, nc);
    OK(gemm_on(q, ta, tb, M, N, K, alpha, a.b, lda, b.b, ldb, beta, c.b, ldc));
    tb_get(&c, C);
    tb_free(&a);
    tb_free(&b);
    tb_free(&c);
}

START_TEST(test_gemm_known)
{
    /* A = [1 2; 3 4], B = [5 6; 7 8]: small integers, so every path is exact. */
    const float A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8}, zero[4] = {0};
    const float want[4][4] = {{19, 22, 43, 50}, {17, 23, 39, 53}, {26, 30, 38, 44}, {23, 31, 34, 46}};
    for (int q = 0; q < GEMM_PATHS; q++)
        for (int t = 0; t < 4; t++) {
            float C[4];
            run_gemm(q, t >> 1, t & 1, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, zero, 2, C);
            for (int i = 0; i < 4; i++)
                ck_assert_msg(C[i] == want[t][i], "%s op %c%c C[%d] = %g, want %g", gemm_path_name(q),
                              (t >> 1) ? 'T' : 'N', (t & 1) ? 'T' : 'N', i, (double)C[i], (double)want[t][i]);
        }
}
END_TEST

START_TEST(test_gemm_vs_ref)
{
    /* Shapes off every tile size (the tiled engine's 8×32 tiles and CLBlast's), some wide enough
     * for full and partial tiles side by side; ld = minimal + 3 on odd shapes to exercise strides.
     * NT with M ≤ 16 takes the tiled engine's NT kernels (M = 1: one row a work-item; 7, 16: four, the
     * last group partial or full), K off their 16-wide steps; M = 17 is the first the transposed copy serves. */
    static const size_t shapes[8][3] = {{7, 33, 257}, {1, 785, 33}, {33, 1, 7}, {257, 7, 785}, {257, 785, 33},
                                        {33, 257, 785}, {16, 9, 64}, {17, 9, 63}};
    for (int s = 0; s < 8; s++)
        for (int t = 0; t < 4; t++) {
            int ta = t >> 1, tb = t & 1;
            size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], pad = (s & 1) ? 3 : 0;
            size_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
            float *A = uniform((ta ? K : M) * lda, 11u + (uint32_t)s, -1, 1);
            float *B = uniform((tb ? N : K) * ldb, 22u + (uint32_t)s, -1, 1);
            float *C0 = uniform(M * ldc, 33u + (uint32_t)s, -1, 1);
            float *ref = fmalloc(M * ldc), *C = fmalloc(M * ldc);
            run_gemm(0, ta, tb, M, N, K, 0.75f, A, lda, B, ldb, 0.5f, C0, ldc, ref);
            for (int q = 1; q < GEMM_PATHS; q++) {
                run_gemm(q, ta, tb, M, N, K, 0.75f, A, lda, B, ldb, 0.5f, C0, ldc, C);
                /* Float accumulation of K products of magnitude ≤ 1 against the double reference:
                 * atol 1e-6·K stays well above its typical error (~ε·√K·|C|) and far below any
                 * indexing mistake, which is O(1). Padding columns must come back untouched. */
                long bad = test_first_mismatch(C, ref, M * ldc, 1e-6 * (double)K + 1e-6, 1e-5);
                ck_assert_msg(bad < 0, "%s %c%c M=%zu N=%zu K=%zu: C[%ld] = %.9g, ref %.9g", gemm_path_name(q),
                              ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, bad, bad < 0 ? 0.0 : (double)C[bad],
                              bad < 0 ? 0.0 : (double)ref[bad]);
                for (size_t i = 0; i < M; i++)
                    for (size_t j = N; j < ldc; j++) ck_assert(C[i * ldc + j] == C0[i * ldc + j]);
            }
            free(A);
            free(B);
            free(C0);
            free(ref);
            free(C);
        }
}
END_TEST

START_TEST(test_gemm_edges)
{
    const size_t M = 7, N = 33;
    float *A = uniform(M * 5, 1, -1, 1), *B = uniform(5 * N, 2, -1, 1), *C0 = fmalloc(M * N), *C = fmalloc(M * N);
    for (int q = 0; q < GEMM_PATHS; q++) {
        const char *name = gemm_path_name(q);
        /* beta = 0: C is write-only, so NaN already there must not survive (BLAS convention). */
        for (size_t i = 0; i < M * N; i++) C0[i] = NAN;
        run_gemm(q, 0, 0, M, N, 5, 1.0f, A, 5, B, N, 0.0f, C0, N, C);
        assert_finite(C, M * N, name);
        /* K = 0: the product is empty, leaving C = beta·C — zeros for beta = 0, even over NaN. */
        run_gemm(q, 1, 1, M, N, 0, 1.0f, A, M, B, 1, 0.0f, C0, N, C);
        for (size_t i = 0; i < M * N; i++) ck_assert_msg(C[i] == 0.0f, "%s K=0 beta=0 at %zu", name, i);
        test_fill_uniform(C0, M * N, 3, -1, 1);
        run_gemm(q, 0, 1, M, N, 0, 1.0f, A, 1, B, 1, 0.5f, C0, N, C);
        for (size_t i = 0; i < M * N; i++) ck_assert_msg(C[i] == 0.5f * C0[i], "%s K=0 at %zu", name, i);
        /* M = 0 and N = 0 are no-ops. */
        run_gemm(q, 0, 0, 0, N, 5, 1.0f, A, 5, B, N, 0.0f, C0, N, C);
        run_gemm(q, 0, 0, M, 0, 5, 1.0f, A, 5, B, 1, 0.0f, C0, 1, C);
        for (size_t i = 0; i < M; i++) ck_assert(C[i] == C0[i]);
    }
    free(A);
    free(B);
    free(C0);
    free(C);
}
END_TEST

/* The BLAS rules on shapes with full and partial tiles, every transpose, both engines: beta = 0
 * over NaN in C, alpha ≠ 1 with beta = 0 and with beta ≠ 0, each against the reference. */
START_TEST(test_gemm_alpha_beta)
{
    const size_t M = 19, N = 45, K = 37; /* 2 full rows of 8 + 3, 1 full column tile of 32 + 13 */
    static const float ab[3][2] = {{-1.25f, 0.0f}, {2.0f, -0.75f}, {0.5f, 1.0f}};
    float *A = uniform(M * K, 41, -1, 1), *B = uniform(K * N, 42, -1, 1), *C0 = uniform(M * N, 43, -1, 1);
    float *nan0 = fmalloc(M * N), *ref = fmalloc(M * N), *C = fmalloc(M * N);
    for (size_t i = 0; i < M * N; i++) nan0[i] = NAN;
    for (int t = 0; t < 4; t++)
        for (int v = 0; v < 3; v++) {
            int ta = t >> 1, tb = t & 1;
            float alpha = ab[v][0], beta = ab[v][1];
            const float *c0 = beta == 0.0f ? nan0 : C0;
            run_gemm(0, ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, c0, N, ref);
            for (int q = 1; q < GEMM_PATHS; q++) {
                run_gemm(q, ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, c0, N, C);
                long bad = test_first_mismatch(C, ref, M * N, 1e-6 * (double)K + 1e-6, 1e-5);
                ck_assert_msg(bad < 0, "%s %c%c alpha=%g beta=%g: C[%ld] = %.9g, ref %.9g", gemm_path_name(q),
                              ta ? 'T' : 'N', tb ? 'T' : 'N', (double)alpha, (double)beta, bad,
                              bad < 0 ? 0.0 : (double)C[bad], bad < 0 ? 0.0 : (double)ref[bad]);
            }
        }
    free(A);
    free(B);
    free(C0);
    free(nan0);
    free(ref);
    free(C);
}
END_TEST

/* The tiled engine transposes Bᵀ into a workspace: a lent one of the size it asks for, one too
 * small (it then allocates its own) and none must give the same bits, run after run. */
START_TEST(test_gemm_tiled_workspace)
{
    clae_runtime *rt = test_rt_cl();
    const size_t M = 17, N = 70, K = 33; /* M > 16: not the NT kernels, which need no copy */
    float *A = uniform(M * K, 51, -1, 1), *B = uniform(N * K, 52, -1, 1), *want = fmalloc(M * N),
          *got = fmalloc(M * N);
    size_t bytes = clae_gemm_tiled.workspace_bytes(rt, 0, 1, M, N, K, K, K, N);
    ck_assert_uint_eq(bytes, N * K * sizeof(float));
    ck_assert_uint_eq(clae_gemm_tiled.workspace_bytes(rt, 1, 0, M, N, K, M, N, N), 0);
    ck_assert_uint_eq(clae_gemm_tiled.workspace_bytes(rt, 0, 1, 16, N, K, K, K, N), 0);
    clae_buf ws;
    OK(clae_buf_alloc(rt, N * K, &ws));
    /* none, exactly enough, one byte short, none again */
    cl_mem lent[4] = {NULL, ws.mem, ws.mem, NULL};
    size_t lent_bytes[4] = {0, bytes, bytes - 1, 0};
    for (int i = 0; i < 4; i++) {
        clae_rt_set_gemm_workspace(rt, lent[i], lent_bytes[i]);
        run_gemm(1, 0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, NULL, N, i ? got : want);
        clae_rt_set_gemm_workspace(rt, NULL, 0);
        if (i) ck_assert_msg(memcmp(got, want, M * N * sizeof(float)) == 0, "workspace case %d differs", i);
    }
    clae_buf_free(&ws);
    free(A);
    free(B);
    free(want);
    free(got);
}
END_TEST

/* The tuner's tiles sum every element of C in the same ascending-k chain of fmas, so forcing each of them
 * gives the device tile's bits exactly, whatever the layout, edge or epilogue: a tile choice can change the
 * speed of a run and never its numbers. */
START_TEST(test_gemm_tiles_same_bits)
{
    clae_runtime *rt = test_rt_cl();
    static const size_t shapes[4][3] = {{7, 33, 257}, {19, 45, 37}, {257, 70, 64}, {40, 785, 33}};
    for (int sh = 0; sh < 4; sh++)
        for (int t = 0; t < 4; t++) {
            int ta = t >> 1, tb = t & 1;
            size_t M = shapes[sh][0], N = shapes[sh][1], K = shapes[sh][2];
            float *A = uniform(M * K, 71u + (uint32_t)sh, -1, 1), *B = uniform(K * N, 72u + (uint32_t)sh, -1, 1);
            float *C0 = uniform(M * N, 73u + (uint32_t)sh, -1, 1), *want = fmalloc(M * N), *got = fmalloc(M * N);
            for (int v = 0; v < CLAE_GEMM_TILES; v++) {
                clae_gemm_tiled_force(rt, v);
                run_gemm(1, ta, tb, M, N, K, 0.75f, A, ta ? M : K, B, tb ? K : N, 0.5f, C0, N, v ? got : want);
                clae_gemm_tiled_force(rt, -1);
                if (v) assert_bits(got, want, M * N, clae_gemm_tiled.name, 1);
            }
            free(A);
            free(B);
            free(C0);
            free(want);
            free(got);
        }
}
END_TEST

/* A shape's first run searches the tiles (each timed), and the choice is stored with the program cache: a
 * second runtime on the same cache reads it back and searches nothing; CLAE_GEMM_TUNE=off searches nothing
 * and takes the device's tile; the runtime's report lists the shape. */
START_TEST(test_gemm_tile_table)
{
    clae_device_info info;
    OK(clae_runtime_device(test_rt_cl(), &info));
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_tmp_path("tiles"));
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    const char *was = getenv("CLAE_CACHE_DIR");
    char *saved = was ? strdup(was) : NULL;
    ck_assert_int_eq(setenv("CLAE_CACHE_DIR", dir, 1), 0);
    const size_t M = 23, N = 41, K = 19;
    float *A = uniform(M * K, 81, -1, 1), *B = uniform(K * N, 82, -1, 1), *C = fmalloc(M * N);
    int chosen = -1;
    for (int run = 0; run < 3; run++) {
        if (run == 2) ck_assert_int_eq(setenv("CLAE_GEMM_TUNE", "off", 1), 0);
        clae_runtime *rt = NULL;
        OK(clae_runtime_open(info.id, &rt));
        if (rt->gemm != &clae_gemm_tiled) { /* a GPU: CLBlast, no table */
            clae_runtime_close(rt);
            break;
        }
        clae_gemm_tune *t = clae_gemm_tune_of(rt);
        ck_assert_ptr_nonnull(t);
        const clae_gemm_tile_choice *before = clae_gemm_tune_find(t, 0, M, N, K);
        tbuf a = tb_new(rt, A, M * K), b = tb_new(rt, B, K * N), c = tb_new(rt, NULL, M * N);
        OK(clae_op_gemm(rt, 0, 0, M, N, K, 1.0f, a.b, K, b.b, N, 0.0f, c.b, N));
        tb_get(&c, C);
        tb_free(&a);
        tb_free(&b);
        tb_free(&c);
        const clae_gemm_tile_choice *after = clae_gemm_tune_find(t, 0, M, N, K);
        if (run == 0) {
            ck_assert_ptr_null(before);
            ck_assert_int_eq(t->searched, 1);
            ck_assert_ptr_nonnull(after);
            ck_assert(!after->loaded && after->variant >= 0 && after->variant < CLAE_GEMM_TILES);
            for (int v = 0; v < CLAE_GEMM_TILES; v++) {
                ck_assert_msg(after->ns[v] > 0 && after->ns[v] < UINT64_MAX, "tile %d untimed", v);
                ck_assert(after->ns[after->variant] <= after->ns[v]); /* the fastest won */
            }
            chosen = after->variant;
            char report[8192];
            OK(clae_runtime_gemm_report(rt, report, sizeof report));
            ck_assert_msg(strstr(report, "NN M=23 N=41 K=19: tiled: tile ") && strstr(report, dir), "%s", report);
        } else if (run == 1) {
            ck_assert_ptr_nonnull(before);
            ck_assert(before->loaded && before->variant == chosen);
            ck_assert_int_eq(t->searched, 0);
        } else {
            ck_assert_int_eq(t->searched, 0);
            char how[256];
            clae_op_gemm_describe(rt, 0, 0, 5, 6, 7, how, sizeof how);
            ck_assert_msg(strstr(how, "CLAE_GEMM_TUNE=off"), "%s", how);
        }
        clae_runtime_close(rt);
    }
    unsetenv("CLAE_GEMM_TUNE");
    if (saved) ck_assert_int_eq(setenv("CLAE_CACHE_DIR", saved, 1), 0);
    else unsetenv("CLAE_CACHE_DIR");
    free(saved);
    free(A);
    free(B);
    free(C);
}
END_TEST

/* The engine table (lib/ops/ops_select.c): CPU devices get the tiled engine unless CLAE_GEMM says
 * otherwise; an unknown CLAE_GEMM fails the open, naming the variable and the choices. */
START_TEST(test_gemm_engine_choice)
{
    clae_runtime *rt = NULL;
    clae_device_info info;
    OK(clae_runtime_device(test_rt_cl(), &info));
    const char *env = getenv("CLAE_GEMM");
    char *saved = env ? strdup(env) : NULL;
    ck_assert(setenv("CLAE_GEMM", "cublas", 1) == 0);
    ck_assert(clae_runtime_open("cpu-ref", &rt) == CLAE_ERR_ARG && rt == NULL);
    const char *msg = clae_last_error();
    ck_assert_msg(strstr(msg, "CLAE_GEMM=cublas") && strstr(msg, "clblast") && strstr(msg, "tiled"), "%s", msg);
    static const char *const names[2] = {"clblast", "tiled"};
    for (int i = 0; i < 2; i++) {
        ck_assert(setenv("CLAE_GEMM", names[i], 1) == 0);
        OK(clae_runtime_open(info.id, &rt));
        ck_assert_str_eq(rt->gemm->name, names[i]);
        clae_runtime_close(rt);
    }
    ck_assert(unsetenv("CLAE_GEMM") == 0);
    OK(clae_runtime_open(info.id, &rt));
    ck_assert_str_eq(rt->gemm->name, info.type == CLAE_DEVICE_CPU ? "tiled" : "clblast");
    clae_runtime_close(rt);
    if (saved) ck_assert(setenv("CLAE_GEMM", saved, 1) == 0);
    free(saved);
}
END_TEST

/* The dense forward C = f(op(A)·op(B) + bias), Z keeping the pre-activation or not, on every path: the
 * tiled engine's fused epilogue gives the same Z bits as its plain GEMM followed by bias_add, and C within
 * a few ulp of act_forward's (the same bits for relu and linear),
 * CLBlast (which composes those ops) and the fused path agree with the reference within the GEMM
 * tolerance, and guards around every buffer stay untouched (tb_get). */
static void run_bias_act(int q, int tb, size_t M, size_t N, size_t K, const float *A, const float *B,
                         const float *bias, clae_activation f, int keep_z, int fused, float *C, float *Z)
{
    clae_runtime *rt = test_rt(q > 0);
    const clae_gemm_engine *saved = rt->gemm;
    if (q > 0) rt->gemm = cl_engines[q - 1];
    tbuf a = tb_new(rt, A, M * K), b = tb_new(rt, B, K * N), bb = tb_new(rt, bias, N), c = tb_new(rt, NULL, M * N),
         z = tb_new(rt, NULL, M * N);
    clae_status s;
    if (fused) {
        const clae_buf none = {0};
        s = clae_op_gemm_bias_act(rt, 0, tb, M, N, K, a.b, K, b.b, tb ? K : N, bb.b, f, keep_z ? z.b : none, c.b);
    } else {
        s = clae_op_gemm(rt, 0, tb, M, N, K, 1.0f, a.b, K, b.b, tb ? K : N, 0.0f, z.b, N);
        if (s == CLAE_OK) s = clae_op_bias_add(rt, z.b, bb.b, M, N);
        if (s == CLAE_OK) s = clae_op_act_forward(rt, f, z.b, c.b, M * N);
    }
    rt->gemm = saved;
    OK(s);
    tb_get(&c, C);
    tb_get(&z, Z);
    tb_free(&a);
    tb_free(&b);
    tb_free(&bb);
    tb_free(&c);
    tb_free(&z);
}

/* The fused epilogue under every tile: which columns a tile finishes as an edge depends on its width, so the
 * edge lanes take the same vector activation as full ones and a tile choice never changes C's or Z's bits
 * (two cold processes searching their own tiles trained different weights before). */
START_TEST(test_gemm_bias_act_tiles_same_bits)
{
    clae_runtime *rt = test_rt_cl();
    if (rt->gemm != &clae_gemm_tiled) return; /* a GPU: CLBlast has no tiles */
    static const size_t shapes[3][3] = {{32, 784, 16}, {19, 45, 37}, {40, 785, 33}};
    static const clae_activation acts[4] = {CLAE_ACT_SIGMOID, CLAE_ACT_TANH, CLAE_ACT_RELU, CLAE_ACT_LINEAR};
    for (int sh = 0; sh < 3; sh++)
        for (int a = 0; a < 4; a++)
            for (int tb = 0; tb < 2; tb++) {
                size_t M = shapes[sh][0], N = shapes[sh][1], K = shapes[sh][2];
                float *A = uniform(M * K, 81u + (uint32_t)sh, -2, 2), *B = uniform(K * N, 82u + (uint32_t)sh, -2, 2);
                float *bias = uniform(N, 83u + (uint32_t)sh, -1, 1);
                float *C0 = fmalloc(M * N), *Z0 = fmalloc(M * N), *C = fmalloc(M * N), *Z = fmalloc(M * N);
                for (int v = 0; v < CLAE_GEMM_TILES; v++) {
                    clae_gemm_tiled_force(rt, v);
                    run_bias_act(1, tb, M, N, K, A, B, bias, acts[a], 1, 1, v ? C : C0, v ? Z : Z0);
                    clae_gemm_tiled_force(rt, -1);
                    if (v) {
                        assert_bits(Z, Z0, M * N, "tile's Z", 1);
                        assert_bits(C, C0, M * N, clae_activation_name(acts[a]), 1);
                    }
                }
                free(A);
                free(B);
                free(bias);
                free(C0);
                free(Z0);
                free(C);
                free(Z);
            }
}
END_TEST

START_TEST(test_gemm_bias_act)
{
    /* Full and partial 8×32 tiles, one row, K below and above a vector width. */
    static const size_t shapes[4][3] = {{7, 33, 257}, {1, 785, 33}, {19, 45, 37}, {33, 70, 64}};
    for (int s = 0; s < 4; s++) {
        size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = uniform(M * K, 61u + (uint32_t)s, -1, 1), *B = uniform(K * N, 62u + (uint32_t)s, -1, 1);
        float *bias = uniform(N, 63u + (uint32_t)s, -1, 1);
        float *ref = fmalloc(M * N), *zref = fmalloc(M * N), *C = fmalloc(M * N), *Z = fmalloc(M * N),
              *Cu = fmalloc(M * N), *Zu = fmalloc(M * N);
        for (int tb = 0; tb < 2; tb++)
            for (int f = 0; f < CLAE_ACT_COUNT; f++)
                for (int keep_z = 0; keep_z < 2; keep_z++) {
                    const char *act = clae_activation_name((clae_activation)f);
                    run_bias_act(0, tb, M, N, K, A, B, bias, (clae_activation)f, keep_z, 1, ref, zref);
                    for (int q = 1; q < GEMM_PATHS; q++) {
                        run_bias_act(q, tb, M, N, K, A, B, bias, (clae_activation)f, keep_z, 1, C, Z);
                        /* The GEMM tolerance, and a few ulp more for exp and tanh against libm. */
                        long bad = test_first_mismatch(C, ref, M * N, 1e-6 * (double)K + 1e-6, 2e-5);
                        ck_assert_msg(bad < 0, "%s N%c %s M=%zu N=%zu K=%zu: C[%ld] = %.9g, ref %.9g",
                                      gemm_path_name(q), tb ? 'T' : 'N', act, M, N, K, bad,
                                      bad < 0 ? 0.0 : (double)C[bad], bad < 0 ? 0.0 : (double)ref[bad]);
                        if (keep_z) ck_assert_allclose(Z, zref, M * N, 1e-6 * (double)K + 1e-6, 1e-5);
                        else
                            for (size_t i = 0; i < M * N; i++) ck_assert_msg(Z[i] == 0.0f, "Z written unasked");
                        run_bias_act(q, tb, M, N, K, A, B, bias, (clae_activation)f, keep_z, 0, Cu, Zu);
                        /* relu and linear are the same float operations: bit for bit. The epilogue's sigmoid
                         * and tanh take PoCL's vector exp and tanh, which may round a lane an ulp away from
                         * the scalar builtins of act_forward: within 4 ulp. */
                        if (f == CLAE_ACT_RELU || f == CLAE_ACT_LINEAR)
                            assert_bits(C, Cu, M * N, "fused C against gemm, bias_add, act_forward", 1);
                        else
                            ck_assert_allclose(C, Cu, M * N, 0.0, 5e-7);
                        if (keep_z) assert_bits(Z, Zu, M * N, "fused Z against gemm, bias_add", 1);
                    }
                }
        free(A);
        free(B);
        free(bias);
        free(ref);
        free(zref);
        free(C);
        free(Z);
        free(Cu);
        free(Zu);
    }
}
END_TEST

/* ---- dense layer: bias add, activations ------------------------------------------------------ */

START_TEST(test_bias_add)
{
    static const size_t shapes[3][2] = {{33, 257}, {1, 785}, {257, 7}};
    for (int s = 0; s < 3; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
        float *Z = uniform(n, 5, -2, 2), *b = uniform(cols, 6, -1, 1), *out[2] = {fmalloc(n), fmalloc(n)};
        for (int p = 0; p < 2; p++) {
            tbuf z = tb_new(test_rt(p), Z, n), bb = tb_new(test_rt(p), b, cols);
            OK(clae_op_bias_add(test_rt(p), z.b, bb.b, rows, cols));
            tb_get(&z, out[p]);
            tb_free(&z);
            tb_free(&bb);
        }
        /* One float addition per element on both paths: exact. */
        ck_assert_allclose(out[1], out[0], n, 0.0, 0.0);
        ck_assert(out[0][n - 1] == Z[n - 1] + b[cols - 1]);
        free(Z);
        free(b);
        free(out[0]);
        free(out[1]);
    }
}
END_TEST

/* Inputs for the activations: uniform in [−8, 8] plus the points where things go wrong. */
static float *act_inputs(size_t n)
{
    float *z = uniform(n, 7, -8, 8);
    const float special[] = {0.0f, -0.0f, 50.0f, -50.0f, 88.0f, -88.0f, 1e-3f, -1e-3f, 1e-30f, -1e-30f};
    memcpy(z, special, sizeof special);
    return z;
}

START_TEST(test_act_forward)
{
    const size_t n = 785;
    float *Z = act_inputs(n), *out[2] = {fmalloc(n), fmalloc(n)}, *inplace = fmalloc(n);
    for (int f = 0; f < CLAE_ACT_COUNT; f++) {
        for (int p = 0; p < 2; p++) {
            tbuf z = tb_new(test_rt(p), Z, n), a = tb_new(test_rt(p), NULL, n);
            OK(clae_op_act_forward(test_rt(p), (clae_activation)f, z.b, a.b, n));
            tb_get(&a, out[p]);
            if (p == 1) { /* A may alias Z */
                OK(clae_op_act_forward(test_rt(p), (clae_activation)f, z.b, z.b, n));
                tb_get(&z, inplace);
            }
            tb_free(&z);
            tb_free(&a);
            assert_finite(out[p], n, clae_activation_name((clae_activation)f));
        }
        /* exp/tanh may differ by an ulp or two between libm and the OpenCL builtins; the
         * relative tolerance 2e-6 allows a few ulp and holds for tiny values like σ(−50). */
        ck_assert_allclose(out[1], out[0], n, 1e-37, 2e-6);
        ck_assert(memcmp(inplace, out[1], n * sizeof(float)) == 0);
    }
    /* Known values at the special points, on the reference: σ(0) = ½, σ(±50) stays in (0, 1]. */
    OK(clae_op_act_forward(test_rt_ref(), CLAE_ACT_SIGMOID, (clae_buf){Z, NULL, 0, n, 0},
                                (clae_buf){out[0], NULL, 0, n, 0}, n));
    ck_assert(out[0][0] == 0.5f && out[0][2] == 1.0f && out[0][3] > 0.0f && out[0][3] < 1e-21f);
    OK(clae_op_act_forward(test_rt_ref(), CLAE_ACT_RELU, (clae_buf){Z, NULL, 0, n, 0},
                                (clae_buf){out[0], NULL, 0, n, 0}, n));
    ck_assert(out[0][0] == 0.0f && out[0][1] == 0.0f && out[0][2] == 50.0f && out[0][3] == 0.0f);
    free(Z);
    free(out[0]);
    free(out[1]);
    free(inplace);
}
END_TEST

START_TEST(test_act_backward)
{
    const size_t n = 785;
    float *Z = act_inputs(n), *A = fmalloc(n), *G = uniform(n, 8, -1, 1), *out[2] = {fmalloc(n), fmalloc(n)};
    for (int f = 0; f < CLAE_ACT_COUNT; f++) {
        /* The cached outputs A come from the reference forward pass, so relu has exact zeros. */
        OK(clae_op_act_forward(test_rt_ref(), (clae_activation)f, (clae_buf){Z, NULL, 0, n, 0},
                                    (clae_buf){A, NULL, 0, n, 0}, n));
        for (int p = 0; p < 2; p++) {
            tbuf a = tb_new(test_rt(p), A, n), g = tb_new(test_rt(p), G, n);
            OK(clae_op_act_backward(test_rt(p), (clae_activation)f, a.b, g.b, n));
            tb_get(&g, out[p]);
            tb_free(&a);
            tb_free(&g);
        }
        /* G·f'(a) is the same two or three float operations on both paths. */
        ck_assert_allclose(out[1], out[0], n, 0.0, 1e-6);
        for (size_t i = 0; i < n; i++) {
            if (f == CLAE_ACT_LINEAR) ck_assert(out[1][i] == G[i]);
            /* relu' is 0 at z = 0 exactly (a = 0), and 1 where a > 0. */
            if (f == CLAE_ACT_RELU) ck_assert(A[i] > 0.0f ? out[1][i] == G[i] : out[1][i] == 0.0f);
            if (f == CLAE_ACT_SIGMOID) ck_assert(fabsf(out[1][i]) <= 0.25f * fabsf(G[i]));
        }
    }
    free(Z);
    free(A);
    free(G);
    free(out[0]);
    free(out[1]);
}
END_TEST

/* ---- losses ------------------------------------------------------------------------------------ */

START_TEST(test_loss_rows)
{
    static const size_t shapes[3][2] = {{33, 257}, {7, 785}, {1, 1}};
    for (int s = 0; s < 3; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
        /* Output pre-activations up to ±50 (and exactly ±50 in places): softplus must not
         * overflow and the sigmoid output saturates to 0 or 1. */
        float *O = uniform(n, 9, -50, 50), *Xh = fmalloc(n), *X = uniform(n, 10, 0, 1);
        float *out[2] = {fmalloc(rows), fmalloc(rows)};
        O[0] = 50.0f;
        if (n > 1) O[n - 1] = -50.0f;
        OK(clae_op_act_forward(test_rt_ref(), CLAE_ACT_SIGMOID, (clae_buf){O, NULL, 0, n, 0},
                                    (clae_buf){Xh, NULL, 0, n, 0}, n));
        for (int l = 0; l < CLAE_LOSS_COUNT; l++) {
            for (int p = 0; p < 2; p++) {
                tbuf o = tb_new(test_rt(p), O, n), xh = tb_new(test_rt(p), Xh, n), x = tb_new(test_rt(p), X, n),
                     r = tb_new(test_rt(p), NULL, rows);
                OK(clae_op_loss_rows(test_rt(p), (clae_loss)l, o.b, xh.b, x.b, rows, cols, r.b));
                tb_get(&r, out[p]);
                tb_free(&o);
                tb_free(&xh);
                tb_free(&x);
                tb_free(&r);
                assert_finite(out[p], rows, clae_loss_name((clae_loss)l));
            }
            /* Sums of `cols` terms of magnitude ≤ 50: with double (or Kahan float) accumulation
             * the difference is a few ulp of the terms, so atol 1e-6·cols and rtol 1e-5. */
            ck_assert_allclose(out[1], out[0], rows, 1e-6 * (double)cols, 1e-5);
        }
        free(O);
        free(Xh);
        free(X);
        free(out[0]);
        free(out[1]);
    }
}
END_TEST

START_TEST(test_loss_rows_known)
{
    /* One row, three columns. bce: softplus(0) − 1·0 = ln 2; softplus(50) − 0 = 50;
     * softplus(−50) − 1·(−50) = 50 + 2e−22; total 100 + ln 2. sse: ½·1² + ½·0.5² + 0 = 0.625. */
    const float O[3] = {0.0f, 50.0f, -50.0f}, Xh[3] = {1.0f, 0.5f, 0.25f}, X[3] = {1.0f, 0.0f, 1.0f};
    const float X2[3] = {0.0f, 0.0f, 0.25f};
    for (int p = 0; p < 2; p++) {
        tbuf o = tb_new(test_rt(p), O, 3), xh = tb_new(test_rt(p), Xh, 3), x = tb_new(test_rt(p), X, 3),
             x2 = tb_new(test_rt(p), X2, 3), r = tb_new(test_rt(p), NULL, 1);
        float v;
        OK(clae_op_loss_rows(test_rt(p), CLAE_LOSS_BCE, o.b, xh.b, x.b, 1, 3, r.b));
        tb_get(&r, &v);
        ck_assert_msg(fabs(v - (100.0 + log(2.0))) < 1e-4, "%s bce %g", ops_of(p)->name, (double)v);
        OK(clae_op_loss_rows(test_rt(p), CLAE_LOSS_SSE, o.b, xh.b, x2.b, 1, 3, r.b));
        tb_get(&r, &v);
        ck_assert_msg(v == 0.625f, "%s sse %g", ops_of(p)->name, (double)v);
        OK(clae_op_row_sq_error(test_rt(p), xh.b, x2.b, 1, 3, r.b));
        tb_get(&r, &v);
        ck_assert_msg(v == 1.25f, "%s row_sq_error %g", ops_of(p)->name, (double)v);
        tb_free(&o);
        tb_free(&xh);
        tb_free(&x);
        tb_free(&x2);
        tb_free(&r);
    }
}
END_TEST

START_TEST(test_loss_grad)
{
    const size_t rows = 7, cols = 785, n = rows * cols;
    const float scale = 1.0f / (float)rows;
    float *O = uniform(n, 12, -50, 50), *Xh = fmalloc(n), *X = uniform(n, 13, 0, 1);
    float *out[2] = {fmalloc(n), fmalloc(n)};
    /* sse with every output activation, then bce with its fused sigmoid. */
    for (int k = 0; k <= CLAE_ACT_COUNT; k++) {
        clae_loss loss = k < CLAE_ACT_COUNT ? CLAE_LOSS_SSE : CLAE_LOSS_BCE;
        clae_activation act = k < CLAE_ACT_COUNT ? (clae_activation)k : CLAE_ACT_SIGMOID;
        OK(clae_op_act_forward(test_rt_ref(), act, (clae_buf){O, NULL, 0, n, 0}, (clae_buf){Xh, NULL, 0, n, 0},
                                    n));
        for (int p = 0; p < 2; p++) {
            tbuf xh = tb_new(test_rt(p), Xh, n), x = tb_new(test_rt(p), X, n), g = tb_new(test_rt(p), NULL, n);
            OK(clae_op_loss_grad(test_rt(p), loss, act, xh.b, x.b, n, scale, g.b));
            tb_get(&g, out[p]);
            tb_free(&xh);
            tb_free(&x);
            tb_free(&g);
            assert_finite(out[p], n, "loss_grad");
        }
        /* The same three float operations per element on both paths. */
        ck_assert_allclose(out[1], out[0], n, 0.0, 1e-6);
        for (size_t i = 0; i < n; i += 97) {
            float d = Xh[i] - X[i];
            float want = (loss == CLAE_LOSS_BCE || act == CLAE_ACT_LINEAR) ? scale * d
                         : act == CLAE_ACT_SIGMOID                         ? scale * (d * (Xh[i] * (1.0f - Xh[i])))
                         : act == CLAE_ACT_TANH                            ? scale * (d * (1.0f - Xh[i] * Xh[i]))
                                                                           : (Xh[i] > 0.0f ? scale * d : 0.0f);
            ck_assert_msg(fabsf(out[0][i] - want) <= 1e-6f * fabsf(want), "%s/%s at %zu: %g, want %g",
                          clae_loss_name(loss), clae_activation_name(act), i, (double)out[0][i], (double)want);
        }
    }
    /* The fused bce gradient is only valid for a sigmoid output: both paths refuse others. */
    for (int p = 0; p < 2; p++) {
        tbuf xh = tb_new(test_rt(p), Xh, n), x = tb_new(test_rt(p), X, n), g = tb_new(test_rt(p), NULL, n);
        ck_assert(clae_op_loss_grad(test_rt(p), CLAE_LOSS_BCE, CLAE_ACT_TANH, xh.b, x.b, n, scale, g.b) ==
                  CLAE_ERR_ARG);
        ck_assert(strstr(clae_last_error(), "sigmoid") != NULL);
        tb_free(&xh);
        tb_free(&x);
        tb_free(&g);
    }
    free(O);
    free(Xh);
    free(X);
    free(out[0]);
    free(out[1]);
}
END_TEST

START_TEST(test_row_sq_error)
{
    static const size_t shapes[3][2] = {{33, 785}, {257, 7}, {1, 257}};
    for (int s = 0; s < 3; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
        float *Xh = uniform(n, 14, 0, 1), *X = uniform(n, 15, 0, 1), *out[2] = {fmalloc(rows), fmalloc(rows)};
        for (int p = 0; p < 2; p++) {
            tbuf xh = tb_new(test_rt(p), Xh, n), x = tb_new(test_rt(p), X, n), r = tb_new(test_rt(p), NULL, rows);
            OK(clae_op_row_sq_error(test_rt(p), xh.b, x.b, rows, cols, r.b));
            tb_get(&r, out[p]);
            tb_free(&xh);
            tb_free(&x);
            tb_free(&r);
        }
        /* Non-negative terms ≤ 1, so no cancellation: rtol 1e-6 plus a 1e-6·cols floor. */
        ck_assert_allclose(out[1], out[0], rows, 1e-6 * (double)cols, 1e-6);
        free(Xh);
        free(X);
        free(out[0]);
        free(out[1]);
    }
}
END_TEST

/* ---- colsum ------------------------------------------------------------------------------------- */

/* The training step's fused loss: per-row loss and output-gradient seed from one kernel, bit for bit what
 * loss_rows and loss_grad give on OpenCL and within their tolerances of the reference pair. */
START_TEST(test_loss_rows_grad)
{
    const size_t rows = 9, cols = 787, n = rows * cols; /* cols off the kernel's 8-wide terms */
    const float scale = 1.0f / (float)rows;
    float *O = uniform(n, 17, -30, 30), *Xh = fmalloc(n), *X = uniform(n, 18, 0, 1);
    float *loss_out[2] = {fmalloc(rows), fmalloc(rows)}, *g_out[2] = {fmalloc(n), fmalloc(n)};
    float *lu = fmalloc(rows), *gu = fmalloc(n);
    for (int k = 0; k <= CLAE_ACT_COUNT; k++) {
        clae_loss loss = k < CLAE_ACT_COUNT ? CLAE_LOSS_SSE : CLAE_LOSS_BCE;
        clae_activation act = k < CLAE_ACT_COUNT ? (clae_activation)k : CLAE_ACT_SIGMOID;
        OK(clae_op_act_forward(test_rt_ref(), act, (clae_buf){O, NULL, 0, n, 0}, (clae_buf){Xh, NULL, 0, n, 0}, n));
        for (int p = 0; p < 2; p++) {
            clae_runtime *rt = test_rt(p);
            tbuf o = tb_new(rt, O, n), xh = tb_new(rt, Xh, n), x = tb_new(rt, X, n), l = tb_new(rt, NULL, rows),
                 g = tb_new(rt, NULL, n);
            OK(clae_op_loss_rows_grad(rt, loss, act, o.b, xh.b, x.b, rows, cols, l.b, scale, g.b));
            tb_get(&l, loss_out[p]);
            tb_get(&g, g_out[p]);
            if (p == 1) { /* the two ops it fuses, on the same device */
                OK(clae_op_loss_rows(rt, loss, o.b, xh.b, x.b, rows, cols, l.b));
                OK(clae_op_loss_grad(rt, loss, act, xh.b, x.b, n, scale, g.b));
                tb_get(&l, lu);
                tb_get(&g, gu);
            }
            tb_free(&o);
            tb_free(&xh);
            tb_free(&x);
            tb_free(&l);
            tb_free(&g);
        }
        /* The tolerances of test_loss_rows and test_loss_grad. */
        ck_assert_allclose(loss_out[1], loss_out[0], rows, 1e-6 * (double)cols, 1e-5);
        ck_assert_allclose(g_out[1], g_out[0], n, 0.0, 1e-6);
        assert_bits(loss_out[1], lu, rows, "fused loss against loss_rows", 1);
        assert_bits(g_out[1], gu, n, "fused seed against loss_grad", 1);
    }
    /* bce without a sigmoid output is refused, as loss_grad refuses it. */
    ck_assert(clae_op_loss_rows_grad(test_rt_cl(), CLAE_LOSS_BCE, CLAE_ACT_RELU, (clae_buf){0}, (clae_buf){0},
                                     (clae_buf){0}, 0, 0, (clae_buf){0}, 1.0f, (clae_buf){0}) == CLAE_ERR_ARG);
    free(O);
    free(Xh);
    free(X);
    for (int p = 0; p < 2; p++) {
        free(loss_out[p]);
        free(g_out[p]);
    }
    free(lu);
    free(gu);
}
END_TEST

/* A hidden layer's backward: G ⊙= f'(A) and the bias gradient colsum(G) from one kernel, bit for bit the
 * two ops on OpenCL (G and the sums), within colsum's tolerance of the reference. */
START_TEST(test_act_backward_colsum)
{
    static const size_t shapes[3][2] = {{1, 785}, {33, 257}, {257, 7}};
    for (int s = 0; s < 3; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
        float *Z = uniform(n, 19, -4, 4), *A = fmalloc(n), *G = uniform(n, 20, -1, 1);
        float *g_out[2] = {fmalloc(n), fmalloc(n)}, *db[2] = {fmalloc(cols), fmalloc(cols)};
        float *gu = fmalloc(n), *dbu = fmalloc(cols);
        for (int f = 0; f < CLAE_ACT_COUNT; f++) {
            OK(clae_op_act_forward(test_rt_ref(), (clae_activation)f, (clae_buf){Z, NULL, 0, n, 0},
                                   (clae_buf){A, NULL, 0, n, 0}, n));
            for (int p = 0; p < 2; p++) {
                clae_runtime *rt = test_rt(p);
                tbuf a = tb_new(rt, A, n), g = tb_new(rt, G, n), d = tb_new(rt, NULL, cols);
                OK(clae_op_act_backward_colsum(rt, (clae_activation)f, a.b, g.b, rows, cols, d.b));
                tb_get(&g, g_out[p]);
                tb_get(&d, db[p]);
                if (p == 1) {
                    tb_free(&g);
                    g = tb_new(rt, G, n);
                    OK(clae_op_act_backward(rt, (clae_activation)f, a.b, g.b, n));
                    OK(clae_op_colsum(rt, g.b, rows, cols, d.b));
                    tb_get(&g, gu);
                    tb_get(&d, dbu);
                }
                tb_free(&a);
                tb_free(&g);
                tb_free(&d);
            }
            ck_assert_allclose(g_out[1], g_out[0], n, 0.0, 1e-6);
            ck_assert_allclose(db[1], db[0], cols, 1e-5, 1e-5);
            assert_bits(g_out[1], gu, n, "fused G against act_backward", 1);
            assert_bits(db[1], dbu, cols, "fused bias gradient against colsum", 1);
        }
        free(Z);
        free(A);
        free(G);
        for (int p = 0; p < 2; p++) {
            free(g_out[p]);
            free(db[p]);
        }
        free(gu);
        free(dbu);
    }
}
END_TEST

START_TEST(test_colsum)
{
    static const size_t shapes[4][2] = {{1, 785}, {33, 257}, {1024, 785}, {257, 1}};
    for (int s = 0; s < 4; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
        float *G = uniform(n, 16, -1, 1), *out[2] = {fmalloc(cols), fmalloc(cols)};
        for (int p = 0; p < 2; p++) {
            tbuf g = tb_new(test_rt(p), G, n), r = tb_new(test_rt(p), NULL, cols);
            OK(clae_op_colsum(test_rt(p), g.b, rows, cols, r.b));
            tb_get(&r, out[p]);
            tb_free(&g);
            tb_free(&r);
        }
        /* Double (or Kahan float) accumulation errs by about 2ε·|sum| + n·ε²·Σ|g|, far below
         * atol 1e-5 for n ≤ 1024 terms of magnitude ≤ 1, even where the sum cancels to ~0. */
        ck_assert_allclose(out[1], out[0], cols, 1e-5, 1e-5);
        if (rows == 1) ck_assert(memcmp(out[1], G, cols * sizeof(float)) == 0);
        free(G);
        free(out[0]);
        free(out[1]);
    }
    /* 1024 ones per column sum to exactly 1024. */
    float ones[1024], sum[1] = {0};
    for (int i = 0; i < 1024; i++) ones[i] = 1.0f;
    tbuf g = tb_new(test_rt_cl(), ones, 1024), r = tb_new(test_rt_cl(), NULL, 1);
    OK(clae_op_colsum(test_rt_cl(), g.b, 1024, 1, r.b));
    tb_get(&r, sum);
    ck_assert(sum[0] == 1024.0f);
    tb_free(&g);
    tb_free(&r);
}
END_TEST

/* ---- optimizers (README, The math: optimizers) ----------------------------------------------- */

static clae_opt_hyper hyper(clae_optimizer kind, int t)
{
    clae_opt_hyper h = {.kind = kind, .lr = 0.01f, .momentum = 0.9f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                        .rho = 0.95f, .adadelta_eps = 1e-6f};
    /* Bias corrections in double from the float β, as the model computes them. */
    h.bc1 = (float)(1.0 - pow((double)h.beta1, t));
    h.bc2 = (float)(1.0 - pow((double)h.beta2, t));
    return h;
}

START_TEST(test_optimizers_vs_ref)
{
    const size_t n = 785;
    float *th0 = uniform(n, 17, -1, 1), *res[2][3];
    for (int k = 0; k < CLAE_OPT_COUNT; k++) {
        for (int p = 0; p < 2; p++) {
            clae_runtime *rt = test_rt(p);
            tbuf th = tb_new(rt, th0, n), s1 = tb_new(rt, NULL, n), s2 = tb_new(rt, NULL, n);
            /* Three steps with state carried and a fresh gradient each time. */
            for (int t = 1; t <= 3; t++) {
                float *g = uniform(n, 100u + (uint32_t)t, -2, 2);
                tbuf gb = tb_new(rt, g, n);
                clae_opt_hyper h = hyper((clae_optimizer)k, t);
                OK(clae_op_opt_update(rt, &h, th.b, gb.b, s1.b, s2.b, n));
                tb_free(&gb);
                free(g);
            }
            for (int j = 0; j < 3; j++) res[p][j] = fmalloc(n);
            tb_get(&th, res[p][0]);
            tb_get(&s1, res[p][1]);
            tb_get(&s2, res[p][2]);
            tb_free(&th);
            tb_free(&s1);
            tb_free(&s2);
        }
        /* The kernels repeat the reference's float expressions one for one, so only OpenCL's
         * sqrt/divide (≤ 3 ulp where not correctly rounded) can differ: θ to atol 1e-7 (steps are
         * ~1e-2, so this is 1e-5 of a step), state to rtol 1e-5 with a 1e-12 floor for the tiny
         * ADADELTA accumulators. */
        const char *name = clae_optimizer_name((clae_optimizer)k);
        ck_assert_msg(test_first_mismatch(res[1][0], res[0][0], n, 1e-7, 1e-6) < 0, "%s theta", name);
        ck_assert_msg(test_first_mismatch(res[1][1], res[0][1], n, 1e-12, 1e-5) < 0, "%s s1", name);
        ck_assert_msg(test_first_mismatch(res[1][2], res[0][2], n, 1e-12, 1e-5) < 0, "%s s2", name);
        /* And it did move. */
        size_t moved = 0;
        for (size_t i = 0; i < n; i++) moved += res[0][0][i] != th0[i];
        ck_assert_msg(moved > n / 2, "%s moved only %zu parameters", name, moved);
        for (int p = 0; p < 2; p++)
            for (int j = 0; j < 3; j++) free(res[p][j]);
    }
    free(th0);
}
END_TEST

/* One update of a few scalars with state s1, s2 on path p. */
static void step(int p, const clae_opt_hyper *h, float *th, const float *g, float *s1, float *s2, size_t n)
{
    clae_runtime *rt = test_rt(p);
    tbuf bt = tb_new(rt, th, n), bg = tb_new(rt, g, n), b1 = tb_new(rt, s1, n), b2 = tb_new(rt, s2, n);
    OK(clae_op_opt_update(rt, h, bt.b, bg.b, b1.b, b2.b, n));
    tb_get(&bt, th);
    tb_get(&b1, s1);
    tb_get(&b2, s2);
    tb_free(&bt);
    tb_free(&bg);
    tb_free(&b1);
    tb_free(&b2);
}

#define NEAR(got, want, tol, what)                                                                  \
    ck_assert_msg(fabs((double)(got) - (want)) <= (tol) * fabs(want), "%s %s: %.9g, want %.9g", ops_of(p)->name, \
                  what, (double)(got), (double)(want))

START_TEST(test_optimizers_known)
{
    for (int p = 0; p < 2; p++) {
        clae_opt_hyper h = {.lr = 0.1f, .momentum = 0.9f};
        float th[4] = {0}, g[4] = {0.5f}, s1[4] = {0}, s2[4] = {0};
        /* SGD: 1 − 0.1·0.5 = 0.95. */
        h.kind = CLAE_OPT_SGD, th[0] = 1.0f;
        step(p, &h, th, g, s1, s2, 1);
        NEAR(th[0], 0.95, 1e-6, "sgd theta");
        /* Momentum from v = 0.2: v = 0.9·0.2 − 0.1·0.5 = 0.13, θ = 1.13. */
        h.kind = CLAE_OPT_MOMENTUM, th[0] = 1.0f, s1[0] = 0.2f;
        step(p, &h, th, g, s1, s2, 1);
        NEAR(s1[0], 0.13, 1e-6, "momentum v");
        NEAR(th[0], 1.13, 1e-6, "momentum theta");
        /* Nesterov from v = 0.2: v = 0.18 + 0.5 = 0.68, θ = 1 − 0.1·(0.5 + 0.612) = 0.8888. */
        h.kind = CLAE_OPT_NESTEROV, th[0] = 1.0f, s1[0] = 0.2f;
        step(p, &h, th, g, s1, s2, 1);
        NEAR(s1[0], 0.68, 1e-6, "nesterov v");
        NEAR(th[0], 0.8888, 1e-6, "nesterov theta");
        /* Adam, first step (bc1 = 0.1, bc2 = 0.001): m̂ = g, v̂ = g², so θ moves by −η·g/(|g|+ε),
         * i.e. −η·sign(g) whatever the gradient's size; m = (1−β1)·g, v = (1−β2)·g². */
        const float ga[4] = {0.5f, -0.5f, 2e-3f, -40.0f};
        clae_opt_hyper ha = {.kind = CLAE_OPT_ADAM, .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                             .bc1 = (float)(1.0 - 0.9f), .bc2 = (float)(1.0 - 0.999f)};
        for (int i = 0; i < 4; i++) th[i] = 1.0f, s1[i] = s2[i] = 0.0f;
        step(p, &ha, th, ga, s1, s2, 4);
        for (int i = 0; i < 4; i++) {
            double sign = ga[i] > 0 ? 1.0 : -1.0, a = fabs((double)ga[i]);
            NEAR(th[i], 1.0 - 1e-3 * sign * a / (a + 1e-8), 1e-6, "adam theta");
            /* 1 − β in float32 is 0.1 and 0.001 only to ~1e-5, so the factors use the float β. */
            NEAR(s1[i], (1.0 - (double)0.9f) * ga[i], 1e-6, "adam m");
            NEAR(s2[i], (1.0 - (double)0.999f) * ga[i] * ga[i], 1e-6, "adam v");
        }
        /* ADADELTA, first step, ρ = 0.99, ε = 1e-8, g = 0.5: Eg2 = 0.0025,
         * Δθ = −sqrt(1e-8/0.00250001)·0.5 = −9.99998e-4, Edx2 = 0.01·Δθ² = 9.99996e-9. */
        clae_opt_hyper hd = {.kind = CLAE_OPT_ADADELTA, .rho = 0.99f, .adadelta_eps = 1e-8f};
        th[0] = 1.0f, s1[0] = s2[0] = 0.0f;
        step(p, &hd, th, g, s1, s2, 1);
        NEAR(s1[0], 0.0025, 1e-5, "adadelta Eg2");
        NEAR(th[0], 0.999000002, 1e-6, "adadelta theta");
        NEAR(s2[0], 9.99996e-9, 1e-5, "adadelta Edx2");
    }
}
END_TEST

/* ---- argument errors: both paths refuse rather than touch memory they do not own -------------- */

START_TEST(test_arg_errors)
{
    for (int p = 0; p < 2; p++) {
        clae_runtime *rt = test_rt(p);
        tbuf a = tb_new(rt, NULL, 10), b = tb_new(rt, NULL, 10), c = tb_new(rt, NULL, 10);
        ck_assert(clae_op_act_forward(rt, CLAE_ACT_TANH, a.b, b.b, 11) == CLAE_ERR_ARG);
        ck_assert(strstr(clae_last_error(), "act_forward") != NULL);
        ck_assert(clae_op_colsum(rt, a.b, 3, 4, b.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_bias_add(rt, a.b, b.b, 2, 6) == CLAE_ERR_ARG);
        ck_assert(clae_op_loss_rows(rt, CLAE_LOSS_SSE, a.b, b.b, c.b, 11, 1, a.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_act_forward(rt, CLAE_ACT_COUNT, a.b, b.b, 10) == CLAE_ERR_ARG);
        clae_opt_hyper h = {.kind = CLAE_OPT_ADAM};
        clae_buf empty = {0};
        ck_assert(clae_op_opt_update(rt, &h, a.b, b.b, c.b, empty, 10) == CLAE_ERR_ARG);
        h.kind = CLAE_OPT_COUNT;
        ck_assert(clae_op_opt_update(rt, &h, a.b, b.b, c.b, c.b, 10) == CLAE_ERR_ARG);
        /* 4×4 times 4×4 needs 16 floats per matrix; lda below the row length is refused too. */
        for (int q = p; q < (p ? GEMM_PATHS : 1); q++) {
            ck_assert(gemm_on(q, 0, 0, 4, 4, 4, 1.0f, a.b, 4, b.b, 4, 0.0f, c.b, 4) == CLAE_ERR_ARG);
            ck_assert(gemm_on(q, 0, 0, 2, 2, 3, 1.0f, a.b, 2, b.b, 2, 0.0f, c.b, 2) == CLAE_ERR_ARG);
            ck_assert(gemm_on(q, 0, 1, 2, 2, 2, 1.0f, a.b, 2, b.b, 1, 0.0f, c.b, 2) == CLAE_ERR_ARG);
        }
        /* SGD needs no state: empty s1, s2 are fine. */
        h.kind = CLAE_OPT_SGD;
        OK(clae_op_opt_update(rt, &h, a.b, b.b, empty, empty, 10));
        /* Checking the guards also proves nothing was written by the refused calls. */
        float tmp[10];
        tb_get(&a, tmp);
        tb_get(&b, tmp);
        tb_get(&c, tmp);
        tb_free(&a);
        tb_free(&b);
        tb_free(&c);
    }
}
END_TEST

Suite *suite_ops(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("ops");
    /* The first OpenCL test pays PoCL's program builds and CLBlast's kernel compiles (cold). */
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(tc, test_philox_kat);
    tcase_add_test(tc, test_init_uniform);
    tcase_add_test(tc, test_gemm_known);
    tcase_add_test(tc, test_gemm_vs_ref);
    tcase_add_test(tc, test_gemm_edges);
    tcase_add_test(tc, test_gemm_alpha_beta);
    tcase_add_test(tc, test_gemm_tiled_workspace);
    tcase_add_test(tc, test_gemm_engine_choice);
    tcase_add_test(tc, test_gemm_bias_act);
    tcase_add_test(tc, test_gemm_tiles_same_bits);
    tcase_add_test(tc, test_gemm_bias_act_tiles_same_bits);
    tcase_add_test(tc, test_gemm_tile_table);
    tcase_add_test(tc, test_bias_add);
    tcase_add_test(tc, test_act_forward);
    tcase_add_test(tc, test_act_backward);
    tcase_add_test(tc, test_loss_rows);
    tcase_add_test(tc, test_loss_rows_known);
    tcase_add_test(tc, test_loss_grad);
    tcase_add_test(tc, test_row_sq_error);
    tcase_add_test(tc, test_colsum);
    tcase_add_test(tc, test_loss_rows_grad);
    tcase_add_test(tc, test_act_backward_colsum);
    tcase_add_test(tc, test_optimizers_vs_ref);
    tcase_add_test(tc, test_optimizers_known);
    tcase_add_test(tc, test_arg_errors);
    suite_add_tcase(s, tc);
    return s;
}
