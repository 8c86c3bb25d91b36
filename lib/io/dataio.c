/* dataio.c — data in and out beyond IDX: CSV and NPY readers (files, .gz, stdin), the loader that picks
 * one, CSV/NPY matrix writers (temp file + rename) and per-column min-max / z-score / normalize scaling. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "clae.h"
#include "io/datasrc.h"
#include "io/safetensors.h" /* clae_atomic_* */
#include "runtime/error.h"

/* Bytes read and converted per fread for NPY data: the same trade-off as the
 * IDX reader's chunk. */
#define NPY_CHUNK (64u * 1024u)

/* The longest NPY header accepted. numpy writes a few hundred bytes; format
 * 2.0 allows 4 GB, but a header that large is corruption, not a real array. */
#define NPY_MAX_HEADER (1u << 20)

/* The smallest magnitude that rounds to infinity as a float: FLT_MAX plus
 * half its ulp (2^104), the midpoint rounding up because FLT_MAX is odd.
 * Below it a value rounds to a finite float, e.g. FLT_MAX printed with "%.9g". */
#define FLOAT_OVERFLOW ((double)FLT_MAX + 0x1p103)

/* A cell longer than this is cut in messages so one bad line cannot flood a terminal. */
#define CELL_SHOW 40

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

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

/* Wraps a loaded matrix into a dataset, taking ownership of x (and of names,
 * cols entries or NULL). */
static clae_status make_dataset(const char *path, clae_data_format format, float *x, size_t rows, size_t cols,
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

/* ------------------------------------------------------------------------ */
/* CSV                                                                       */
/* ------------------------------------------------------------------------ */

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
    if (fabs(d) >= FLOAT_OVERFLOW) return NUM_RANGE;
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
        size_t len = strlen(c->cell[j]) + 1;
        names[j] = malloc(len);
        if (!names[j]) {
            for (size_t k = 0; k < j; k++) free(names[k]);
            free(names);
            return NULL;
        }
        memcpy(names[j], c->cell[j], len);
    }
    return names;
}

static clae_status csv_load(clae_src *src, clae_dataset **out)
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
    return make_dataset(path, CLAE_FORMAT_CSV, data.x, rows, cols, names, out);
}

