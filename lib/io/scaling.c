/* scaling.c — per-column scaling of a dataset (min-max, z-score, normalize): fitting it on training data,
 * setting it from saved parameters, applying it and inverting it on reconstructions. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clae.h"
#include "runtime/error.h"

static const char *const scale_names[CLAE_SCALE_COUNT] = {
    [CLAE_SCALE_NONE] = "none",
    [CLAE_SCALE_MINMAX] = "minmax",
    [CLAE_SCALE_ZSCORE] = "zscore",
    [CLAE_SCALE_NORMALIZE] = "normalize",
};

const char *clae_scale_kind_name(clae_scale_kind kind)
{
    if ((int)kind < 0 || kind >= CLAE_SCALE_COUNT) return "?";
    return scale_names[kind];
}

clae_status clae_scale_kind_parse(const char *word, clae_scale_kind *out)
{
    if (!word || !out) return clae_fail(CLAE_ERR_ARG, "clae_scale_kind_parse: word and out must not be NULL");
    for (int k = 0; k < CLAE_SCALE_COUNT; k++) {
        if (strcmp(word, scale_names[k]) == 0) {
            *out = (clae_scale_kind)k;
            return CLAE_OK;
        }
    }
    return clae_fail(CLAE_ERR_ARG, "unknown scaling '%s' (expected none, minmax, zscore or normalize)", word);
}

void clae_scaling_free(clae_scaling *s)
{
    if (!s) return;
    free(s->offset);
    free(s->scale);
    s->offset = s->scale = NULL;
    s->kind = CLAE_SCALE_NONE;
    s->cols = 0;
}

/* 1/width, or 1 when the column is constant or so narrow that the inverse
 * would not be a finite float: such a column carries no usable spread. */
static float inverse_or_one(double width)
{
    if (!(width > 0.0)) return 1.0f;
    double inv = 1.0 / width;
    if (!(inv <= FLT_MAX)) return 1.0f;
    return (float)inv;
}

clae_status clae_scaling_fit(const clae_dataset *ds, clae_scale_kind kind, clae_scaling *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (!ds || !out || !ds->x) return clae_fail(CLAE_ERR_ARG, "clae_scaling_fit: dataset and out must not be NULL");
    if ((int)kind < 0 || kind >= CLAE_SCALE_COUNT)
        return clae_fail(CLAE_ERR_ARG, "clae_scaling_fit: unknown scaling kind %d", (int)kind);
    if (ds->rows == 0 || ds->cols == 0)
        return clae_fail(CLAE_ERR_ARG, "%s: cannot fit a scaling on an empty dataset", ds->path);
    if (kind == CLAE_SCALE_NONE) {
        out->cols = ds->cols;
        return CLAE_OK;
    }
    const size_t R = ds->rows, C = ds->cols;
    float *off = malloc(C * sizeof *off), *sc = malloc(C * sizeof *sc);
    double *a = calloc(C, sizeof *a), *b = calloc(C, sizeof *b);
    if (!off || !sc || !a || !b) {
        free(off);
        free(sc);
        free(a);
        free(b);
        return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory fitting a scaling", ds->path);
    }
    /* Row-major passes over the data keep the reads sequential; the per-column
     * accumulators are a and b. */
    if (kind == CLAE_SCALE_MINMAX || kind == CLAE_SCALE_NORMALIZE) {
        for (size_t j = 0; j < C; j++) a[j] = b[j] = ds->x[j];
        for (size_t r = 1; r < R; r++) {
            const float *row = ds->x + r * C;
            for (size_t j = 0; j < C; j++) {
                if (row[j] < a[j]) a[j] = row[j];
                if (row[j] > b[j]) b[j] = row[j];
            }
        }
        for (size_t j = 0; j < C; j++) {
            off[j] = (float)a[j];
            sc[j] = inverse_or_one(b[j] - a[j]);
        }
        if (kind == CLAE_SCALE_NORMALIZE) {
            /* h2o's NORMALIZE: the offset is the mean, the span stays max − min
             * (so a column's values lie within [-1, 1] and its mean maps to 0,
             * the value input dropout then stands for). */
            for (size_t j = 0; j < C; j++) a[j] = 0.0;
            for (size_t r = 0; r < R; r++)
                for (size_t j = 0; j < C; j++) a[j] += ds->x[r * C + j];
            for (size_t j = 0; j < C; j++) off[j] = (float)(a[j] / (double)R);
        }
    } else {
        /* Two passes (mean, then squared deviations) rather than Σx² − n·mean²,
         * which cancels catastrophically for data far from zero. */
        for (size_t r = 0; r < R; r++)
            for (size_t j = 0; j < C; j++) a[j] += ds->x[r * C + j];
        for (size_t j = 0; j < C; j++) a[j] /= (double)R;
        for (size_t r = 0; r < R; r++)
            for (size_t j = 0; j < C; j++) {
                double d = ds->x[r * C + j] - a[j];
                b[j] += d * d;
            }
        for (size_t j = 0; j < C; j++) {
            off[j] = (float)a[j];
            sc[j] = inverse_or_one(sqrt(b[j] / (double)R));
        }
    }
    free(a);
    free(b);
    out->kind = kind;
    out->cols = C;
    out->offset = off;
    out->scale = sc;
    return CLAE_OK;
}

