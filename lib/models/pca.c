/* pca.c — the PCA baseline a linear autoencoder is measured against: mean, covariance and its eigen-decomposition
 * in double on the host (LAPACK's MRRR), reconstruction errors, and the principal angles between a decoder and it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "models/model_internal.h"

/* The covariance goes through the data in blocks of this many rows, centred and packed in double: a panel of
 * PANEL columns by BLOCK_ROWS rows is 8 KiB, so the two panels a tile reads stay in the L1 cache. */
#define PCA_BLOCK_ROWS 256
#define PCA_PANEL 4

struct clae_pca {
    size_t D, N; /* features, training rows */
    int k;
    double *mean;   /* D: μ */
    double *eigval; /* D: λ, descending */
    double *U;      /* D×k row-major: column j is the direction of λ_j */
    double *Ut;     /* k×D: U transposed, so projection and reconstruction both run along contiguous rows */
};

void clae_pca_free(clae_pca *p)
{
    if (!p) return;
    free(p->mean);
    free(p->eigval);
    free(p->U);
    free(p->Ut);
    free(p);
}

/* C[0..4)×[0..4) (rows ldc apart) += Aᵀ·B for two packed panels (rows × PCA_PANEL each). The 16 sums stay in
 * registers over the whole block, and every lane is independent, so the compiler vectorises it without
 * reassociating a sum. */
static void panel_tile(const double *a, const double *b, size_t rows, double *c, size_t ldc)
{
    double acc[PCA_PANEL][PCA_PANEL] = {{0.0}};
    for (size_t r = 0; r < rows; r++) {
        const double *ar = a + r * PCA_PANEL, *br = b + r * PCA_PANEL;
        for (int i = 0; i < PCA_PANEL; i++)
            for (int j = 0; j < PCA_PANEL; j++) acc[i][j] += ar[i] * br[j];
    }
    for (int i = 0; i < PCA_PANEL; i++)
        for (int j = 0; j < PCA_PANEL; j++) c[i * ldc + j] += acc[i][j];
}

/* Σ = (1/N)·X_cᵀX_c into C (D×D, both triangles), X_c = X − 1μᵀ formed in double before any product, so no
 * large sums cancel. Only the tiles on and above the diagonal are computed (Σ is symmetric); each block of rows
 * is summed apart and then added, so rounding grows with N/256 blocks rather than with N. */
static clae_status covariance(const float *x, size_t N, size_t D, const double *mean, double *C)
{
    const size_t P = (D + PCA_PANEL - 1) / PCA_PANEL, Dp = P * PCA_PANEL;
    double *acc = calloc(Dp * Dp, sizeof *acc), *pack = malloc(P * PCA_BLOCK_ROWS * PCA_PANEL * sizeof *pack);
    if (!acc || !pack) {
        free(acc);
        free(pack);
        return clae_fail(CLAE_ERR_NOMEM, "pca_fit: out of host memory for the %zu×%zu covariance", D, D);
    }
    for (size_t r0 = 0; r0 < N; r0 += PCA_BLOCK_ROWS) {
        const size_t rows = N - r0 < PCA_BLOCK_ROWS ? N - r0 : PCA_BLOCK_ROWS;
        /* Panel p holds columns [4p, 4p+4) row after row; the columns past D are zeros. */
        for (size_t r = 0; r < rows; r++) {
            const float *xr = x + (r0 + r) * D;
            for (size_t i = 0; i < Dp; i++)
                pack[(i / PCA_PANEL) * rows * PCA_PANEL + r * PCA_PANEL + i % PCA_PANEL] =
                    i < D ? (double)xr[i] - mean[i] : 0.0;
        }
        for (size_t p = 0; p < P; p++)
            for (size_t q = p; q < P; q++)
                panel_tile(pack + p * rows * PCA_PANEL, pack + q * rows * PCA_PANEL, rows,
                           acc + p * PCA_PANEL * Dp + q * PCA_PANEL, Dp);
    }
    /* The upper triangle (tiles on the diagonal are whole) mirrored, divided by N. */
    for (size_t i = 0; i < D; i++)
        for (size_t j = i; j < D; j++) C[i * D + j] = C[j * D + i] = acc[i * Dp + j] / (double)N;
    free(acc);
    free(pack);
    return CLAE_OK;
}

