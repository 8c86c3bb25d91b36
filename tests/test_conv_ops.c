/* test_conv_ops.c — the conv_ops suite: the image ops of lib/ops/ops_conv.h (convolution, max-pool, unpool,
 * upsample, channel bias), the reference against hand-computed answers, OpenCL against the reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_conv.h"
#include "test_ops_kit.h"

/* Float accumulation (the GEMM engine) against the double reference: terms of magnitude ≤ 1, so atol grows
 * with their count (as test_gemm_vs_ref's) and stays far below any indexing mistake, which is O(1). */
#define RTOL 1e-5
static double atol_for(size_t terms) { return 1e-6 * (double)terms + 1e-6; }

static const clae_buf NONE = {0};

/* Buffer b of t, or the empty buffer (an output not formed, no bias) when want is 0. */
static clae_buf opt(const tbuf *t, int want) { return want ? t->b : NONE; }

/* The geometry C×H×W, F filters K×K, stride S, padding P; fails the test if it is not valid. */
static clae_conv_geom geom(size_t C, size_t H, size_t W, size_t F, size_t K, size_t S, size_t P)
{
    clae_conv_geom g;
    OK(clae_conv_geom_make(C, H, W, F, K, S, P, &g));
    return g;
}

static size_t in_size(const clae_conv_geom *g, size_t n) { return n * g->C * g->H * g->W; }
static size_t out_size(const clae_conv_geom *g, size_t n) { return n * g->F * g->Ho * g->Wo; }
static size_t w_size(const clae_conv_geom *g) { return g->F * g->C * g->K * g->K; }

/* Y = conv(X; W, b) on path p (b NULL: no bias), with the scratch the path asks for. */
static void run_fwd(int p, const clae_conv_geom *g, size_t n, const float *X, const float *W, const float *b, float *Y)
{
    clae_runtime *rt = test_rt(p);
    size_t ncol, ntmp;
    clae_op_conv_scratch(rt, g, n, &ncol, &ntmp);
    tbuf x = tb_new(rt, X, in_size(g, n)), w = tb_new(rt, W, w_size(g)), bb = tb_new(rt, b, b ? g->F : 0);
    tbuf y = tb_new(rt, NULL, out_size(g, n)), col = tb_new(rt, NULL, ncol), tmp = tb_new(rt, NULL, ntmp);
    OK(clae_op_conv_forward(rt, g, n, x.b, w.b, opt(&bb, b != NULL), y.b, col.b, tmp.b));
    tb_get(&y, Y);
    tb_free(&x);
    tb_free(&w);
    tb_free(&bb);
    tb_free(&y);
    tb_free(&col);
    tb_free(&tmp);
}

/* conv_backward on path p; each of dW, db, dX NULL: not formed. Outputs start as NaN so an element left
 * unwritten shows. */
static void run_bwd(int p, const clae_conv_geom *g, size_t n, const float *X, const float *W, const float *dY, float *dW,
                    float *db, float *dX)
{
    clae_runtime *rt = test_rt(p);
    size_t ncol, ntmp;
    clae_op_conv_scratch(rt, g, n, &ncol, &ntmp);
    float *nan_in = fmalloc(in_size(g, n)), *nan_w = fmalloc(w_size(g));
    for (size_t i = 0; i < in_size(g, n); i++) nan_in[i] = NAN;
    for (size_t i = 0; i < w_size(g); i++) nan_w[i] = NAN;
    tbuf x = tb_new(rt, X, in_size(g, n)), w = tb_new(rt, W, w_size(g)), dy = tb_new(rt, dY, out_size(g, n));
    tbuf dw = tb_new(rt, nan_w, dW ? w_size(g) : 0), dbb = tb_new(rt, nan_w, db ? g->F : 0);
    tbuf dx = tb_new(rt, nan_in, dX ? in_size(g, n) : 0);
    tbuf col = tb_new(rt, NULL, ncol), tmp = tb_new(rt, NULL, ntmp);
    OK(clae_op_conv_backward(rt, g, n, x.b, w.b, dy.b, opt(&dw, dW != NULL), opt(&dbb, db != NULL),
                             opt(&dx, dX != NULL), col.b, tmp.b));
    if (dW) tb_get(&dw, dW);
    if (db) tb_get(&dbb, db);
    if (dX) tb_get(&dx, dX);
    tb_free(&x);
    tb_free(&w);
    tb_free(&dy);
    tb_free(&dw);
    tb_free(&dbb);
    tb_free(&dx);
    tb_free(&col);
    tb_free(&tmp);
    free(nan_in);
    free(nan_w);
}