/* Opens path as a source and runs one reader on it. */
static clae_status load_with(const char *path, clae_dataset **out, const char *fn,
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

clae_status clae_dataset_load_csv(const char *path, clae_dataset **out)
{
    return load_with(path, out, "clae_dataset_load_csv", csv_load);
}

/* ------------------------------------------------------------------------ */
/* NPY                                                                       */
/* ------------------------------------------------------------------------ */

typedef enum { NPY_F4, NPY_F8, NPY_U1 } npy_dtype;

typedef struct npy_header {
    int have_descr, have_fortran, have_shape;
    char descr[32];
    int fortran;
    int ndim;
    size_t shape[32];
} npy_header;

/* A cursor over the header, a Python dict literal as numpy writes it:
 * {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } */
typedef struct npy_cursor {
    const char *p, *end;
    const char *path;
} npy_cursor;

static void npy_ws(npy_cursor *c)
{
    while (c->p < c->end && isspace((unsigned char)*c->p)) c->p++;
}

static int npy_eat(npy_cursor *c, char ch)
{
    npy_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string ('...' or "...") into buf; 0 if there is none or it does not fit. */
static int npy_string(npy_cursor *c, char *buf, size_t cap)
{
    npy_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (n + 1 >= cap) return 0;
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    buf[n] = '\0';
    return 1;
}

static clae_status npy_bad_header(const npy_cursor *c, const char *hdr, const char *what)
{
    return clae_fail(CLAE_ERR_FORMAT, "%s: NPY header: %s at byte %zu", c->path, what, (size_t)(c->p - hdr));
}

static clae_status npy_parse_header(const char *path, const char *hdr, size_t len, npy_header *h)
{
    npy_cursor c = {hdr, hdr + len, path};
    memset(h, 0, sizeof *h);
    if (!npy_eat(&c, '{')) return npy_bad_header(&c, hdr, "expected '{'");
    for (;;) {
        if (npy_eat(&c, '}')) break;
        char key[32];
        if (!npy_string(&c, key, sizeof key)) return npy_bad_header(&c, hdr, "expected a quoted key");
        if (!npy_eat(&c, ':')) return npy_bad_header(&c, hdr, "expected ':'");
        npy_ws(&c);
        if (strcmp(key, "descr") == 0) {
            if (c.p < c.end && *c.p == '[')
                return clae_fail(CLAE_ERR_FORMAT, "%s: structured NPY dtype not supported (clae reads '<f4', "
                                 "'<f8' and '|u1')", path);
            if (!npy_string(&c, h->descr, sizeof h->descr)) return npy_bad_header(&c, hdr, "bad 'descr'");
            h->have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if ((size_t)(c.end - c.p) >= 4 && memcmp(c.p, "True", 4) == 0) {
                h->fortran = 1;
                c.p += 4;
            } else if ((size_t)(c.end - c.p) >= 5 && memcmp(c.p, "False", 5) == 0) {
                h->fortran = 0;
                c.p += 5;
            } else {
                return npy_bad_header(&c, hdr, "'fortran_order' is not True or False");
            }
            h->have_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (!npy_eat(&c, '(')) return npy_bad_header(&c, hdr, "'shape' is not a tuple");
            for (;;) {
                if (npy_eat(&c, ')')) break;
                npy_ws(&c);
                if (c.p >= c.end || !isdigit((unsigned char)*c.p))
                    return npy_bad_header(&c, hdr, "expected a dimension");
                size_t v = 0;
                while (c.p < c.end && isdigit((unsigned char)*c.p)) {
                    size_t dgt = (size_t)(*c.p++ - '0');
                    if (v > (SIZE_MAX - dgt) / 10) return npy_bad_header(&c, hdr, "dimension overflows");
                    v = v * 10 + dgt;
                }
                if (c.p < c.end && *c.p == 'L') c.p++; /* Python 2 longs in old files */
                if (h->ndim == (int)(sizeof h->shape / sizeof h->shape[0]))
                    return npy_bad_header(&c, hdr, "too many dimensions");
                h->shape[h->ndim++] = v;
                if (npy_eat(&c, ')')) break;
                if (!npy_eat(&c, ',')) return npy_bad_header(&c, hdr, "expected ',' or ')' in 'shape'");
            }
            h->have_shape = 1;
        } else {
            return clae_fail(CLAE_ERR_FORMAT, "%s: NPY header has an unexpected key '%s'", path, key);
        }
        if (npy_eat(&c, '}')) break;
        if (!npy_eat(&c, ',')) return npy_bad_header(&c, hdr, "expected ',' or '}'");
    }
    if (!h->have_descr) return clae_fail(CLAE_ERR_FORMAT, "%s: NPY header has no 'descr'", path);
    if (!h->have_fortran) return clae_fail(CLAE_ERR_FORMAT, "%s: NPY header has no 'fortran_order'", path);
    if (!h->have_shape) return clae_fail(CLAE_ERR_FORMAT, "%s: NPY header has no 'shape'", path);
    return CLAE_OK;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static clae_status npy_load(clae_src *src, clae_dataset **out)
{
    const char *path = src->name;
    unsigned char pre[12];
    size_t n = clae_src_read(src, pre, 8);
    if (src->st != CLAE_OK) return src->st;
    /* Like the IDX reader: until the magic is recognised a short file is just
     * not NPY (format); after it, every shortfall is truncation. */
    if (n < 6 || memcmp(pre, npy_magic, 6) != 0)
        return clae_fail(CLAE_ERR_FORMAT, "%s: not an NPY file (no \\x93NUMPY magic string)", path);
    if (n < 8) return clae_fail(CLAE_ERR_TRUNCATED, "%s: truncated: NPY file ends inside its version", path);
    unsigned major = pre[6], minor = pre[7];
    if (major < 1 || major > 3)
        return clae_fail(CLAE_ERR_FORMAT, "%s: NPY format version %u.%u not supported (1.0, 2.0, 3.0)", path, major,
                         minor);
    size_t lenbytes = major == 1 ? 2 : 4;
    if (clae_src_read(src, pre + 8, lenbytes) != lenbytes)
        return src->st != CLAE_OK ? src->st : clae_fail(CLAE_ERR_TRUNCATED, "%s: truncated: NPY file ends inside its header length", path);
    size_t hlen = major == 1 ? (size_t)pre[8] | ((size_t)pre[9] << 8) : (size_t)le32(pre + 8);
    if (hlen > NPY_MAX_HEADER)
        return clae_fail(CLAE_ERR_FORMAT, "%s: NPY header length %zu is implausible", path, hlen);
    char *hdr = malloc(hlen + 1);
    if (!hdr) return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory", path);
    size_t got = clae_src_read(src, hdr, hlen);
    if (got != hlen) {
        free(hdr);
        if (src->st != CLAE_OK) return src->st;
        return clae_fail(CLAE_ERR_TRUNCATED, "%s: truncated: NPY header is %zu bytes, file has %zu", path, hlen, got);
    }
    hdr[hlen] = '\0';
    npy_header h;
    clae_status st = npy_parse_header(path, hdr, hlen, &h);
    free(hdr);
    if (st != CLAE_OK) return st;

    npy_dtype dt;
    size_t es;
    if (strcmp(h.descr, "<f4") == 0) {
        dt = NPY_F4;
        es = 4;
    } else if (strcmp(h.descr, "<f8") == 0) {
        dt = NPY_F8;
        es = 8;
    } else if (strcmp(h.descr, "|u1") == 0 || strcmp(h.descr, "<u1") == 0 || strcmp(h.descr, ">u1") == 0 ||
               strcmp(h.descr, "=u1") == 0) {
        /* Byte order means nothing for one byte; numpy writes '|'. */
        dt = NPY_U1;
        es = 1;
    } else {
        return clae_fail(CLAE_ERR_FORMAT, "%s: NPY dtype '%s' not supported (clae reads '<f4', '<f8' and '|u1')",
                         path, h.descr);
    }
    if (h.fortran)
        return clae_fail(CLAE_ERR_FORMAT,
                         "%s: NPY array is in Fortran order (fortran_order: True); save it in C order "
                         "(numpy.ascontiguousarray)", path);
    if (h.ndim == 0) return clae_fail(CLAE_ERR_FORMAT, "%s: NPY array has shape () (a scalar, not rows)", path);
    for (int d = 0; d < h.ndim; d++)
        if (h.shape[d] == 0) return clae_fail(CLAE_ERR_FORMAT, "%s: NPY dimension %d is 0", path, d);
    size_t rows = h.shape[0], cols = 1;
    for (int d = 1; d < h.ndim; d++) {
        if (cols > SIZE_MAX / h.shape[d])
            return clae_fail(CLAE_ERR_FORMAT, "%s: NPY dimensions overflow the address space", path);
        cols *= h.shape[d];
    }
    if (cols > SIZE_MAX / sizeof(double) / rows)
        return clae_fail(CLAE_ERR_FORMAT, "%s: NPY dimensions overflow the address space", path);
    size_t total = rows * cols;

    float *x = malloc(total * sizeof *x);
    unsigned char *chunk = x ? malloc(NPY_CHUNK) : NULL;
    if (!chunk) {
        free(x);
        return clae_fail(CLAE_ERR_NOMEM, "%s: cannot allocate %zu x %zu floats", path, rows, cols);
    }
    size_t done = 0; /* elements */
    const size_t per = NPY_CHUNK / es;
    while (done < total && st == CLAE_OK) {
        size_t want = total - done < per ? total - done : per;
        size_t bytes = clae_src_read(src, chunk, want * es);
        if (src->st != CLAE_OK) {
            st = src->st;
            break;
        }
        size_t k, m = bytes / es;
        for (k = 0; k < m; k++) {
            const unsigned char *p = chunk + k * es;
            double v;
            if (dt == NPY_U1) {
                /* Stored bytes are divided by their range (the rule at clae_dataset in
                 * clae.h), by the IDX reader's expression: the same bytes load as the
                 * same floats. */
                v = (float)p[0] / 255.0f;
            } else if (dt == NPY_F4) {
                uint32_t u = le32(p);
                float f;
                memcpy(&f, &u, sizeof f);
                v = f;
            } else {
                uint64_t u = (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32);
                memcpy(&v, &u, sizeof v);
            }
            if (!isfinite(v) || fabs(v) >= FLOAT_OVERFLOW) {
                size_t e = done + k;
                st = clae_fail(CLAE_ERR_FORMAT, "%s: row %zu, column %zu (from 0): %g %s", path, e / cols, e % cols, v,
                               isfinite(v) ? "is out of float range" : "is not a finite number");
                break;
            }
            x[done + k] = (float)v;
        }
        done += m;
        if (st == CLAE_OK && bytes < want * es)
            st = clae_fail(CLAE_ERR_TRUNCATED, "%s: truncated: NPY header promises %zu bytes of data, file has %zu",
                           path, total * es, done * es + bytes % es);
    }
    free(chunk);
    if (st != CLAE_OK) {
        free(x);
        return st;
    }
    return make_dataset(path, CLAE_FORMAT_NPY, x, rows, cols, NULL, out);
}

clae_status clae_dataset_load_npy(const char *path, clae_dataset **out)
{
    return load_with(path, out, "clae_dataset_load_npy", npy_load);
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
        if (names_ext(path, ".csv") || names_ext(path, ".tsv")) reader = csv_load;
        else if (names_ext(path, ".npy")) reader = npy_load;
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
        if (got == 6 && memcmp(m, npy_magic, 6) == 0) reader = npy_load;
        else if (is_stdin && !looks_like_idx(m, got)) reader = csv_load;
        else reader = clae_idx_load_src;
    }
    st = reader(&src, out);
    clae_src_close(&src);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Writers                                                                   */
/* ------------------------------------------------------------------------ */

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
    }
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        for (size_t j = 0; j < cols; j++) fprintf(af.fp, j ? ",%.9g" : "%.9g", (double)row[j]);
        fputc('\n', af.fp);
        /* Stop early on a full disk instead of formatting millions of cells
         * into a failed stream; commit reports it. */
        if (ferror(af.fp)) break;
    }
    return clae_atomic_commit(&af);
}