/* λ and every eigenvector of the symmetric C (D×D) by LAPACK's dsyevr (MRRR), ascending as LAPACK gives them,
 * into w and Z (column j of the column-major Z belongs to w[j]). The _work form with our own workspace: LAPACKE's
 * allocating wrapper prints on a failed allocation, and the library never prints. */
static clae_status eigen(double *C, size_t D, double *w, double *Z)
{
    const lapack_int n = (lapack_int)D;
    lapack_int found = 0, info, liwork = -1, lwork_i = 0;
    double lwork_d = 0.0;
    lapack_int *isuppz = malloc(2 * D * sizeof *isuppz);
    if (!isuppz) return clae_fail(CLAE_ERR_NOMEM, "pca_fit: out of host memory for the eigensolver");
    /* abstol: the safe minimum, LAPACK's advice for the highest relative accuracy of each eigenvalue. */
    const double abstol = LAPACKE_dlamch('S');
    info = LAPACKE_dsyevr_work(LAPACK_COL_MAJOR, 'V', 'A', 'U', n, C, n, 0.0, 0.0, 0, 0, abstol, &found, w, Z, n,
                               isuppz, &lwork_d, -1, &lwork_i, liwork);
    double *work = NULL;
    lapack_int *iwork = NULL;
    if (info == 0) {
        const lapack_int lwork = (lapack_int)lwork_d;
        liwork = lwork_i;
        work = malloc((size_t)lwork * sizeof *work);
        iwork = malloc((size_t)liwork * sizeof *iwork);
        if (!work || !iwork) {
            free(work);
            free(iwork);
            free(isuppz);
            return clae_fail(CLAE_ERR_NOMEM, "pca_fit: out of host memory for the eigensolver's workspace");
        }
        info = LAPACKE_dsyevr_work(LAPACK_COL_MAJOR, 'V', 'A', 'U', n, C, n, 0.0, 0.0, 0, 0, abstol, &found, w, Z, n,
                                   isuppz, work, lwork, iwork, liwork);
    }
    free(work);
    free(iwork);
    free(isuppz);
    if (info != 0 || (size_t)found != D)
        return clae_fail(CLAE_ERR_NUMERIC, "pca_fit: LAPACK dsyevr failed on the %zu×%zu covariance (info %d, %d of %zu "
                                           "eigenvalues)", D, D, (int)info, (int)found, D);
    return CLAE_OK;
}

