/* test_data.c — the data suite: IDX loading (real Fashion-MNIST and hand-made bad files),
 * truncation, gathering and the Philox shuffle, whose orders are pinned to an independent implementation. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "test_util.h"


static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_gz(const char *path, const void *data, size_t n)
{
    gzFile f = gzopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_int_eq(gzwrite(f, data, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(f), Z_OK);
}

/* An IDX uint8 header for dims[0..ndim) into buf; returns its length. */
static size_t idx_header(unsigned char *buf, int type, int ndim, const uint32_t *dims)
{
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = (unsigned char)type;
    buf[3] = (unsigned char)ndim;
    for (int d = 0; d < ndim; d++) {
        buf[4 + 4 * d] = (unsigned char)(dims[d] >> 24);
        buf[5 + 4 * d] = (unsigned char)(dims[d] >> 16);
        buf[6 + 4 * d] = (unsigned char)(dims[d] >> 8);
        buf[7 + 4 * d] = (unsigned char)dims[d];
    }
    return 4 + 4 * (size_t)ndim;
}

/* Loads path expecting status want, a NULL result and a message naming the file
 * and containing `part`. */
static void expect_fail(const char *path, clae_status want, const char *part)
{
    static clae_dataset sentinel;
    clae_dataset *ds = &sentinel; /* a failing load must reset it to NULL */
    clae_status s = clae_dataset_load_idx(path, &ds);
    ck_assert_msg(s == want, "%s: got %s, want %s (%s)", path, clae_status_string(s), clae_status_string(want),
                  clae_last_error());
    ck_assert_ptr_null(ds);
    const char *msg = clae_last_error();
    ck_assert_msg(strstr(msg, path) != NULL, "message does not name %s: %s", path, msg);
    ck_assert_msg(strstr(msg, part) != NULL, "message lacks '%s': %s", part, msg);
}

START_TEST(fashion_test_images)
{
    const char *path = test_data_path("t10k-images-idx3-ubyte.gz");
    clae_dataset *ds = NULL;
    clae_status s = clae_dataset_load_idx(path, &ds);
    ck_assert_msg(s == CLAE_OK, "%s", clae_last_error());
    ck_assert_uint_eq(ds->rows, 10000);
    ck_assert_uint_eq(ds->cols, 784);
    ck_assert_str_eq(ds->path, path);
    /* Every value must be some byte / 255: in [0,1] and on the 1/255 grid.
     * (One assertion after the loop: Check's per-assertion bookkeeping would
     * dominate the run time over 7.8 million values.) */
    size_t bad = SIZE_MAX;
    for (size_t k = 0; k < ds->rows * ds->cols && bad == SIZE_MAX; k++) {
        float v = ds->x[k], b = v * 255.0f;
        if (!(v >= 0.0f && v <= 1.0f) || fabsf(b - roundf(b)) >= 1e-3f) bad = k;
    }
    ck_assert_msg(bad == SIZE_MAX, "x[%zu] = %g is not a byte / 255", bad,
                  bad == SIZE_MAX ? 0.0 : (double)ds->x[bad]);
    /* The first test image (an ankle boot): byte sum 33456, 517 zero pixels, a
     * 255 pixel (so exactly 1.0); counted independently from the raw file. */
    double sum = 0.0;
    float mx = 0.0f;
    int zeros = 0;
    for (size_t k = 0; k < 784; k++) {
        sum += ds->x[k] * 255.0;
        if (ds->x[k] > mx) mx = ds->x[k];
        zeros += ds->x[k] == 0.0f;
    }
    ck_assert_double_eq_tol(sum, 33456.0, 0.01);
    ck_assert_float_eq(mx, 1.0f);
    ck_assert_int_eq(zeros, 517);
    /* And the last one: byte sum 24390, brightest pixel 254. */
    sum = 0.0;
    mx = 0.0f;
    for (size_t k = 0; k < 784; k++) {
        sum += ds->x[9999 * 784 + k] * 255.0;
        if (ds->x[9999 * 784 + k] > mx) mx = ds->x[9999 * 784 + k];
    }
    ck_assert_double_eq_tol(sum, 24390.0, 0.01);
    ck_assert_float_eq(mx, 254.0f / 255.0f);
    clae_dataset_free(ds);
}
END_TEST