clae_status clae_matrix_save_npy(const char *path, const float *x, size_t rows, size_t cols)
{
    if (!path || (!x && rows > 0 && cols > 0))
        return clae_fail(CLAE_ERR_ARG, "clae_matrix_save_npy: path and x must not be NULL");
    char dict[160];
    int dlen = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows,
                        cols);
    /* magic(6) + version(2) + length(2) + header, padded with spaces and a final
     * '\n' to a multiple of 64 bytes, as numpy does for aligned memory maps. */
    size_t total = 10 + (size_t)dlen + 1;
    total = (total + 63) & ~(size_t)63;
    size_t hlen = total - 10;
    unsigned char pre[10];
    memcpy(pre, npy_magic, 6);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);

    clae_atomic_file af;
    clae_status st = clae_atomic_open(&af, path);
    if (st != CLAE_OK) return st;
    fwrite(pre, 1, sizeof pre, af.fp);
    fwrite(dict, 1, (size_t)dlen, af.fp);
    for (size_t k = 10 + (size_t)dlen; k + 1 < total; k++) fputc(' ', af.fp);
    fputc('\n', af.fp);
    size_t n = rows * cols;
    if (host_is_little_endian()) {
        if (n) fwrite(x, sizeof *x, n, af.fp);
    } else {
        for (size_t k = 0; k < n && !ferror(af.fp); k++) {
            uint32_t u;
            memcpy(&u, &x[k], sizeof u);
            unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                                  (unsigned char)(u >> 24)};
            fwrite(b, 1, 4, af.fp);
        }
    }
    return clae_atomic_commit(&af);
}

/* ------------------------------------------------------------------------ */
/* Scaling                                                                   */
/* ------------------------------------------------------------------------ */

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