static clae_status fit(const clae_dataset *ds, int k, clae_pca *p)
{
    const size_t N = ds->rows, D = ds->cols;
    double *C = malloc(D * D * sizeof *C), *Z = malloc(D * D * sizeof *Z), *w = malloc(D * sizeof *w);
    p->mean = calloc(D, sizeof *p->mean);
    p->eigval = malloc(D * sizeof *p->eigval);
    p->U = malloc(D * (size_t)k * sizeof *p->U);
    p->Ut = malloc(D * (size_t)k * sizeof *p->Ut);
    clae_status s = CLAE_OK;
    if (!C || !Z || !w || !p->mean || !p->eigval || !p->U || !p->Ut) {
        s = clae_fail(CLAE_ERR_NOMEM, "pca_fit: out of host memory for %zu features", D);
        goto done;
    }
    for (size_t r = 0; r < N; r++)
        for (size_t i = 0; i < D; i++) p->mean[i] += ds->x[r * D + i]; /* row order: the same sum everywhere */
    for (size_t i = 0; i < D; i++) p->mean[i] /= (double)N;
    s = covariance(ds->x, N, D, p->mean, C);
    if (s != CLAE_OK) goto done;
    /* A NaN or infinity anywhere in a column reaches its variance, so the diagonal tells. */
    for (size_t i = 0; i < D; i++)
        if (!isfinite(C[i * D + i])) {
            s = clae_fail(CLAE_ERR_NUMERIC, "pca_fit: %s: column %zu (from 0) holds a value that is not finite", ds->path,
                          i);
            goto done;
        }
    s = eigen(C, D, w, Z);
    if (s != CLAE_OK) goto done;
    for (size_t j = 0; j < D; j++) p->eigval[j] = w[D - 1 - j];
    for (int j = 0; j < k; j++) {
        const double *z = Z + (D - 1 - (size_t)j) * D;
        /* An eigenvector's sign is arbitrary: make its largest component (the first of equals) positive, so a
         * basis written out is the same from run to run. */
        size_t big = 0;
        for (size_t i = 1; i < D; i++)
            if (fabs(z[i]) > fabs(z[big])) big = i;
        const double sign = z[big] < 0.0 ? -1.0 : 1.0;
        for (size_t i = 0; i < D; i++) p->U[i * (size_t)k + (size_t)j] = p->Ut[(size_t)j * D + i] = sign * z[i];
    }
done:
    free(C);
    free(Z);
    free(w);
    return s;
}

clae_status clae_pca_fit(const clae_dataset *train, int k, clae_pca **out)
{
    if (out) *out = NULL;
    if (!train || !out) return clae_fail(CLAE_ERR_ARG, "pca_fit: the dataset and out must not be NULL");
    if (!train->x || train->rows == 0 || train->cols == 0)
        return clae_fail(CLAE_ERR_ARG, "pca_fit: %s has no rows", train->path);
    if (k < 1 || (size_t)k > train->cols)
        return clae_fail(CLAE_ERR_ARG, "pca_fit: %d components of %s, which has %zu columns: expected 1 to %zu", k,
                         train->path, train->cols, train->cols);
    clae_pca *p = calloc(1, sizeof *p);
    if (!p) return clae_fail(CLAE_ERR_NOMEM, "pca_fit: out of host memory");
    p->D = train->cols;
    p->N = train->rows;
    p->k = k;
    clae_status s = fit(train, k, p);
    if (s != CLAE_OK) {
        clae_pca_free(p);
        return s;
    }
    *out = p;
    return CLAE_OK;
}

size_t clae_pca_dim(const clae_pca *p) { return p ? p->D : 0; }
int clae_pca_components(const clae_pca *p) { return p ? p->k : 0; }
const double *clae_pca_mean(const clae_pca *p) { return p ? p->mean : NULL; }
const double *clae_pca_eigenvalues(const clae_pca *p) { return p ? p->eigval : NULL; }
const double *clae_pca_directions(const clae_pca *p) { return p ? p->U : NULL; }

double clae_pca_identity_mse(const clae_pca *p)
{
    if (!p) return NAN;
    /* Smallest first: the tail's many small terms are summed before the large ones meet them. */
    double s = 0.0;
    for (size_t i = p->D; i-- > (size_t)p->k;) s += p->eigval[i];
    return s / (double)p->D;
}

double clae_pca_explained_variance(const clae_pca *p)
{
    if (!p) return NAN;
    double kept = 0.0, all = 0.0;
    for (size_t i = p->D; i-- > 0;) {
        all += p->eigval[i];
        if (i < (size_t)p->k) kept += p->eigval[i];
    }
    return all > 0.0 ? kept / all : NAN;
}

