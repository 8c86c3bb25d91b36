/* dataio.c — the loader that picks a reader for a path (by its extension, else by its first bytes) and
 * what the CSV and NPY readers share: opening the byte source, wrapping the matrix into a dataset. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clae.h"
#include "io/dataio.h"
#include "io/datasrc.h"
#include "runtime/error.h"

clae_status clae_dataset_wrap(const char *path, clae_data_format format, float *x, size_t rows, size_t cols,
                              char **names, clae_dataset **out)
{
    clae_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        free(x);
        if (names)
            for (size_t j = 0; j < cols; j++) free(names[j]);
        free(names);
        return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory", path);
    }
    ds->format = format;
    ds->names = names;
    /* Give back the growth slack of the CSV reader's doubling. */
    float *shrunk = realloc(x, rows * cols * sizeof *x);
    ds->x = shrunk ? shrunk : x;
    ds->rows = rows;
    ds->cols = cols;
    snprintf(ds->path, sizeof ds->path, "%s", path);
    *out = ds;
    return CLAE_OK;
}

clae_status clae_dataset_load_with(const char *path, clae_dataset **out, const char *fn,
                                   clae_status (*reader)(clae_src *, clae_dataset **))
{
    if (out) *out = NULL;
    if (!path || !out) return clae_fail(CLAE_ERR_ARG, "%s: path and out must not be NULL", fn);
    clae_src src;
    clae_status st = clae_src_open(&src, path);
    if (st != CLAE_OK) return st;
    st = reader(&src, out);
    clae_src_close(&src);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Choosing a reader                                                         */
/* ------------------------------------------------------------------------ */

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (m > n) return 0;
    for (size_t k = 0; k < m; k++)
        if (tolower((unsigned char)s[n - m + k]) != tolower((unsigned char)suffix[k])) return 0;
    return 1;
}

/* Whether path names ext, alone or followed by ".gz". */
static int names_ext(const char *path, const char *ext)
{
    if (ends_with_ci(path, ext)) return 1;
    size_t n = strlen(path);
    if (!ends_with_ci(path, ".gz")) return 0;
    char stem[1024];
    if (n - 3 >= sizeof stem) return 0;
    memcpy(stem, path, n - 3);
    stem[n - 3] = '\0';
    return ends_with_ci(stem, ext);
}

/* Bytes 0, 0, a type IDX defines and 1 to 4 dimensions: the IDX magic. */
static int looks_like_idx(const unsigned char *m, size_t n)
{
    if (n < 4 || m[0] != 0 || m[1] != 0 || m[3] < 1 || m[3] > 4) return 0;
    return m[2] == 0x08 || m[2] == 0x09 || m[2] == 0x0B || m[2] == 0x0C || m[2] == 0x0D || m[2] == 0x0E;
}

clae_status clae_dataset_load(const char *path, clae_dataset **out)
{
    if (out) *out = NULL;
    if (!path || !out) return clae_fail(CLAE_ERR_ARG, "clae_dataset_load: path and out must not be NULL");
    const int is_stdin = strcmp(path, "-") == 0;
    clae_status (*reader)(clae_src *, clae_dataset **) = NULL;
    if (!is_stdin) {
        if (names_ext(path, ".csv") || names_ext(path, ".tsv")) reader = clae_csv_load_src;
        else if (names_ext(path, ".npy")) reader = clae_npy_load_src;
    }
    clae_src src;
    clae_status st = clae_src_open(&src, path);
    if (st != CLAE_OK) return st;
    if (!reader) {
        /* An .npy saved under another name still says so in its first bytes;
         * a pipe has no name, so only its bytes can tell. */
        const unsigned char *m = NULL;
        size_t got = clae_src_peek(&src, &m, 6);
        if (src.st != CLAE_OK) {
            st = src.st;
            clae_src_close(&src);
            return st;
        }
        if (got == 6 && memcmp(m, clae_npy_magic, 6) == 0) reader = clae_npy_load_src;
        else if (is_stdin && !looks_like_idx(m, got)) reader = clae_csv_load_src;
        else reader = clae_idx_load_src;
    }
    st = reader(&src, out);
    clae_src_close(&src);
    return st;
}
