/* csv.c — the CSV reader (separator, header and quoting detection; files, .gz, stdin) and the CSV
 * matrix writer (temp file + rename). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clae.h"
#include "io/dataio.h"
#include "io/datasrc.h"
#include "io/safetensors.h" /* clae_atomic_* */
#include "runtime/error.h"

/* A cell longer than this is cut in messages so one bad line cannot flood a terminal. */
#define CELL_SHOW 40

/* A growable float array for readers that learn the row count as they go. */
typedef struct fvec {
    float *x;
    size_t n, cap;
} fvec;

static int fvec_push(fvec *v, float f)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap : 4096;
        if (v->cap) {
            if (cap > SIZE_MAX / 2 / sizeof *v->x) return 0;
            cap *= 2;
        }
        float *x = realloc(v->x, cap * sizeof *x);
        if (!x) return 0;
        v->x = x;
        v->cap = cap;
    }
    v->x[v->n++] = f;
    return 1;
}


typedef struct csv_cells {
    char **cell;
    size_t n, cap;
} csv_cells;

static int is_blank_char(char c, char sep) { return (c == ' ' || c == '\t') && c != sep; }

/* Splits line[0..len) in place into NUL-terminated, unquoted, trimmed cells.
 * Unquoting only ever shortens a cell, so the write position never passes the
 * read position and one buffer suffices. */
static clae_status csv_split(const char *path, size_t lineno, char *line, size_t len, char sep, csv_cells *c)
{
    char *r = line, *end = line + len, *w = line;
    c->n = 0;
    for (;;) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 64;
            char **cell = realloc(c->cell, cap * sizeof *cell);
            if (!cell) return clae_fail(CLAE_ERR_NOMEM, "%s:%zu: out of memory", path, lineno);
            c->cell = cell;
            c->cap = cap;
        }
        size_t col = c->n + 1;
        while (r < end && is_blank_char(*r, sep)) r++;
        char *start = w;
        if (r < end && *r == '"') {
            r++;
            for (;;) {
                if (r >= end)
                    return clae_fail(CLAE_ERR_FORMAT, "%s:%zu:%zu: unterminated quote", path, lineno, col);
                if (*r == '"') {
                    if (r + 1 < end && r[1] == '"') {
                        *w++ = '"';
                        r += 2;
                        continue;
                    }
                    r++;
                    break;
                }
                *w++ = *r++;
            }
            while (r < end && is_blank_char(*r, sep)) r++;
            if (r < end && *r != sep)
                return clae_fail(CLAE_ERR_FORMAT, "%s:%zu:%zu: text after a closing quote", path, lineno, col);
        } else {
            while (r < end && *r != sep) *w++ = *r++;
            while (w > start && is_blank_char(w[-1], sep)) w--;
        }
        int more = r < end; /* r is at a separator */
        *w++ = '\0';
        c->cell[c->n++] = start;
        if (!more) break;
        r++;
    }
    return CLAE_OK;
}

typedef enum { NUM_OK, NUM_BAD, NUM_NONFINITE, NUM_RANGE } num_result;

static num_result parse_float(const char *s, float *out)
{
    if (!*s) return NUM_BAD;
    char *e = NULL;
    double d = strtod(s, &e);
    if (e == s || *e != '\0') return NUM_BAD;
    if (!isfinite(d)) return NUM_NONFINITE;
    /* strtod saturates to ±HUGE_VAL on overflow (caught above); a double
     * beyond the float range would become infinity in the cast. */
    if (fabs(d) >= CLAE_FLOAT_OVERFLOW) return NUM_RANGE;
    *out = (float)d;
    return NUM_OK;
}

static clae_status csv_bad_cell(const char *path, size_t lineno, size_t col, const char *cell, num_result why)
{
    const char *what = why == NUM_NONFINITE ? "is not a finite number"
                       : why == NUM_RANGE   ? "is out of float range"
                                            : "is not a number";
    size_t len = strlen(cell);
    return clae_fail(CLAE_ERR_FORMAT, "%s:%zu:%zu: '%.*s%s' %s", path, lineno, col, CELL_SHOW, cell,
                     len > CELL_SHOW ? "..." : "", what);
}

/* Chooses the separator from the first non-blank line. */
static char csv_pick_sep(const char *line, size_t len)
{
    if (memchr(line, ',', len)) return ',';
    if (memchr(line, ';', len)) return ';';
    if (memchr(line, '\t', len)) return '\t';
    return ',';
}

/* Copies the header's cells, which live in the line buffer the next line overwrites. */
static char **csv_copy_names(const csv_cells *c)
{
    char **names = calloc(c->n, sizeof *names);
    for (size_t j = 0; names && j < c->n; j++) {
        names[j] = strdup(c->cell[j]);
        if (!names[j]) {
            for (size_t k = 0; k < j; k++) free(names[k]);
            free(names);
            return NULL;
        }
    }
    return names;
}