/* Row r's (1/D)·Σ(x̂ − x)² in double, x̂ = μ + U·Uᵀ·(x − μ); c and code are D and k doubles of scratch. */
static double row_error(const clae_pca *p, const float *x, double *c, double *code)
{
    const size_t D = p->D, k = (size_t)p->k;
    for (size_t i = 0; i < D; i++) c[i] = (double)x[i] - p->mean[i];
    for (size_t j = 0; j < k; j++) {
        const double *u = p->Ut + j * D;
        double s = 0.0;
        for (size_t i = 0; i < D; i++) s += u[i] * c[i];
        code[j] = s;
    }
    /* c becomes U·code − c = x̂ − x, a direction at a time. */
    for (size_t i = 0; i < D; i++) c[i] = -c[i];
    for (size_t j = 0; j < k; j++) {
        const double *u = p->Ut + j * D, a = code[j];
        for (size_t i = 0; i < D; i++) c[i] += a * u[i];
    }
    double e = 0.0;
    for (size_t i = 0; i < D; i++) e += c[i] * c[i];
    return e / (double)D;
}

/* The errors of rows of x into err (floats) and/or their mean into *mean (double); either may be NULL. */
static clae_status errors(const clae_pca *p, const float *x, size_t rows, float *err, double *mean, const char *what)
{
    if (!p || (!x && rows > 0)) return clae_fail(CLAE_ERR_ARG, "%s: the PCA and x must not be NULL", what);
    double *c = malloc((p->D + (size_t)p->k) * sizeof *c);
    if (!c) return clae_fail(CLAE_ERR_NOMEM, "%s: out of host memory", what);
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++) {
        const double e = row_error(p, x + r * p->D, c, c + p->D);
        if (err) err[r] = (float)e;
        sum += e;
    }
    free(c);
    if (mean) *mean = rows ? sum / (double)rows : NAN;
    return CLAE_OK;
}

clae_status clae_pca_row_errors(const clae_pca *p, const float *x, size_t rows, float *err)
{
    if (!err && rows > 0) return clae_fail(CLAE_ERR_ARG, "pca_row_errors: err must not be NULL");
    return errors(p, x, rows, err, NULL, "pca_row_errors");
}

clae_status clae_pca_mse(const clae_pca *p, const float *x, size_t rows, double *mse)
{
    if (!mse) return clae_fail(CLAE_ERR_ARG, "pca_mse: mse must not be NULL");
    if (rows == 0) return clae_fail(CLAE_ERR_ARG, "pca_mse: no rows: the mean of nothing is undefined");
    return errors(p, x, rows, NULL, mse, "pca_mse");
}

/* The singular values of the k×k matrix A (column-major; overwritten), descending, by LAPACK's dgesvd; the
 * _work form for the reason eigen() gives. */
static clae_status singular_values(double *A, int k, double *s)
{
    double q = 0.0, dummy = 0.0;
    lapack_int info = LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'N', 'N', k, k, A, k, s, &dummy, 1, &dummy, 1, &q, -1);
    if (info == 0) {
        const lapack_int lwork = (lapack_int)q;
        double *work = malloc((size_t)lwork * sizeof *work);
        if (!work) return clae_fail(CLAE_ERR_NOMEM, "principal_angles: out of host memory for the SVD");
        info = LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'N', 'N', k, k, A, k, s, &dummy, 1, &dummy, 1, work, lwork);
        free(work);
    }
    if (info != 0)
        return clae_fail(CLAE_ERR_NUMERIC, "principal_angles: LAPACK dgesvd failed on a %d×%d matrix (info %d)", k, k,
                         (int)info);
    return CLAE_OK;
}