START_TEST(fashion_labels_one_dimension)
{
    /* A 1-D IDX file is rows × 1. */
    clae_dataset *ds = NULL;
    clae_status s = clae_dataset_load_idx(test_data_path("t10k-labels-idx1-ubyte.gz"), &ds);
    ck_assert_msg(s == CLAE_OK, "%s", clae_last_error());
    ck_assert_uint_eq(ds->rows, 10000);
    ck_assert_uint_eq(ds->cols, 1);
    const int want[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    for (int k = 0; k < 10; k++) ck_assert_float_eq(ds->x[k], (float)want[k] / 255.0f);
    clae_dataset_free(ds);
}
END_TEST

START_TEST(plain_equals_gzip)
{
    const char *gz = test_data_path("t10k-images-idx3-ubyte.gz");
    gzFile in = gzopen(gz, "rb");
    ck_assert_msg(in != NULL, "cannot open %s", gz);
    FILE *out = fopen(test_tmp_path("t10k-images-idx3-ubyte"), "wb");
    ck_assert_ptr_nonnull(out);
    unsigned char buf[65536];
    int n;
    while ((n = gzread(in, buf, sizeof buf)) > 0) ck_assert_uint_eq(fwrite(buf, 1, (size_t)n, out), (size_t)n);
    ck_assert_int_eq(n, 0);
    gzclose(in);
    ck_assert_int_eq(fclose(out), 0);

    clae_dataset *a = NULL, *b = NULL;
    ck_assert_msg(clae_dataset_load_idx(gz, &a) == CLAE_OK, "%s", clae_last_error());
    ck_assert_msg(clae_dataset_load_idx(test_tmp_path("t10k-images-idx3-ubyte"), &b) == CLAE_OK, "%s",
                  clae_last_error());
    ck_assert_uint_eq(a->rows, b->rows);
    ck_assert_uint_eq(a->cols, b->cols);
    ck_assert_int_eq(memcmp(a->x, b->x, a->rows * a->cols * sizeof(float)), 0);
    clae_dataset_free(a);
    clae_dataset_free(b);
}
END_TEST

START_TEST(synthetic_dims_and_values)
{
    /* 2 × 3 × 4 bytes 0..23 plus trailing bytes, which the loader ignores. */
    unsigned char buf[64];
    const uint32_t dims[3] = {2, 3, 4};
    size_t h = idx_header(buf, 0x08, 3, dims);
    for (int k = 0; k < 24; k++) buf[h + (size_t)k] = (unsigned char)(k * 11);
    buf[h + 24] = 0xAB;
    for (int gz = 0; gz < 2; gz++) {
        const char *p = test_tmp_path(gz ? "small.gz" : "small");
        if (gz) write_gz(p, buf, h + 25);
        else write_file(p, buf, h + 25);
        clae_dataset *ds = NULL;
        ck_assert_msg(clae_dataset_load_idx(p, &ds) == CLAE_OK, "%s", clae_last_error());
        ck_assert_uint_eq(ds->rows, 2);
        ck_assert_uint_eq(ds->cols, 12);
        for (int k = 0; k < 24; k++) ck_assert_float_eq(ds->x[k], (float)(k * 11) / 255.0f);

        /* Truncation keeps the leading rows; a larger count is a no-op. */
        clae_dataset_truncate(ds, 5);
        ck_assert_uint_eq(ds->rows, 2);
        clae_dataset_truncate(ds, 1);
        ck_assert_uint_eq(ds->rows, 1);
        ck_assert_uint_eq(ds->cols, 12);
        for (int k = 0; k < 12; k++) ck_assert_float_eq(ds->x[k], (float)(k * 11) / 255.0f);
        clae_dataset_free(ds);
    }
    clae_dataset_free(NULL);
}
END_TEST

START_TEST(missing_file_is_io)
{
    expect_fail(test_tmp_path("no-such-file.gz"), CLAE_ERR_IO, "No such file or directory");
}
END_TEST

START_TEST(directory_is_io)
{
    expect_fail(test_tmp_path(""), CLAE_ERR_IO, "Is a directory");
}
END_TEST

START_TEST(wrong_magic_is_format)
{
    const unsigned char png[16] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    write_file(test_tmp_path("image.png"), png, sizeof png);
    expect_fail(test_tmp_path("image.png"), CLAE_ERR_FORMAT, "not an IDX file (magic 0x89504e47");
    /* Zero leading bytes but a type byte IDX does not define. */
    const unsigned char odd[8] = {0, 0, 0x42, 1, 0, 0, 0, 1};
    write_file(test_tmp_path("odd"), odd, sizeof odd);
    expect_fail(test_tmp_path("odd"), CLAE_ERR_FORMAT, "not an IDX file");
    /* Too short to hold a magic number at all. */
    write_file(test_tmp_path("tiny"), odd, 2);
    expect_fail(test_tmp_path("tiny"), CLAE_ERR_FORMAT, "not an IDX file");
    write_file(test_tmp_path("empty"), odd, 0);
    expect_fail(test_tmp_path("empty"), CLAE_ERR_FORMAT, "not an IDX file");
}
END_TEST

START_TEST(non_uint8_type_is_format)
{
    unsigned char buf[32];
    const uint32_t dims[2] = {1, 2};
    size_t h = idx_header(buf, 0x0D, 2, dims);
    memset(buf + h, 0, 8);
    write_file(test_tmp_path("floats.idx"), buf, h + 8);
    expect_fail(test_tmp_path("floats.idx"), CLAE_ERR_FORMAT, "IDX type 0x0d (float32) not supported");
}
END_TEST

START_TEST(bad_dimensions_are_format)
{
    unsigned char buf[64];
    const uint32_t dims[5] = {1, 1, 1, 1, 1};
    size_t h = idx_header(buf, 0x08, 0, dims);
    write_file(test_tmp_path("ndim0"), buf, h + 1);
    expect_fail(test_tmp_path("ndim0"), CLAE_ERR_FORMAT, "declares 0 dimensions");
    h = idx_header(buf, 0x08, 5, dims);
    write_file(test_tmp_path("ndim5"), buf, h + 1);
    expect_fail(test_tmp_path("ndim5"), CLAE_ERR_FORMAT, "declares 5 dimensions");
    const uint32_t zero[3] = {4, 0, 2};
    h = idx_header(buf, 0x08, 3, zero);
    write_file(test_tmp_path("zero"), buf, h);
    expect_fail(test_tmp_path("zero"), CLAE_ERR_FORMAT, "dimension 1 is 0");
}
END_TEST

START_TEST(truncated_data)
{
    unsigned char buf[64] = {0};
    const uint32_t dims[3] = {2, 3, 4};
    size_t h = idx_header(buf, 0x08, 3, dims);
    write_file(test_tmp_path("short"), buf, h + 10);
    expect_fail(test_tmp_path("short"), CLAE_ERR_TRUNCATED, "truncated: header promises 24 bytes of data, file has 10");
    /* The same cut inside a gzip member: zlib's "unexpected end of file" is
     * still reported as a truncation with the byte counts. */
    write_gz(test_tmp_path("short.gz"), buf, h + 10);
    expect_fail(test_tmp_path("short.gz"), CLAE_ERR_TRUNCATED, "file has 10");
}
END_TEST

START_TEST(header_only_is_truncated)
{
    /* A complete header with no data is a valid IDX start that stops early, so
     * it is TRUNCATED ("file has 0"), like any other shortfall after the magic. */
    unsigned char buf[64];
    const uint32_t dims[3] = {10, 28, 28};
    size_t h = idx_header(buf, 0x08, 3, dims);
    write_file(test_tmp_path("header-only"), buf, h);
    expect_fail(test_tmp_path("header-only"), CLAE_ERR_TRUNCATED, "promises 7840 bytes of data, file has 0");
    /* A header cut inside its dimension list. */
    write_file(test_tmp_path("half-header"), buf, 8);
    expect_fail(test_tmp_path("half-header"), CLAE_ERR_TRUNCATED, "declares 3 dimensions (12 bytes), file has 4");
}
END_TEST

START_TEST(truncated_gzip_stream)
{
    /* Bytes a compressor cannot shrink much, so cutting the .gz file in half
     * cuts the deflate stream itself, not just the trailer. */
    enum { ROWS = 50, COLS = 400 };
    static unsigned char buf[16 + ROWS * COLS];
    const uint32_t dims[2] = {ROWS, COLS};
    size_t h = idx_header(buf, 0x08, 2, dims);
    uint32_t state = 12345u;
    for (size_t k = h; k < sizeof buf; k++) {
        state = state * 1664525u + 1013904223u;
        buf[k] = (unsigned char)(state >> 24);
    }
    const char *full = test_tmp_path("full.gz");
    write_gz(full, buf, h + ROWS * COLS);
    FILE *f = fopen(full, "rb");
    ck_assert_ptr_nonnull(f);
    static unsigned char gz[2 * sizeof buf];
    size_t n = fread(gz, 1, sizeof gz, f);
    fclose(f);
    ck_assert_uint_gt(n, 1000);
    write_file(test_tmp_path("cut.gz"), gz, n / 2);
    expect_fail(test_tmp_path("cut.gz"), CLAE_ERR_TRUNCATED, "header promises 20000 bytes of data");
}
END_TEST

START_TEST(corrupt_gzip_is_format)
{
    /* A compressible payload so the member holds real Huffman blocks, larger
     * than the loader's chunk so the damage is found on a later read. */
    enum { N = 2000 * 120 };
    static unsigned char buf[16 + N];
    const uint32_t dims[2] = {2000, 120};
    size_t h = idx_header(buf, 0x08, 2, dims);
    for (size_t k = 0; k < N; k++) buf[h + k] = (unsigned char)((k * k) % 13);
    write_gz(test_tmp_path("ok.gz"), buf, h + N);
    FILE *f = fopen(test_tmp_path("ok.gz"), "rb");
    ck_assert_ptr_nonnull(f);
    static unsigned char gz[2 * sizeof buf];
    size_t n = fread(gz, 1, sizeof gz, f);
    fclose(f);
    ck_assert_uint_gt(n, 40);
    /* The CRC-32 in the trailer: every pixel decodes, the check must still fail. */
    gz[n - 8] ^= 0x5a;
    write_file(test_tmp_path("badcrc.gz"), gz, n);
    expect_fail(test_tmp_path("badcrc.gz"), CLAE_ERR_FORMAT, "corrupt gzip data");
    gz[n - 8] ^= 0x5a;
    /* A byte inside the deflate data. */
    gz[n / 2] ^= 0xff;
    write_file(test_tmp_path("baddata.gz"), gz, n);
    expect_fail(test_tmp_path("baddata.gz"), CLAE_ERR_FORMAT, "corrupt gzip data");
}
END_TEST

START_TEST(null_arguments)
{
    clae_dataset *ds = NULL;
    ck_assert_int_eq(clae_dataset_load_idx(NULL, &ds), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_dataset_load_idx(test_data_path("t10k-labels-idx1-ubyte.gz"), NULL), CLAE_ERR_ARG);
}
END_TEST

static int is_permutation(const size_t *order, size_t n)
{
    unsigned char *seen = calloc(n ? n : 1, 1);
    int ok = seen != NULL;
    for (size_t k = 0; ok && k < n; k++) {
        if (order[k] >= n || seen[order[k]]) ok = 0;
        else seen[order[k]] = 1;
    }
    free(seen);
    return ok;
}

START_TEST(shuffle_golden)
{
    /* Expected orders come from a separate Python Philox4x32-10 (checked against
     * the Random123 known-answer vectors) running the documented Fisher–Yates:
     * i = rows-1..1, ctr = (i, i>>32, epoch, 8), key = (seed, seed>>32),
     * j = (w0 * (i+1)) >> 32. */
    static const size_t e0[10] = {4, 3, 8, 5, 0, 1, 2, 6, 7, 9};
    static const size_t e1[10] = {6, 8, 7, 4, 5, 2, 0, 9, 3, 1};
    static const size_t big[16] = {12, 1, 6, 2, 5, 0, 11, 4, 15, 14, 9, 10, 8, 7, 13, 3};
    size_t o[16];
    clae_shuffle_order(10, 42, 0, o);
    for (int k = 0; k < 10; k++) ck_assert_uint_eq(o[k], e0[k]);
    clae_shuffle_order(10, 42, 1, o);
    for (int k = 0; k < 10; k++) ck_assert_uint_eq(o[k], e1[k]);
    /* A seed above 2^32 exercises the high key word. */
    clae_shuffle_order(16, 0x123456789abcdef0ull, 7, o);
    for (int k = 0; k < 16; k++) ck_assert_uint_eq(o[k], big[k]);
    /* Degenerate sizes: nothing to swap, and no out-of-bounds access. */
    o[0] = 99;
    clae_shuffle_order(1, 42, 0, o);
    ck_assert_uint_eq(o[0], 0);
    o[0] = 99;
    clae_shuffle_order(0, 42, 0, o);
    ck_assert_uint_eq(o[0], 99);
}
END_TEST

START_TEST(shuffle_properties)
{
    const size_t n = 60000;
    size_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    ck_assert(a && b && c);
    clae_shuffle_order(n, 42, 3, a);
    clae_shuffle_order(n, 42, 3, b);
    ck_assert(is_permutation(a, n));
    ck_assert_int_eq(memcmp(a, b, n * sizeof *a), 0);
    clae_shuffle_order(n, 42, 4, c);
    ck_assert(is_permutation(c, n));
    size_t same = 0, fixed = 0;
    for (size_t k = 0; k < n; k++) {
        same += a[k] == c[k];
        fixed += a[k] == k;
    }
    /* Two independent permutations agree in about one place, and one has about
     * one fixed point; allow a wide margin. */
    ck_assert_uint_lt(same, 20);
    ck_assert_uint_lt(fixed, 20);
    clae_shuffle_order(n, 43, 3, c);
    same = 0;
    for (size_t k = 0; k < n; k++) same += a[k] == c[k];
    ck_assert_uint_lt(same, 20);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(gather_rows_and_bounds)
{
    unsigned char buf[64];
    const uint32_t dims[2] = {4, 3};
    size_t h = idx_header(buf, 0x08, 2, dims);
    for (int k = 0; k < 12; k++) buf[h + (size_t)k] = (unsigned char)(10 * k);
    write_file(test_tmp_path("g"), buf, h + 12);
    clae_dataset *ds = NULL;
    ck_assert_msg(clae_dataset_load_idx(test_tmp_path("g"), &ds) == CLAE_OK, "%s", clae_last_error());

    const size_t idx[3] = {3, 0, 3};
    float out[9];
    ck_assert_int_eq(clae_dataset_gather(ds, idx, 3, out), CLAE_OK);
    const int want[9] = {90, 100, 110, 0, 10, 20, 90, 100, 110};
    for (int k = 0; k < 9; k++) ck_assert_float_eq(out[k], (float)want[k] / 255.0f);

    /* An index past the end fails before anything is written. */
    const size_t bad[2] = {1, 4};
    for (int k = 0; k < 9; k++) out[k] = -1.0f;
    ck_assert_int_eq(clae_dataset_gather(ds, bad, 2, out), CLAE_ERR_ARG);
    ck_assert_msg(strstr(clae_last_error(), "index 4") != NULL, "%s", clae_last_error());
    ck_assert_msg(strstr(clae_last_error(), test_tmp_path("g")) != NULL, "%s", clae_last_error());
    for (int k = 0; k < 9; k++) ck_assert_float_eq(out[k], -1.0f);
    /* After truncation the dropped rows are out of range too. */
    clae_dataset_truncate(ds, 2);
    const size_t dropped[1] = {2};
    ck_assert_int_eq(clae_dataset_gather(ds, dropped, 1, out), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_dataset_gather(ds, idx + 1, 1, out), CLAE_OK);
    ck_assert_int_eq(clae_dataset_gather(NULL, idx, 1, out), CLAE_ERR_ARG);
    clae_dataset_free(ds);
}
END_TEST

static clae_dataset *matrix_4x5(void)
{
    clae_dataset *ds = calloc(1, sizeof *ds);
    ck_assert_ptr_nonnull(ds);
    ds->rows = 4;
    ds->cols = 5;
    ds->x = malloc(20 * sizeof *ds->x);
    ck_assert_ptr_nonnull(ds->x);
    for (int k = 0; k < 20; k++) ds->x[k] = (float)k;
    ds->names = calloc(5, sizeof *ds->names);
    for (int j = 0; j < 5; j++) {
        ds->names[j] = malloc(4);
        snprintf(ds->names[j], 4, "c%d", j);
    }
    snprintf(ds->path, sizeof ds->path, "m.csv");
    ds->format = CLAE_FORMAT_CSV;
    return ds;
}

START_TEST(drop_columns_in_place)
{
    clae_dataset *ds = matrix_4x5();
    const size_t drop[3] = {3, 0, 3}; /* repeats are fine, order is free */
    ck_assert_int_eq(clae_dataset_drop_columns(ds, drop, 3), CLAE_OK);
    ck_assert_uint_eq(ds->cols, 3);
    ck_assert_uint_eq(ds->rows, 4);
    for (int r = 0; r < 4; r++) {
        ck_assert(ds->x[r * 3 + 0] == (float)(r * 5 + 1));
        ck_assert(ds->x[r * 3 + 1] == (float)(r * 5 + 2));
        ck_assert(ds->x[r * 3 + 2] == (float)(r * 5 + 4));
    }
    ck_assert_str_eq(ds->names[0], "c1");
    ck_assert_str_eq(ds->names[2], "c4");

    /* Out of range, or nothing left: refused, data untouched. */
    float before[12];
    memcpy(before, ds->x, sizeof before);
    const size_t bad[1] = {3};
    ck_assert_int_eq(clae_dataset_drop_columns(ds, bad, 1), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "m.csv: column 3 (from 0) does not exist: the data has 3 columns");
    const size_t all[3] = {0, 1, 2};
    ck_assert_int_eq(clae_dataset_drop_columns(ds, all, 3), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "leaves none");
    ck_assert_uint_eq(ds->cols, 3);
    ck_assert_int_eq(memcmp(before, ds->x, sizeof before), 0);
    ck_assert_int_eq(clae_dataset_drop_columns(ds, NULL, 0), CLAE_OK);
    ck_assert_uint_eq(ds->cols, 3);
    clae_dataset_free(ds);

    /* No rows left (truncated to 0): the block must survive, not be realloc'd to 0 bytes and freed. */
    ds = matrix_4x5();
    clae_dataset_truncate(ds, 0);
    ck_assert_int_eq(clae_dataset_drop_columns(ds, drop, 3), CLAE_OK);
    ck_assert_uint_eq(ds->cols, 3);
    ck_assert_ptr_nonnull(ds->x);
    clae_dataset_free(ds);
}
END_TEST

START_TEST(split_keeps_order)
{
    clae_dataset *ds = matrix_4x5(), *tail = NULL;
    ck_assert_int_eq(clae_dataset_split(ds, 3, &tail), CLAE_OK);
    ck_assert_uint_eq(ds->rows, 3);
    ck_assert_uint_eq(tail->rows, 1);
    ck_assert_uint_eq(tail->cols, 5);
    for (int j = 0; j < 5; j++) ck_assert(tail->x[j] == (float)(15 + j));
    ck_assert(ds->x[14] == 14.0f);
    ck_assert_str_eq(tail->path, "m.csv");
    ck_assert_int_eq(tail->format, CLAE_FORMAT_CSV);
    ck_assert_str_eq(tail->names[4], "c4");
    ck_assert_ptr_ne(tail->names, ds->names); /* its own copy: both are freed */
    clae_dataset *none = (clae_dataset *)1;
    ck_assert_int_eq(clae_dataset_split(ds, 3, &none), CLAE_ERR_ARG);
    ck_assert_ptr_null(none);
    ck_assert_int_eq(clae_dataset_split(ds, 0, &none), CLAE_ERR_ARG);
    ck_assert_uint_eq(ds->rows, 3);
    clae_dataset_free(tail);
    clae_dataset_free(ds);
}
END_TEST

Suite *suite_data(void)
{
    Suite *s = suite_create("data");

    TCase *fashion = tcase_create("fashion");
    tcase_add_checked_fixture(fashion, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(fashion, 60);
    tcase_add_test(fashion, fashion_test_images);
    tcase_add_test(fashion, fashion_labels_one_dimension);
    tcase_add_test(fashion, plain_equals_gzip);
    suite_add_tcase(s, fashion);

    TCase *idx = tcase_create("idx");
    tcase_add_checked_fixture(idx, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(idx, synthetic_dims_and_values);
    tcase_add_test(idx, missing_file_is_io);
    tcase_add_test(idx, directory_is_io);
    tcase_add_test(idx, wrong_magic_is_format);
    tcase_add_test(idx, non_uint8_type_is_format);
    tcase_add_test(idx, bad_dimensions_are_format);
    tcase_add_test(idx, truncated_data);
    tcase_add_test(idx, header_only_is_truncated);
    tcase_add_test(idx, truncated_gzip_stream);
    tcase_add_test(idx, corrupt_gzip_is_format);
    tcase_add_test(idx, null_arguments);
    suite_add_tcase(s, idx);

    TCase *rows = tcase_create("rows");
    tcase_add_checked_fixture(rows, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(rows, shuffle_golden);
    tcase_add_test(rows, shuffle_properties);
    tcase_add_test(rows, gather_rows_and_bounds);
    tcase_add_test(rows, drop_columns_in_place);
    tcase_add_test(rows, split_keeps_order);
    suite_add_tcase(s, rows);
    return s;
}