clae_status clae_scaling_set(clae_scale_kind kind, size_t cols, const float *offset, const float *scale,
                             clae_scaling *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (!out) return clae_fail(CLAE_ERR_ARG, "clae_scaling_set: out must not be NULL");
    if ((int)kind < 0 || kind >= CLAE_SCALE_COUNT)
        return clae_fail(CLAE_ERR_ARG, "clae_scaling_set: unknown scaling kind %d", (int)kind);
    if (kind == CLAE_SCALE_NONE) {
        out->cols = cols;
        return CLAE_OK;
    }
    if (cols == 0 || !offset || !scale)
        return clae_fail(CLAE_ERR_ARG, "clae_scaling_set: %s scaling needs cols > 0, offsets and scales",
                         scale_names[kind]);
    for (size_t j = 0; j < cols; j++) {
        if (!isfinite(offset[j]))
            return clae_fail(CLAE_ERR_ARG, "%s scaling: offset of column %zu is not finite", scale_names[kind], j);
        if (!isfinite(scale[j]) || scale[j] == 0.0f)
            return clae_fail(CLAE_ERR_ARG, "%s scaling: scale of column %zu is %g (must be finite and non-zero)",
                             scale_names[kind], j, (double)scale[j]);
    }
    float *off = malloc(cols * sizeof *off), *sc = malloc(cols * sizeof *sc);
    if (!off || !sc) {
        free(off);
        free(sc);
        return clae_fail(CLAE_ERR_NOMEM, "out of memory for a %zu-column scaling", cols);
    }
    memcpy(off, offset, cols * sizeof *off);
    memcpy(sc, scale, cols * sizeof *sc);
    out->kind = kind;
    out->cols = cols;
    out->offset = off;
    out->scale = sc;
    return CLAE_OK;
}

clae_status clae_scaling_apply(const clae_scaling *s, clae_dataset *ds)
{
    if (!s || !ds) return clae_fail(CLAE_ERR_ARG, "clae_scaling_apply: scaling and dataset must not be NULL");
    if (s->kind != CLAE_SCALE_NONE || s->cols != 0) {
        if (ds->cols != s->cols)
            return clae_fail(CLAE_ERR_SHAPE, "%s: data has %zu columns, the %s scaling was fitted on %zu", ds->path,
                             ds->cols, clae_scale_kind_name(s->kind), s->cols);
    }
    if (s->kind == CLAE_SCALE_NONE) return CLAE_OK;
    if (!s->offset || !s->scale) return clae_fail(CLAE_ERR_ARG, "clae_scaling_apply: scaling has no parameters");
    for (size_t r = 0; r < ds->rows; r++) {
        float *row = ds->x + r * ds->cols;
        /* In double, then rounded once, so the result does not depend on
         * whether the compiler contracts the two operations. */
        for (size_t j = 0; j < ds->cols; j++)
            row[j] = (float)(((double)row[j] - (double)s->offset[j]) * (double)s->scale[j]);
    }
    return CLAE_OK;
}

clae_status clae_scaling_invert(const clae_scaling *s, float *x, size_t rows, size_t cols)
{
    if (!s || (!x && rows > 0 && cols > 0))
        return clae_fail(CLAE_ERR_ARG, "clae_scaling_invert: scaling and x must not be NULL");
    if ((s->kind != CLAE_SCALE_NONE || s->cols != 0) && cols != s->cols)
        return clae_fail(CLAE_ERR_SHAPE, "matrix has %zu columns, the %s scaling was fitted on %zu", cols,
                         clae_scale_kind_name(s->kind), s->cols);
    if (s->kind == CLAE_SCALE_NONE) return CLAE_OK;
    if (!s->offset || !s->scale) return clae_fail(CLAE_ERR_ARG, "clae_scaling_invert: scaling has no parameters");
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * cols;
        for (size_t j = 0; j < cols; j++)
            row[j] = (float)((double)row[j] / (double)s->scale[j] + (double)s->offset[j]);
    }
    return CLAE_OK;
}