static void assert_exact(const float *a, const float *want, size_t n, const char *what, int p)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(a[i] == want[i], "%s (%s)[%zu] = %.9g, want %.9g", what, path_name(p), i, (double)a[i],
                      (double)want[i]);
}

static void assert_close(const float *a, const float *ref, size_t n, double atol, const char *what,
                         const clae_conv_geom *g, size_t nb)
{
    long bad = test_first_mismatch(a, ref, n, atol, RTOL);
    ck_assert_msg(bad < 0, "%s C=%zu H=%zu W=%zu F=%zu K=%zu S=%zu P=%zu n=%zu: [%ld] = %.9g, ref %.9g (atol %g)",
                  what, g->C, g->H, g->W, g->F, g->K, g->S, g->P, nb, bad, bad < 0 ? 0.0 : (double)a[bad],
                  bad < 0 ? 0.0 : (double)ref[bad], atol);
}

/* The odd-sized geometries of the path comparisons: C=3, 7×5 images, F=4; stride 1, 2 and 3 (gaps between
 * windows), padding 0 and 1, and K=2 S=2 on a 7-row image, whose last row no window reaches. */
static const size_t GEOMS[][3] = {{3, 1, 0}, {3, 1, 1}, {3, 2, 0}, {3, 2, 1}, {2, 2, 0}, {2, 3, 1}};
#define N_GEOMS (sizeof GEOMS / sizeof GEOMS[0])
static const size_t BATCHES[] = {1, 3};

/* ---- the reference against hand-computed answers ----------------------------------------------- */