clae_status clae_csv_load_src(clae_src *src, clae_dataset **out)
{
    const char *path = src->name;
    char **names = NULL;
    char *line = NULL;
    size_t linecap = 0;
    csv_cells cells = {NULL, 0, 0};
    fvec data = {NULL, 0, 0};
    clae_status st = CLAE_OK;
    size_t lineno = 0, cols = 0, rows = 0, first_line = 0;
    int header = 0;
    char sep = ',';
    long got;

    while ((got = clae_src_getline(src, &line, &linecap)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        if (memchr(line, '\0', len)) {
            st = clae_fail(CLAE_ERR_FORMAT, "%s:%zu: NUL byte (a binary file, not CSV?)", path, lineno);
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        line[len] = '\0';
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t')) k++;
        if (k == len) continue; /* blank */
        int first = cols == 0;
        if (first) sep = csv_pick_sep(line, len);
        st = csv_split(path, lineno, line, len, sep, &cells);
        if (st != CLAE_OK) break;
        if (first) {
            first_line = lineno;
            cols = cells.n;
            /* A header has at least one cell with text that is not a number; an
             * empty cell alone (pandas' unnamed index column is "") does not
             * make one, so "1,,3" on line 1 is reported as a bad cell rather
             * than silently dropped. */
            for (size_t j = 0; j < cells.n && !header; j++) {
                float v;
                header = cells.cell[j][0] != '\0' && parse_float(cells.cell[j], &v) == NUM_BAD;
            }
            if (header) {
                names = csv_copy_names(&cells);
                if (!names) {
                    st = clae_fail(CLAE_ERR_NOMEM, "%s:%zu: out of memory for the header", path, lineno);
                    break;
                }
                continue;
            }
        } else if (cells.n != cols) {
            st = clae_fail(CLAE_ERR_FORMAT, "%s:%zu: %zu columns, expected %zu (as %s line %zu)", path, lineno,
                           cells.n, cols, header ? "in the header on" : "on", first_line);
            break;
        }
        for (size_t j = 0; j < cells.n; j++) {
            float v = 0.0f;
            num_result nr = parse_float(cells.cell[j], &v);
            if (nr != NUM_OK) {
                st = csv_bad_cell(path, lineno, j + 1, cells.cell[j], nr);
                break;
            }
            if (!fvec_push(&data, v)) {
                st = clae_fail(CLAE_ERR_NOMEM, "%s:%zu: out of memory after %zu rows", path, lineno, rows);
                break;
            }
        }
        if (st != CLAE_OK) break;
        rows++;
    }
    if (st == CLAE_OK) st = src->st;
    if (st == CLAE_OK && rows == 0)
        st = header ? clae_fail(CLAE_ERR_FORMAT, "%s: no data rows after the header on line %zu", path, first_line)
                    : clae_fail(CLAE_ERR_FORMAT, "%s: empty file (no rows)", path);
    free(line);
    free(cells.cell);
    if (st != CLAE_OK) {
        if (names)
            for (size_t j = 0; j < cols; j++) free(names[j]);
        free(names);
        free(data.x);
        return st;
    }
    return clae_dataset_wrap(path, CLAE_FORMAT_CSV, data.x, rows, cols, names, out);
}

clae_status clae_dataset_load_csv(const char *path, clae_dataset **out)
{
    return clae_dataset_load_with(path, out, "clae_dataset_load_csv", clae_csv_load_src);
}

static void csv_put_name(FILE *fp, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"') fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

clae_status clae_matrix_save_csv(const char *path, const float *x, size_t rows, size_t cols,
                                 const char *const *header)
{
    if (!path || (!x && rows > 0 && cols > 0))
        return clae_fail(CLAE_ERR_ARG, "clae_matrix_save_csv: path and x must not be NULL");
    if (header)
        for (size_t j = 0; j < cols; j++)
            if (!header[j]) return clae_fail(CLAE_ERR_ARG, "%s: header name %zu is NULL", path, j);
    clae_atomic_file af;
    clae_status st = clae_atomic_open(&af, path);
    if (st != CLAE_OK) return st;
    if (header) {
        for (size_t j = 0; j < cols; j++) {
            if (j) fputc(',', af.fp);
            csv_put_name(af.fp, header[j]);
        }
        fputc('\n', af.fp);
        clae_atomic_note(&af);
    }
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        for (size_t j = 0; j < cols; j++) fprintf(af.fp, j ? ",%.9g" : "%.9g", (double)row[j]);
        fputc('\n', af.fp);
        /* Stop early on a full disk instead of formatting millions of cells
         * into a failed stream; commit reports it. */
        if (clae_atomic_note(&af)) break;
    }
    return clae_atomic_commit(&af);
}