static clae_status angles(clae_model *m, const clae_pca *p, double *cosines)
{
    if (!p || !cosines) return clae_fail(CLAE_ERR_ARG, "principal_angles: the PCA and cosines must not be NULL");
    clae_model_config c;
    clae_model_get_config(m, &c);
    const int M = c.n_layers, k = p->k;
    const size_t D = p->D;
    const clae_layer *L = M > 0 ? clae_model_dense(m, M - 1) : NULL;
    size_t nw = 0, nb = 0;
    if (L) TRY(clae_model_layer_sizes(m, M - 1, &nw, &nb));
    if (!L || L->kind != &clae_layer_dense || (size_t)c.sizes[M] != D || (size_t)c.sizes[M - 1] != (size_t)k ||
        nw != D * (size_t)k)
        return clae_fail(CLAE_ERR_SHAPE,
                         "principal_angles: the model's last weight layer (layer %d of %s) is not a dense %zu×%d "
                         "decoder; PCA of %zu features with %d components is compared with the decoder of "
                         "%zu,dense:%d:linear,dense:%zu:linear",
                         M - 1, clae_model_arch(m), D, k, D, k, D, k, D);
    float *W = malloc(nw * sizeof *W);
    double *Q = malloc(D * (size_t)k * sizeof *Q), *A = malloc((size_t)k * (size_t)k * sizeof *A);
    clae_status s = CLAE_OK;
    if (!W || !Q || !A) {
        s = clae_fail(CLAE_ERR_NOMEM, "principal_angles: out of host memory for a %zu×%d decoder", D, k);
        goto done;
    }
    s = clae_model_get_layer(m, M - 1, W, NULL);
    if (s != CLAE_OK) goto done;
    /* Row j of Q (k×D) starts as column j of W (D×k, PyTorch's out×in), then modified Gram–Schmidt, twice: one
     * pass leaves a loss of orthogonality of order ε·κ(W), the second brings it to ε ("twice is enough": Giraud,
     * Langou & Rozložník 2005). */
    for (int j = 0; j < k; j++)
        for (size_t i = 0; i < D; i++) Q[(size_t)j * D + i] = W[i * (size_t)k + (size_t)j];
    for (int j = 0; j < k; j++) {
        double *q = Q + (size_t)j * D, n0 = 0.0, n = 0.0;
        for (size_t i = 0; i < D; i++) n0 += q[i] * q[i];
        for (int pass = 0; pass < 2; pass++)
            for (int a = 0; a < j; a++) {
                const double *qa = Q + (size_t)a * D;
                double r = 0.0;
                for (size_t i = 0; i < D; i++) r += qa[i] * q[i];
                for (size_t i = 0; i < D; i++) q[i] -= r * qa[i];
            }
        for (size_t i = 0; i < D; i++) n += q[i] * q[i];
        /* What is left of a column that the others (nearly) span is rounding, not a direction. */
        if (!isfinite(n0)) {
            s = clae_fail(CLAE_ERR_NUMERIC, "principal_angles: the decoder's column %d holds a value that is not "
                                            "finite", j);
            goto done;
        }
        if (!(n > 1e-24 * n0)) {
            s = clae_fail(CLAE_ERR_NUMERIC, "principal_angles: the decoder's column %d is %s the columns before it: "
                                            "its %d columns span fewer than %d dimensions",
                          j, n0 == 0.0 ? "zero, so it adds nothing to" : "a combination of", k, k);
            goto done;
        }
        n = sqrt(n);
        for (size_t i = 0; i < D; i++) q[i] /= n;
    }
    /* A = Q_Wᵀ·U_k (k×k, column-major: A[a + b·k] = q_a·u_b); its singular values are the cosines. */
    for (int b = 0; b < k; b++)
        for (int a = 0; a < k; a++) {
            const double *qa = Q + (size_t)a * D, *ub = p->Ut + (size_t)b * D;
            double r = 0.0;
            for (size_t i = 0; i < D; i++) r += qa[i] * ub[i];
            A[a + b * k] = r;
        }
    s = singular_values(A, k, cosines);
    if (s != CLAE_OK) goto done;
    /* Both bases are orthonormal, so the values are at most 1 but for rounding: keep them cosines. */
    for (int j = 0; j < k; j++)
        if (cosines[j] > 1.0) cosines[j] = 1.0;
done:
    free(W);
    free(Q);
    free(A);
    return s;
}

clae_status clae_model_principal_angles(clae_model *m, const clae_pca *p, double *cosines)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "principal_angles: model is NULL");
    return clae_model_record(m, angles(m, p, cosines));
}