START_TEST(test_conv_known)
{
    /* X = [1 2 3; 4 5 6; 7 8 9], one 2×2 filter W = [1 2; 3 4]: small integers, so every path is exact. */
    const float X[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, W[4] = {1, 2, 3, 4}, b[1] = {0.5f};
    const float dY[4] = {1, -1, 2, 0};
    /* Stride 1, no padding: Y[0,0] = 1·1 + 2·2 + 3·4 + 4·5 + ½ = 37.5, and so on. */
    const float Y1[4] = {37.5f, 47.5f, 67.5f, 77.5f};
    /* dW[u,v] = Σ dY[oy,ox]·X[oy+u, ox+v]: dW[0,0] = 1 − 2 + 2·4 = 7, ...; db = 1 − 1 + 2 = 2;
     * dX[y,x] = Σ W[u,v]·dY[y−u, x−v]: dX[1,1] = 1·0 + 2·2 + 3·(−1) + 4·1 = 5, ... */
    const float dW1[4] = {7, 9, 13, 15}, db1[1] = {2}, dX1[9] = {1, 1, -2, 5, 5, -4, 6, 8, 0};
    /* Stride 2, padding 1: Ho = Wo = 2, windows at rows/columns −1..0 and 1..2, no bias.
     * Y[0,0] = W[1,1]·X[0,0] = 4; Y[0,1] = 3·2 + 4·3 = 18; Y[1,0] = 2·4 + 4·7 = 36; Y[1,1] = 5 + 12 + 24 + 36. */
    const float Y2[4] = {4, 18, 36, 77};
    clae_conv_geom g1 = geom(1, 3, 3, 1, 2, 1, 0), g2 = geom(1, 3, 3, 1, 2, 2, 1);
    ck_assert(g1.Ho == 2 && g1.Wo == 2 && g2.Ho == 2 && g2.Wo == 2);
    for (int p = 0; p < 2; p++) {
        float Y[4], dW[4], db[1], dX[9];
        run_fwd(p, &g1, 1, X, W, b, Y);
        assert_exact(Y, Y1, 4, "Y (S=1)", p);
        run_bwd(p, &g1, 1, X, W, dY, dW, db, dX);
        assert_exact(dW, dW1, 4, "dW (S=1)", p);
        assert_exact(db, db1, 1, "db (S=1)", p);
        assert_exact(dX, dX1, 9, "dX (S=1)", p);
        run_fwd(p, &g2, 1, X, W, NULL, Y);
        assert_exact(Y, Y2, 4, "Y (S=2, P=1)", p);
    }
}
END_TEST

START_TEST(test_conv_known_strided_backward)
{
    /* The S=2, P=1 case of test_conv_known: window (oy,ox) covers rows 2oy−1, 2oy and columns 2ox−1, 2ox, so
     * the four windows tile the 3×3 image (plus padding) without overlap and pixel (y,x) has the single tap
     * u = y + 1 − 2oy, v = x + 1 − 2ox of window (⌊(y+1)/2⌋, ⌊(x+1)/2⌋); W = [1 2; 3 4], dY = [1 −1; 2 0]. */
    const float X[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, W[4] = {1, 2, 3, 4}, dY[4] = {1, -1, 2, 0};
    /* Pixel (y,x): oy = (y+1)/2, u = y+1−2oy; ox = (x+1)/2, v = x+1−2ox.
     *   (0,0): oy 0 u 1, ox 0 v 1 → W[1,1]·dY[0,0] = 4
     *   (0,1): oy 0 u 1, ox 1 v 0 → W[1,0]·dY[0,1] = −3
     *   (0,2): oy 0 u 1, ox 1 v 1 → W[1,1]·dY[0,1] = −4
     *   (1,0): oy 1 u 0, ox 0 v 1 → W[0,1]·dY[1,0] = 4
     *   (1,1): oy 1 u 0, ox 1 v 0 → W[0,0]·dY[1,1] = 0
     *   (1,2): oy 1 u 0, ox 1 v 1 → W[0,1]·dY[1,1] = 0
     *   (2,0): oy 1 u 1, ox 0 v 1 → W[1,1]·dY[1,0] = 8
     *   (2,1): oy 1 u 1, ox 1 v 0 → W[1,0]·dY[1,1] = 0
     *   (2,2): oy 1 u 1, ox 1 v 1 → W[1,1]·dY[1,1] = 0
     * dW[u,v] = Σ dY[oy,ox]·X[2oy−1+u, 2ox−1+v] (0 outside):
     *   dW[0,0] = dY11·X[1,1] = 0;                 dW[0,1] = dY10·X[1,0] + dY11·X[1,2] = 2·4 = 8
     *   dW[1,0] = dY01·X[0,1] + dY11·X[2,1] = −2;  dW[1,1] = dY00·X00 + dY01·X02 + dY10·X20 + dY11·X22 = 12 */
    const float dX2[9] = {4, -3, -4, 4, 0, 0, 8, 0, 0}, dW2[4] = {0, 8, -2, 12}, db2[1] = {2};
    clae_conv_geom g = geom(1, 3, 3, 1, 2, 2, 1);
    for (int p = 0; p < 2; p++) {
        float dW[4], db[1], dX[9];
        run_bwd(p, &g, 1, X, W, dY, dW, db, dX);
        assert_exact(dX, dX2, 9, "dX (S=2, P=1)", p);
        assert_exact(dW, dW2, 4, "dW (S=2, P=1)", p);
        assert_exact(db, db2, 1, "db (S=2, P=1)", p);
    }
}
END_TEST

START_TEST(test_conv_known_channels)
{
    /* Two channels, two filters, 1×1 kernels: Y[f] = b[f] + Σ_c W[f,c]·X[c], a per-pixel matrix product, so
     * the channel and filter strides of both layouts show. X channels [1 2], [3 4]; W = [1 10; 100 1000]. */
    const float X[4] = {1, 2, 3, 4}, W[4] = {1, 10, 100, 1000}, b[2] = {0.25f, -0.5f};
    const float Y[4] = {31.25f, 42.25f, 3099.5f, 4199.5f};
    const float dY[4] = {1, 2, 3, 4};
    /* dW[f,c] = Σ_pixels dY[f]·X[c]; db[f] = Σ dY[f]; dX[c] = Σ_f W[f,c]·dY[f]. */
    const float dW[4] = {1 * 1 + 2 * 2, 1 * 3 + 2 * 4, 3 * 1 + 4 * 2, 3 * 3 + 4 * 4}, db[2] = {3, 7};
    const float dX[4] = {1 * 1 + 100 * 3, 1 * 2 + 100 * 4, 10 * 1 + 1000 * 3, 10 * 2 + 1000 * 4};
    clae_conv_geom g = geom(2, 1, 2, 2, 1, 1, 0);
    for (int p = 0; p < 2; p++) {
        float y[4], dw[4], dbb[2], dx[4];
        run_fwd(p, &g, 1, X, W, b, y);
        assert_exact(y, Y, 4, "Y (1×1)", p);
        run_bwd(p, &g, 1, X, W, dY, dw, dbb, dx);
        assert_exact(dw, dW, 4, "dW (1×1)", p);
        assert_exact(dbb, db, 2, "db (1×1)", p);
        assert_exact(dx, dX, 4, "dX (1×1)", p);
    }
}
END_TEST

/* ---- OpenCL against the reference -------------------------------------------------------------- */

START_TEST(test_conv_forward_vs_ref)
{
    for (size_t gi = 0; gi < N_GEOMS; gi++)
        for (size_t bi = 0; bi < 2; bi++)
            for (int bias = 0; bias < 2; bias++) {
                clae_conv_geom g = geom(3, 7, 5, 4, GEOMS[gi][0], GEOMS[gi][1], GEOMS[gi][2]);
                size_t n = BATCHES[bi];
                float *X = uniform(in_size(&g, n), 101u + (uint32_t)gi, -1, 1);
                float *W = uniform(w_size(&g), 202u + (uint32_t)gi, -1, 1), *b = uniform(g.F, 303u, -1, 1);
                float *ref = fmalloc(out_size(&g, n)), *Y = fmalloc(out_size(&g, n));
                run_fwd(0, &g, n, X, W, bias ? b : NULL, ref);
                run_fwd(1, &g, n, X, W, bias ? b : NULL, Y);
                assert_close(Y, ref, out_size(&g, n), atol_for(g.C * g.K * g.K + 1), "conv_forward Y", &g, n);
                free(X);
                free(W);
                free(b);
                free(ref);
                free(Y);
            }
}
END_TEST

START_TEST(test_conv_backward_vs_ref)
{
    /* Each output alone and all three together: the same numbers on each path, bit for bit on OpenCL (the
     * same kernels in the same order), and OpenCL within tolerance of the reference. */
    for (size_t gi = 0; gi < N_GEOMS; gi++)
        for (size_t bi = 0; bi < 2; bi++) {
            clae_conv_geom g = geom(3, 7, 5, 4, GEOMS[gi][0], GEOMS[gi][1], GEOMS[gi][2]);
            size_t n = BATCHES[bi], ni = in_size(&g, n), nw = w_size(&g);
            float *X = uniform(ni, 404u + (uint32_t)gi, -1, 1), *W = uniform(nw, 505u + (uint32_t)gi, -1, 1);
            float *dY = uniform(out_size(&g, n), 606u + (uint32_t)gi, -1, 1);
            float *dW[2][2], *db[2][2], *dX[2][2]; /* [path][alone, together] */
            for (int p = 0; p < 2; p++)
                for (int t = 0; t < 2; t++) dW[p][t] = fmalloc(nw), db[p][t] = fmalloc(g.F), dX[p][t] = fmalloc(ni);
            for (int p = 0; p < 2; p++) {
                run_bwd(p, &g, n, X, W, dY, dW[p][0], NULL, NULL);
                run_bwd(p, &g, n, X, W, dY, NULL, db[p][0], NULL);
                run_bwd(p, &g, n, X, W, dY, NULL, NULL, dX[p][0]);
                run_bwd(p, &g, n, X, W, dY, dW[p][1], db[p][1], dX[p][1]);
                assert_exact(dW[p][0], dW[p][1], nw, "dW alone vs together", p);
                assert_exact(db[p][0], db[p][1], g.F, "db alone vs together", p);
                assert_exact(dX[p][0], dX[p][1], ni, "dX alone vs together", p);
            }
            const size_t pix = n * g.Ho * g.Wo;
            assert_close(dW[1][1], dW[0][1], nw, atol_for(pix), "conv_backward dW", &g, n);
            assert_close(db[1][1], db[0][1], g.F, atol_for(pix), "conv_backward db", &g, n);
            assert_close(dX[1][1], dX[0][1], ni, atol_for(g.F * g.K * g.K), "conv_backward dX", &g, n);
            /* K=2 S=2 on 7 rows: the last row of every plane is in no window, so its gradient is exactly 0. */
            if (g.K == 2 && g.S == 2 && g.P == 0)
                for (int p = 0; p < 2; p++)
                    for (size_t pl = 0; pl < n * g.C; pl++)
                        for (size_t x = 0; x < g.W; x++)
                            ck_assert_msg(dX[p][1][(pl * g.H + g.H - 1) * g.W + x] == 0.0f,
                                          "%s: dX of the unreached row is not 0", path_name(p));
            for (int p = 0; p < 2; p++)
                for (int t = 0; t < 2; t++) free(dW[p][t]), free(db[p][t]), free(dX[p][t]);
            free(X);
            free(W);
            free(dY);
        }
}
END_TEST

static double dot(const float *a, const float *b, size_t n, double *mag)
{
    double s = 0.0, m = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i], m += fabs((double)a[i] * (double)b[i]);
    *mag = m;
    return s;
}

START_TEST(test_conv_adjoint)
{
    /* conv_backward's dX is the adjoint of the convolution without bias: <conv(X), D> = <X, dX(D)>, and dW
     * is the adjoint in the weights: <conv(X; W), D> = <W, dW(X, D)>. Both sides in double, equal up to the
     * float rounding of each side (relative 1e-5 of the sum of the products' magnitudes). */
    for (size_t gi = 0; gi < N_GEOMS; gi++)
        for (int p = 0; p < 2; p++) {
            clae_conv_geom g = geom(3, 7, 5, 4, GEOMS[gi][0], GEOMS[gi][1], GEOMS[gi][2]);
            const size_t n = 3, ni = in_size(&g, n), no = out_size(&g, n), nw = w_size(&g);
            float *X = uniform(ni, 707u + (uint32_t)gi, -1, 1), *W = uniform(nw, 808u + (uint32_t)gi, -1, 1);
            float *D = uniform(no, 909u + (uint32_t)gi, -1, 1), *Y = fmalloc(no), *dX = fmalloc(ni);
            float *dW = fmalloc(nw);
            run_fwd(p, &g, n, X, W, NULL, Y);
            run_bwd(p, &g, n, X, W, D, dW, NULL, dX);
            double m1, m2, m3;
            double lhs = dot(Y, D, no, &m1), rhs = dot(X, dX, ni, &m2), rw = dot(W, dW, nw, &m3);
            double tol = 1e-5 * (m1 + m2);
            ck_assert_msg(fabs(lhs - rhs) <= tol, "%s K=%zu S=%zu P=%zu: <conv X, D> = %.9g, <X, dX> = %.9g",
                          path_name(p), g.K, g.S, g.P, lhs, rhs);
            ck_assert_msg(fabs(lhs - rw) <= 1e-5 * (m1 + m3), "%s K=%zu S=%zu P=%zu: <conv X, D> = %.9g, <W, dW> = %.9g",
                          path_name(p), g.K, g.S, g.P, lhs, rw);
            ck_assert(m1 > 1.0); /* the products are not all zero */
            free(X);
            free(W);
            free(D);
            free(Y);
            free(dX);
            free(dW);
        }
}
END_TEST

/* ---- max-pool, unpool -------------------------------------------------------------------------- */

static void run_maxpool(int p, size_t planes, size_t H, size_t W, size_t K, const float *X, float *Y, float *idx)
{
    clae_runtime *rt = test_rt(p);
    size_t ns = planes * (H / K) * (W / K);
    tbuf x = tb_new(rt, X, planes * H * W), y = tb_new(rt, NULL, ns), id = tb_new(rt, NULL, ns);
    OK(clae_op_maxpool_forward(rt, planes, H, W, K, x.b, y.b, id.b));
    tb_get(&y, Y);
    tb_get(&id, idx);
    tb_free(&x);
    tb_free(&y);
    tb_free(&id);
}

static void run_spread(int p, size_t planes, size_t H, size_t W, size_t K, const float *small, const float *idx,
                       float *big)
{
    clae_runtime *rt = test_rt(p);
    size_t ns = planes * (H / K) * (W / K);
    float *nan_big = fmalloc(planes * H * W);
    for (size_t i = 0; i < planes * H * W; i++) nan_big[i] = NAN; /* every element must be written */
    tbuf s = tb_new(rt, small, ns), id = tb_new(rt, idx, ns), b = tb_new(rt, nan_big, planes * H * W);
    OK(clae_op_pool_spread(rt, planes, H, W, K, s.b, id.b, b.b));
    tb_get(&b, big);
    tb_free(&s);
    tb_free(&id);
    tb_free(&b);
    free(nan_big);
}

static void run_pick(int p, size_t planes, size_t H, size_t W, size_t K, const float *big, const float *idx,
                     float *small)
{
    clae_runtime *rt = test_rt(p);
    size_t ns = planes * (H / K) * (W / K);
    tbuf b = tb_new(rt, big, planes * H * W), id = tb_new(rt, idx, ns), s = tb_new(rt, NULL, ns);
    OK(clae_op_pool_pick(rt, planes, H, W, K, b.b, id.b, s.b));
    tb_get(&s, small);
    tb_free(&b);
    tb_free(&id);
    tb_free(&s);
}

START_TEST(test_maxpool_known)
{
    /* One 3×5 plane, K = 2: two windows (columns 0–1 and 2–3 of rows 0–1); row 2 and column 4 are the floor
     * region, full of 9s that must never win. Window 0 holds 1 3 / 2 3: the first 3 (index 1) wins the tie;
     * window 1 holds 3 0 / 5 5: the first 5, at (1,2), index 1·5 + 2 = 7. */
    const float X[15] = {1, 3, 3, 0, 9, 2, 3, 5, 5, 9, 9, 9, 9, 9, 9};
    const float wantY[2] = {3, 5}, wantI[2] = {1, 7};
    /* Unpooling [10 20] puts 10 at index 1 and 20 at index 7, zeros elsewhere (the floor region too). */
    const float small[2] = {10, 20};
    float wantBig[15] = {0};
    wantBig[1] = 10, wantBig[7] = 20;
    for (int p = 0; p < 2; p++) {
        float Y[2], I[2], big[15], back[2];
        run_maxpool(p, 1, 3, 5, 2, X, Y, I);
        assert_exact(Y, wantY, 2, "maxpool Y", p);
        assert_exact(I, wantI, 2, "maxpool idx", p);
        run_spread(p, 1, 3, 5, 2, small, I, big);
        assert_exact(big, wantBig, 15, "pool_spread", p);
        run_pick(p, 1, 3, 5, 2, big, I, back);
        assert_exact(back, small, 2, "pool_pick", p);
    }
}
END_TEST

START_TEST(test_maxpool_vs_ref_ties)
{
    /* 9 planes (n = 3 samples of C = 3) of 7×5, K = 2 and 3 (floor regions on both sides); values on a grid
     * of four levels so most windows hold ties. Both paths must agree bit for bit with each other and with
     * the first maximum found here in row-major window order. */
    const size_t planes = 9, H = 7, W = 5;
    float *X = uniform(planes * H * W, 1234u, 0, 4);
    for (size_t i = 0; i < planes * H * W; i++) X[i] = floorf(X[i]);
    for (size_t K = 2; K <= 3; K++) {
        const size_t Ho = H / K, Wo = W / K, ns = planes * Ho * Wo;
        float *Y[2], *I[2];
        size_t ties = 0;
        for (int p = 0; p < 2; p++) {
            Y[p] = fmalloc(ns), I[p] = fmalloc(ns);
            run_maxpool(p, planes, H, W, K, X, Y[p], I[p]);
        }
        for (size_t q = 0; q < planes; q++)
            for (size_t oy = 0; oy < Ho; oy++)
                for (size_t ox = 0; ox < Wo; ox++) {
                    size_t best = oy * K * W + ox * K, count = 0;
                    const float *pl = X + q * H * W;
                    for (size_t u = 0; u < K; u++)
                        for (size_t v = 0; v < K; v++)
                            if (pl[(oy * K + u) * W + ox * K + v] > pl[best]) best = (oy * K + u) * W + ox * K + v;
                    for (size_t u = 0; u < K; u++)
                        for (size_t v = 0; v < K; v++) count += pl[(oy * K + u) * W + ox * K + v] == pl[best];
                    ties += count > 1;
                    size_t o = (q * Ho + oy) * Wo + ox;
                    for (int p = 0; p < 2; p++) {
                        ck_assert_msg(I[p][o] == (float)best && Y[p][o] == pl[best],
                                      "%s K=%zu window %zu: idx %g value %g, want %zu value %g", path_name(p), K, o,
                                      (double)I[p][o], (double)Y[p][o], best, (double)pl[best]);
                    }
                }
        ck_assert_msg(ties > ns / 4, "only %zu of %zu windows hold ties", ties, ns);
        for (int p = 0; p < 2; p++) free(Y[p]), free(I[p]);
    }
    free(X);
}
END_TEST

START_TEST(test_pool_spread_pick_vs_ref)
{
    /* Indices from a max-pool of distinct-ish random values; spread then pick gives small back exactly on
     * both paths, spread leaves exactly one non-zero per window and zeros in the floor region, and both ops
     * agree with the reference bit for bit (they only move floats). */
    const size_t planes = 9, H = 7, W = 5;
    float *X = uniform(planes * H * W, 4321u, -1, 1);
    for (size_t K = 2; K <= 3; K++) {
        const size_t Ho = H / K, Wo = W / K, ns = planes * Ho * Wo, nb = planes * H * W;
        float *Y = fmalloc(ns), *I = fmalloc(ns), *small = uniform(ns, 99u + (uint32_t)K, 1, 2);
        float *big[2] = {fmalloc(nb), fmalloc(nb)}, *back[2] = {fmalloc(ns), fmalloc(ns)};
        run_maxpool(0, planes, H, W, K, X, Y, I);
        for (int p = 0; p < 2; p++) {
            run_spread(p, planes, H, W, K, small, I, big[p]);
            run_pick(p, planes, H, W, K, big[p], I, back[p]);
            assert_exact(back[p], small, ns, "pool_pick(pool_spread(small))", p);
            size_t nonzero = 0;
            for (size_t q = 0; q < planes; q++)
                for (size_t y = 0; y < H; y++)
                    for (size_t x = 0; x < W; x++) {
                        float v = big[p][(q * H + y) * W + x];
                        nonzero += v != 0.0f;
                        if (y >= Ho * K || x >= Wo * K)
                            ck_assert_msg(v == 0.0f, "%s: floor region (%zu,%zu) = %g", path_name(p), y, x, (double)v);
                    }
            ck_assert_msg(nonzero == ns, "%s: %zu non-zeros, want one per window (%zu)", path_name(p), nonzero, ns);
        }
        assert_exact(big[1], big[0], nb, "pool_spread vs ref", 1);
        /* pick of an arbitrary big (not the spread) against the reference. */
        float *any = uniform(nb, 77u, -1, 1);
        run_pick(0, planes, H, W, K, any, I, back[0]);
        run_pick(1, planes, H, W, K, any, I, back[1]);
        assert_exact(back[1], back[0], ns, "pool_pick vs ref", 1);
        /* Picking the pooled input at the argmax gives the pooled maxima. */
        for (int p = 0; p < 2; p++) {
            run_pick(p, planes, H, W, K, X, I, back[p]);
            assert_exact(back[p], Y, ns, "pool_pick(X, idx) = maxpool Y", p);
        }
        free(any);
        free(Y);
        free(I);
        free(small);
        for (int p = 0; p < 2; p++) free(big[p]), free(back[p]);
    }
    free(X);
}
END_TEST

/* ---- upsample ---------------------------------------------------------------------------------- */

static void run_up(int p, int backward, size_t planes, size_t h, size_t w, size_t K, const float *in, float *out)
{
    clae_runtime *rt = test_rt(p);
    size_t ns = planes * h * w, nb = ns * K * K;
    tbuf a = tb_new(rt, in, backward ? nb : ns), b = tb_new(rt, NULL, backward ? ns : nb);
    if (backward) OK(clae_op_upsample_backward(rt, planes, h, w, K, a.b, b.b));
    else OK(clae_op_upsample_forward(rt, planes, h, w, K, a.b, b.b));
    tb_get(&b, out);
    tb_free(&a);
    tb_free(&b);
}

START_TEST(test_upsample)
{
    /* Known: [1 2] by 2 is [1 1 2 2; 1 1 2 2]; the backward of 1..8 (2×4) sums the 2×2 blocks: 14, 22. */
    const float s[2] = {1, 2}, wantBig[8] = {1, 1, 2, 2, 1, 1, 2, 2}, big8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float wantSmall[2] = {14, 22};
    for (int p = 0; p < 2; p++) {
        float b[8], sm[2];
        run_up(p, 0, 1, 1, 2, 2, s, b);
        assert_exact(b, wantBig, 8, "upsample_forward", p);
        run_up(p, 1, 1, 1, 2, 2, big8, sm);
        assert_exact(sm, wantSmall, 2, "upsample_backward", p);
    }
    /* Odd sizes, 9 planes of 3×5, K = 2 and 3: forward bit for bit, backward within tolerance, and the
     * backward of the forward is K²·small. */
    const size_t planes = 9, h = 3, w = 5;
    for (size_t K = 2; K <= 3; K++) {
        const size_t ns = planes * h * w, nb = ns * K * K;
        float *small = uniform(ns, 55u, -1, 1), *big = uniform(nb, 66u, -1, 1);
        float *f[2] = {fmalloc(nb), fmalloc(nb)}, *bk[2] = {fmalloc(ns), fmalloc(ns)}, *rt2 = fmalloc(ns);
        float *want = fmalloc(ns);
        for (int p = 0; p < 2; p++) {
            run_up(p, 0, planes, h, w, K, small, f[p]);
            run_up(p, 1, planes, h, w, K, big, bk[p]);
        }
        assert_exact(f[1], f[0], nb, "upsample_forward vs ref", 1);
        long bad = test_first_mismatch(bk[1], bk[0], ns, atol_for(K * K), RTOL);
        ck_assert_msg(bad < 0, "upsample_backward K=%zu: [%ld] = %g, ref %g", K, bad, bad < 0 ? 0.0 : (double)bk[1][bad],
                      bad < 0 ? 0.0 : (double)bk[0][bad]);
        for (size_t i = 0; i < ns; i++) want[i] = (float)((double)(K * K) * (double)small[i]);
        for (int p = 0; p < 2; p++) {
            run_up(p, 1, planes, h, w, K, f[p], rt2);
            bad = test_first_mismatch(rt2, want, ns, atol_for(K * K), RTOL);
            ck_assert_msg(bad < 0, "%s: upsample_backward(upsample_forward(s)) != K²·s at %ld", path_name(p), bad);
        }
        free(small);
        free(big);
        free(rt2);
        free(want);
        for (int p = 0; p < 2; p++) free(f[p]), free(bk[p]);
    }
}
END_TEST

/* ---- channel bias and its gradient ------------------------------------------------------------- */

static void run_channel(int p, int sum, size_t n, size_t C, size_t HW, const float *G, const float *b, float *out)
{
    clae_runtime *rt = test_rt(p);
    tbuf g = tb_new(rt, G, n * C * HW), c = tb_new(rt, b, C);
    if (sum) {
        OK(clae_op_channel_sum(rt, n, C, HW, g.b, c.b));
        tb_get(&c, out);
    } else {
        OK(clae_op_channel_bias_add(rt, n, C, HW, g.b, c.b));
        tb_get(&g, out);
    }
    tb_free(&g);
    tb_free(&c);
}

START_TEST(test_channel_ops)
{
    /* Known: n = 2, C = 2, HW = 2. Adding b = [1 −2] to zeros gives 1 1 −2 −2 1 1 −2 −2; the sum of 1..8 per
     * channel is 1 + 2 + 5 + 6 = 14 and 3 + 4 + 7 + 8 = 22. */
    const float zeros[8] = {0}, b[2] = {1, -2}, want[8] = {1, 1, -2, -2, 1, 1, -2, -2};
    const float G8[8] = {1, 2, 3, 4, 5, 6, 7, 8}, wantSum[2] = {14, 22};
    for (int p = 0; p < 2; p++) {
        float y[8], s[2];
        run_channel(p, 0, 2, 2, 2, zeros, b, y);
        assert_exact(y, want, 8, "channel_bias_add", p);
        run_channel(p, 1, 2, 2, 2, G8, NULL, s);
        assert_exact(s, wantSum, 2, "channel_sum", p);
    }
    /* Odd sizes: n = 3, C = 5, HW = 7·5. The bias add rounds once per element on both paths (bit for bit);
     * the sum over n·HW = 105 terms is within tolerance of the double reference. */
    const size_t n = 3, C = 5, HW = 35;
    float *Y = uniform(n * C * HW, 31u, -1, 1), *bb = uniform(C, 32u, -1, 1);
    float *y[2] = {fmalloc(n * C * HW), fmalloc(n * C * HW)}, *s[2] = {fmalloc(C), fmalloc(C)};
    for (int p = 0; p < 2; p++) {
        run_channel(p, 0, n, C, HW, Y, bb, y[p]);
        run_channel(p, 1, n, C, HW, Y, NULL, s[p]);
    }
    assert_exact(y[1], y[0], n * C * HW, "channel_bias_add vs ref", 1);
    long bad = test_first_mismatch(s[1], s[0], C, atol_for(n * HW), RTOL);
    ck_assert_msg(bad < 0, "channel_sum: [%ld] = %g, ref %g", bad, bad < 0 ? 0.0 : (double)s[1][bad],
                  bad < 0 ? 0.0 : (double)s[0][bad]);
    for (int p = 0; p < 2; p++) free(y[p]), free(s[p]);
    free(Y);
    free(bb);
}
END_TEST

Suite *suite_conv_ops(void)
{
    Suite *s = suite_create("conv_ops");
    TCase *tc = tcase_create("conv_ops");
    /* The first OpenCL test pays PoCL's program builds when the cache is cold. */
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_conv_known);
    tcase_add_test(tc, test_conv_known_strided_backward);
    tcase_add_test(tc, test_conv_known_channels);
    tcase_add_test(tc, test_conv_forward_vs_ref);
    tcase_add_test(tc, test_conv_backward_vs_ref);
    tcase_add_test(tc, test_conv_adjoint);
    tcase_add_test(tc, test_maxpool_known);
    tcase_add_test(tc, test_maxpool_vs_ref_ties);
    tcase_add_test(tc, test_pool_spread_pick_vs_ref);
    tcase_add_test(tc, test_upsample);
    tcase_add_test(tc, test_channel_ops);
    suite_add_tcase(s, tc);
    return s;
}
