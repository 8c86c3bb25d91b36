/* test_io.c — the io suite: safetensors round trips checked by an independent parse of the file, corrupt
 * safetensors files, CSV and NPY readers on good and bad files, CSV/NPY writers, and column scaling. */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "io/safetensors.h"
#include "test_util.h"


static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    if (n) ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_text(const char *path, const char *s) { write_file(path, s, strlen(s)); }

/* The whole file in a malloc'd buffer. */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    *n = len;
    return buf;
}

/* No "<name>.tmp.<pid>" may survive a write, successful or not. */
static void assert_no_temp_files(void)
{
    DIR *d = opendir(test_tmp_path(""));
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int found = 0;
    char name[256] = "";
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp.")) {
            found = 1;
            snprintf(name, sizeof name, "%s", e->d_name);
        }
    closedir(d);
    ck_assert_msg(!found, "temporary file left behind: %s", name);
}

/* Asserts status want and a message naming path and containing part. */
static void expect(clae_status got, clae_status want, const char *path, const char *part)
{
    const char *msg = clae_last_error();
    ck_assert_msg(got == want, "%s: got %s, want %s (%s)", path, clae_status_string(got), clae_status_string(want),
                  msg);
    ck_assert_msg(strstr(msg, path) != NULL, "message does not name %s: %s", path, msg);
    ck_assert_msg(strstr(msg, part) != NULL, "message lacks '%s': %s", part, msg);
}

/* ------------------------------------------------------------------------ */
/* safetensors                                                               */
/* ------------------------------------------------------------------------ */

/* The three tensors of the round trip, and their metadata. */
static float st_w[3 * 4], st_b[3];
static const int64_t st_ctr[2] = {(INT64_C(1) << 40) + 3, -7};
static const char *const st_meta[4][2] = {
    {"format", "pt"},
    {"clae_version", "0.1.0"},
    {"lr", "0.001"},
    {"note", "a \"quoted\" value, a / and caf\xc3\xa9"},
};

static void st_write_sample(const char *path)
{
    test_fill_uniform(st_w, 12, 11, -1.0f, 1.0f);
    test_fill_uniform(st_b, 3, 12, -1.0f, 1.0f);
    st_w[5] = -0.0f; /* bytes, not values: the sign of zero must survive */
    clae_st_writer *w = NULL;
    ck_assert_int_eq(clae_st_writer_create(&w), CLAE_OK);
    const size_t sw[2] = {3, 4}, sb[1] = {3}, sc[1] = {2};
    ck_assert_int_eq(clae_st_writer_add_f32(w, "layers.0.weight", st_w, 2, sw), CLAE_OK);
    ck_assert_int_eq(clae_st_writer_add_f32(w, "layers.0.bias", st_b, 1, sb), CLAE_OK);
    ck_assert_int_eq(clae_st_writer_add_i64(w, "counters", st_ctr, 1, sc), CLAE_OK);
    ck_assert_int_eq(clae_st_writer_set_meta(w, "format", "wrong, replaced below"), CLAE_OK);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(clae_st_writer_set_meta(w, st_meta[i][0], st_meta[i][1]), CLAE_OK);
    clae_status s = clae_st_writer_save(w, path);
    ck_assert_msg(s == CLAE_OK, "%s", clae_last_error());
    clae_st_writer_free(w);
}

START_TEST(st_round_trip)
{
    const char *path = test_tmp_path("model.safetensors");
    st_write_sample(path);
    assert_no_temp_files();

    clae_st_file *f = NULL;
    clae_status s = clae_st_open(path, &f);
    ck_assert_msg(s == CLAE_OK, "%s", clae_last_error());
    ck_assert_str_eq(clae_st_path(f), path);
    ck_assert_uint_eq(clae_st_count(f), 3);
    /* In the order added. */
    ck_assert_str_eq(clae_st_tensor_at(f, 0)->name, "layers.0.weight");
    ck_assert_str_eq(clae_st_tensor_at(f, 1)->name, "layers.0.bias");
    ck_assert_str_eq(clae_st_tensor_at(f, 2)->name, "counters");
    ck_assert_ptr_null(clae_st_tensor_at(f, 3));

    const size_t sw[2] = {3, 4}, sb[1] = {3}, sc[1] = {2};
    const float *w = NULL, *b = NULL;
    const int64_t *c = NULL;
    ck_assert_int_eq(clae_st_get_f32(f, "layers.0.weight", 2, sw, &w), CLAE_OK);
    ck_assert_int_eq(clae_st_get_f32(f, "layers.0.bias", 1, sb, &b), CLAE_OK);
    ck_assert_int_eq(clae_st_get_i64(f, "counters", 1, sc, &c), CLAE_OK);
    ck_assert_int_eq(memcmp(w, st_w, sizeof st_w), 0);
    ck_assert_int_eq(memcmp(b, st_b, sizeof st_b), 0);
    ck_assert_int_eq(memcmp(c, st_ctr, sizeof st_ctr), 0);
    const clae_st_tensor *t = clae_st_find(f, "layers.0.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->dtype, CLAE_ST_F32);
    ck_assert_int_eq(t->ndim, 2);
    ck_assert_uint_eq(t->count, 12);
    ck_assert_ptr_null(clae_st_find(f, "layers.1.weight"));

    ck_assert_uint_eq(clae_st_meta_count(f), 4);
    for (int i = 0; i < 4; i++) {
        const char *k = NULL, *v = NULL;
        clae_st_meta_at(f, (size_t)i, &k, &v);
        ck_assert_str_eq(k, st_meta[i][0]);
        ck_assert_str_eq(v, st_meta[i][1]);
        ck_assert_str_eq(clae_st_meta(f, st_meta[i][0]), st_meta[i][1]);
    }
    ck_assert_ptr_null(clae_st_meta(f, "absent"));
    double lr = 0;
    ck_assert_int_eq(clae_st_meta_double(f, "lr", &lr), CLAE_OK);
    ck_assert(lr == 0.001);
    uint64_t u = 0;
    expect(clae_st_meta_u64(f, "lr", &u), CLAE_ERR_FORMAT, path, "'lr'");
    expect(clae_st_meta_u64(f, "epoch", &u), CLAE_ERR_FORMAT, path, "no metadata 'epoch'");

    /* Lookups that do not fit name the file and the tensor. */
    const size_t wrong[2] = {4, 3};
    expect(clae_st_get_f32(f, "layers.0.weight", 2, wrong, &w), CLAE_ERR_SHAPE, path,
           "tensor 'layers.0.weight' has shape [3, 4], expected [4, 3]");
    ck_assert_ptr_null(w);
    expect(clae_st_get_f32(f, "layers.0.bias", 2, sw, &b), CLAE_ERR_SHAPE, path, "'layers.0.bias'");
    expect(clae_st_get_f32(f, "layers.9.bias", 1, sb, &b), CLAE_ERR_FORMAT, path, "no tensor 'layers.9.bias'");
    expect(clae_st_get_i64(f, "layers.0.bias", 1, sb, &c), CLAE_ERR_FORMAT, path, "is F32, expected I64");
    clae_st_close(f);
}
END_TEST

/* The header alone: the same names, shapes and metadata, no data, and the
 * same refusal of a file whose header promises more bytes than it has. */
START_TEST(st_header_only)
{
    const char *path = test_tmp_path("model.safetensors");
    st_write_sample(path);
    clae_st_file *f = NULL;
    ck_assert_msg(clae_st_open_header(path, &f) == CLAE_OK, "%s", clae_last_error());
    ck_assert_uint_eq(clae_st_count(f), 3);
    const clae_st_tensor *t = clae_st_find(f, "layers.0.weight");
    ck_assert(t && t->ndim == 2 && t->shape[0] == 3 && t->shape[1] == 4);
    ck_assert_str_eq(clae_st_meta(f, "note"), st_meta[3][1]);
    const size_t sw[2] = {3, 4};
    const float *w = NULL;
    expect(clae_st_get_f32(f, "layers.0.weight", 2, sw, &w), CLAE_ERR_ARG, path, "header only");
    clae_st_close(f);
    FILE *fp = fopen(path, "r+b");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
    long size = ftell(fp);
    fclose(fp);
    ck_assert_int_eq(truncate(path, size - 4), 0);
    ck_assert_int_ne(clae_st_open_header(path, &f), CLAE_OK);
}
END_TEST

/* The file a clae writer produced, read with nothing but the format
 * description and cJSON: length prefix, JSON, offsets that tile the byte
 * buffer, and the little-endian bytes of every element. */
START_TEST(st_layout_independent)
{
    const char *path = test_tmp_path("layout.safetensors");
    st_write_sample(path);
    size_t size = 0;
    unsigned char *file = slurp(path, &size);
    ck_assert_uint_ge(size, 8);
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = (n << 8) | file[k];
    ck_assert_uint_eq(n % 8, 0); /* the data area starts 8-aligned */
    ck_assert_uint_le(8 + n, size);
    ck_assert_int_eq(file[8], '{');
    cJSON *root = cJSON_ParseWithLength((const char *)file + 8, (size_t)n);
    ck_assert_msg(root != NULL, "header is not JSON");
    ck_assert(cJSON_IsObject(root));

    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    ck_assert(cJSON_IsObject(meta));
    ck_assert_int_eq(cJSON_GetArraySize(meta), 4);
    for (int i = 0; i < 4; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, st_meta[i][0]);
        ck_assert(cJSON_IsString(v));
        ck_assert_str_eq(v->valuestring, st_meta[i][1]);
    }

    /* Expected little-endian bytes, built from the values independently of the host. */
    unsigned char want_w[sizeof st_w], want_b[sizeof st_b], want_c[sizeof st_ctr];
    for (int i = 0; i < 12; i++) {
        uint32_t u;
        memcpy(&u, &st_w[i], 4);
        for (int k = 0; k < 4; k++) want_w[4 * i + k] = (unsigned char)(u >> (8 * k));
    }
    for (int i = 0; i < 3; i++) {
        uint32_t u;
        memcpy(&u, &st_b[i], 4);
        for (int k = 0; k < 4; k++) want_b[4 * i + k] = (unsigned char)(u >> (8 * k));
    }
    for (int i = 0; i < 2; i++) {
        uint64_t u = (uint64_t)st_ctr[i];
        for (int k = 0; k < 8; k++) want_c[8 * i + k] = (unsigned char)(u >> (8 * k));
    }
    const struct {
        const char *name, *dtype;
        int ndim;
        double shape[2];
        const unsigned char *bytes;
        size_t nbytes;
    } want[3] = {
        {"layers.0.weight", "F32", 2, {3, 4}, want_w, sizeof want_w},
        {"layers.0.bias", "F32", 1, {3, 0}, want_b, sizeof want_b},
        {"counters", "I64", 1, {2, 0}, want_c, sizeof want_c},
    };
    const unsigned char *data = file + 8 + n;
    size_t data_size = size - 8 - (size_t)n;
    size_t covered = 0;
    double prev_end = 0;
    int entries = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        ck_assert_int_lt(entries, 3);
        /* Entries appear in the order added, each starting where the last ended. */
        ck_assert_str_eq(e->string, want[entries].name);
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        ck_assert(cJSON_IsString(dt));
        ck_assert_str_eq(dt->valuestring, want[entries].dtype);
        ck_assert(cJSON_IsArray(sh));
        ck_assert_int_eq(cJSON_GetArraySize(sh), want[entries].ndim);
        for (int d = 0; d < want[entries].ndim; d++)
            ck_assert(cJSON_GetArrayItem(sh, d)->valuedouble == want[entries].shape[d]);
        ck_assert(cJSON_IsArray(of));
        ck_assert_int_eq(cJSON_GetArraySize(of), 2);
        double b = cJSON_GetArrayItem(of, 0)->valuedouble, en = cJSON_GetArrayItem(of, 1)->valuedouble;
        ck_assert(b == prev_end);
        ck_assert(en - b == (double)want[entries].nbytes);
        ck_assert(en <= (double)data_size);
        ck_assert_int_eq(memcmp(data + (size_t)b, want[entries].bytes, want[entries].nbytes), 0);
        covered += (size_t)(en - b);
        prev_end = en;
        entries++;
    }
    ck_assert_int_eq(entries, 3);
    ck_assert_uint_eq(covered, data_size); /* no holes, nothing after the last tensor */
    /* Only spaces pad the header after the JSON object. */
    const char *hdr = (const char *)file + 8;
    size_t end = (size_t)n;
    while (end > 0 && hdr[end - 1] == ' ') end--;
    ck_assert_int_eq(hdr[end - 1], '}');
    cJSON_Delete(root);
    free(file);
}
END_TEST

/* A safetensors file from a header text (padded with spaces to a multiple of
 * 8, its length prefix computed) and raw data bytes. */
static void make_st(const char *path, const char *json, const void *data, size_t ndata)
{
    size_t len = strlen(json), n = (len + 7) & ~(size_t)7;
    unsigned char *buf = malloc(8 + n + ndata + 1);
    ck_assert_ptr_nonnull(buf);
    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)((uint64_t)n >> (8 * k));
    memcpy(buf + 8, json, len);
    memset(buf + 8 + len, ' ', n - len);
    if (ndata) memcpy(buf + 8 + n, data, ndata);
    write_file(path, buf, 8 + n + ndata);
    free(buf);
}

static void expect_st_fail(const char *path, clae_status want, const char *part)
{
    static char sentinel;
    clae_st_file *f = (clae_st_file *)(void *)&sentinel; /* a failing open must reset it */
    clae_status s = clae_st_open(path, &f);
    expect(s, want, path, part);
    ck_assert_ptr_null(f);
}

START_TEST(st_corrupt_files)
{
    static const float data[4] = {1, 2, 3, 4};
    const char *p;

    /* A valid reference file for the variants below: one F32 [4] tensor. */
    p = test_tmp_path("ok.safetensors");
    make_st(p, "{\"t\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", data, 16);
    clae_st_file *f = NULL;
    ck_assert_msg(clae_st_open(p, &f) == CLAE_OK, "%s", clae_last_error());
    ck_assert(((const float *)clae_st_find(f, "t")->data)[3] == 4.0f);
    clae_st_close(f);

    /* Header length larger than the file. */
    p = test_tmp_path("long-header.safetensors");
    unsigned char lh[40] = {0xe8, 0x03}; /* 1000 */
    lh[8] = '{';
    write_file(p, lh, sizeof lh);
    expect_st_fail(p, CLAE_ERR_TRUNCATED, "header length 1000, but only 32 bytes follow");
    /* A length no real header has: some other file. */
    p = test_tmp_path("huge-header.safetensors");
    unsigned char hh[16] = {0, 0, 0, 0, 0, 1};
    write_file(p, hh, sizeof hh);
    expect_st_fail(p, CLAE_ERR_FORMAT, "implausible");
    p = test_tmp_path("tiny.safetensors");
    write_file(p, "abc", 3);
    expect_st_fail(p, CLAE_ERR_FORMAT, "not a safetensors file");

    p = test_tmp_path("badjson.safetensors");
    make_st(p, "{\"t\":{\"dtype\":\"F32\",\"shape\":[4],,}", data, 16);
    expect_st_fail(p, CLAE_ERR_FORMAT, "not valid JSON");
    p = test_tmp_path("notobject.safetensors");
    make_st(p, "[1, 2]", data, 0);
    expect_st_fail(p, CLAE_ERR_FORMAT, "does not start with '{'");

    p = test_tmp_path("outside.safetensors");
    make_st(p, "{\"t\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[64,80]}}", data, 16);
    expect_st_fail(p, CLAE_ERR_FORMAT, "tensor 't': data_offsets [64, 80] lie outside the 16-byte data area");
    p = test_tmp_path("backwards.safetensors");
    make_st(p, "{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,0]}}", data, 16);
    expect_st_fail(p, CLAE_ERR_FORMAT, "end before they begin");
    p = test_tmp_path("negative.safetensors");
    make_st(p, "{\"t\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[-16,0]}}", data, 16);
    expect_st_fail(p, CLAE_ERR_FORMAT, "tensor 't': \"data_offsets\" is not [begin, end]");

    p = test_tmp_path("overlap.safetensors");
    make_st(p,
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            data, 12);
    expect_st_fail(p, CLAE_ERR_FORMAT, "tensor 'b' [4, 12] overlaps tensor 'a' [0, 8]");
    p = test_tmp_path("hole.safetensors");
    make_st(p,
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
            data, 16);
    expect_st_fail(p, CLAE_ERR_FORMAT, "bytes [4, 8) of the data area belong to no tensor");
    p = test_tmp_path("trailing.safetensors");
    make_st(p, "{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", data, 16);
    expect_st_fail(p, CLAE_ERR_FORMAT, "4 bytes after the last tensor");

    p = test_tmp_path("dtype.safetensors");
    make_st(p, "{\"t\":{\"dtype\":\"F16\",\"shape\":[8],\"data_offsets\":[0,16]}}", data, 16);
    expect_st_fail(p, CLAE_ERR_FORMAT, "tensor 't': dtype 'F16' not supported");
    p = test_tmp_path("dtype-num.safetensors");
    make_st(p, "{\"t\":{\"dtype\":32,\"shape\":[4],\"data_offsets\":[0,16]}}", data, 16);
    expect_st_fail(p, CLAE_ERR_FORMAT, "\"dtype\" is not a string");
    p = test_tmp_path("size.safetensors");
    make_st(p, "{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", data, 16);
    expect_st_fail(p, CLAE_ERR_FORMAT, "hold 16 bytes, but shape [3] of F32 needs 12");
    p = test_tmp_path("noshape.safetensors");
    make_st(p, "{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", data, 16);
    expect_st_fail(p, CLAE_ERR_FORMAT, "tensor 't': no \"shape\"");
    p = test_tmp_path("badshape.safetensors");
    make_st(p, "{\"t\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,16]}}", data, 16);
    expect_st_fail(p, CLAE_ERR_FORMAT, "shape entry 0");
    p = test_tmp_path("meta.safetensors");
    make_st(p, "{\"__metadata__\":{\"epoch\":3},\"t\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
            data, 16);
    expect_st_fail(p, CLAE_ERR_FORMAT, "metadata 'epoch' is not a string");
    p = test_tmp_path("dup.safetensors");
    make_st(p,
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
            data, 16);
    expect_st_fail(p, CLAE_ERR_FORMAT, "tensor 'a' appears twice");

    /* A complete header whose data was cut short. */
    p = test_tmp_path("cut.safetensors");
    make_st(p, "{\"t\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", data, 12);
    expect_st_fail(p, CLAE_ERR_TRUNCATED, "declares 16 bytes of tensor data (tensor 't' ends at 16), the file holds 12");
    /* A clae-written file cut in its data. */
    const char *full = test_tmp_path("full.safetensors");
    st_write_sample(full);
    size_t n = 0;
    unsigned char *bytes = slurp(full, &n);
    p = test_tmp_path("cut2.safetensors");
    write_file(p, bytes, n - 5);
    expect_st_fail(p, CLAE_ERR_TRUNCATED, "truncated");
    /* ... and in its header. */
    write_file(p, bytes, 40);
    expect_st_fail(p, CLAE_ERR_TRUNCATED, "truncated: header length");
    free(bytes);

    p = test_tmp_path("missing.safetensors");
    expect_st_fail(p, CLAE_ERR_IO, "cannot open");
    expect_st_fail(test_tmp_path(""), CLAE_ERR_IO, "not a regular file");
}
END_TEST

START_TEST(st_foreign_layouts)
{
    /* Another writer may not align tensors and may put them in any header
     * order: an I64 at byte 4 must still read correctly (from its own copy),
     * and a scalar and an empty tensor are legal. */
    unsigned char data[12];
    const float one = 1.5f;
    const int64_t big = -(INT64_C(1) << 50) - 5;
    uint32_t u;
    memcpy(&u, &one, 4);
    for (int k = 0; k < 4; k++) data[k] = (unsigned char)(u >> (8 * k));
    for (int k = 0; k < 8; k++) data[4 + k] = (unsigned char)((uint64_t)big >> (8 * k));
    const char *p = test_tmp_path("foreign.safetensors");
    make_st(p,
            "{\"step\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[4,12]},"
            "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
            "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
            data, sizeof data);
    clae_st_file *f = NULL;
    ck_assert_msg(clae_st_open(p, &f) == CLAE_OK, "%s", clae_last_error());
    ck_assert_uint_eq(clae_st_count(f), 3);
    ck_assert_str_eq(clae_st_tensor_at(f, 0)->name, "x"); /* byte order, not header order */
    const int64_t *s = NULL;
    ck_assert_int_eq(clae_st_get_i64(f, "step", 0, NULL, &s), CLAE_OK);
    ck_assert((uintptr_t)s % sizeof(int64_t) == 0);
    ck_assert(*s == big);
    const clae_st_tensor *e = clae_st_find(f, "empty");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->count, 0);
    ck_assert_uint_eq(e->shape[1], 3);
    const size_t s1[1] = {1};
    const float *x = NULL;
    ck_assert_int_eq(clae_st_get_f32(f, "x", 1, s1, &x), CLAE_OK);
    ck_assert(*x == 1.5f);
    ck_assert_uint_eq(clae_st_meta_count(f), 0);
    clae_st_close(f);
}
END_TEST

START_TEST(st_writer_errors)
{
    clae_st_writer *w = NULL;
    ck_assert_int_eq(clae_st_writer_create(&w), CLAE_OK);
    const float v[2] = {1, 2};
    const size_t s2[1] = {2}, s0[2] = {0, 5};
    ck_assert_int_eq(clae_st_writer_add_f32(w, "a", v, 1, s2), CLAE_OK);
    ck_assert_int_eq(clae_st_writer_add_f32(w, "a", v, 1, s2), CLAE_ERR_ARG);
    ck_assert_msg(strstr(clae_last_error(), "'a' added twice"), "%s", clae_last_error());
    ck_assert_int_eq(clae_st_writer_add_f32(w, "__metadata__", v, 1, s2), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_st_writer_add_f32(w, "", v, 1, s2), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_st_writer_add_f32(w, "deep", v, CLAE_ST_MAX_DIMS + 1, s2), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_st_writer_add_f32(w, "nodata", NULL, 1, s2), CLAE_ERR_ARG);
    /* An empty tensor needs no data. */
    ck_assert_int_eq(clae_st_writer_add_f32(w, "empty", NULL, 2, s0), CLAE_OK);

    const char *bad = test_tmp_path("no-such-dir/model.safetensors");
    expect(clae_st_writer_save(w, bad), CLAE_ERR_IO, bad, "cannot create");
    const char *good = test_tmp_path("small.safetensors");
    ck_assert_int_eq(clae_st_writer_save(w, good), CLAE_OK);
    /* Saving again replaces the file whole. */
    ck_assert_int_eq(clae_st_writer_save(w, good), CLAE_OK);
    assert_no_temp_files();
    clae_st_writer_free(w);

    clae_st_file *f = NULL;
    ck_assert_msg(clae_st_open(good, &f) == CLAE_OK, "%s", clae_last_error());
    ck_assert_uint_eq(clae_st_count(f), 2);
    ck_assert_uint_eq(clae_st_find(f, "empty")->count, 0);
    clae_st_close(f);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* CSV                                                                       */
/* ------------------------------------------------------------------------ */

static clae_dataset *load_ok(clae_status (*load)(const char *, clae_dataset **), const char *path, size_t rows,
                             size_t cols)
{
    clae_dataset *ds = NULL;
    clae_status s = load(path, &ds);
    ck_assert_msg(s == CLAE_OK, "%s: %s", path, clae_last_error());
    ck_assert_uint_eq(ds->rows, rows);
    ck_assert_uint_eq(ds->cols, cols);
    ck_assert_str_eq(ds->path, path);
    return ds;
}

static void expect_load_fail(clae_status (*load)(const char *, clae_dataset **), const char *path, clae_status want,
                             const char *part)
{
    static clae_dataset sentinel;
    clae_dataset *ds = &sentinel; /* a failing load must reset it to NULL */
    expect(load(path, &ds), want, path, part);
    ck_assert_ptr_null(ds);
}

START_TEST(csv_good)
{
    const char *p = test_tmp_path("h.csv");
    write_text(p, "a,b,\"c, the third\"\n1,2,3\n4.5, -6e-1 ,7\n");
    clae_dataset *ds = load_ok(clae_dataset_load_csv, p, 2, 3);
    const float want[6] = {1, 2, 3, 4.5f, -0.6f, 7};
    for (int k = 0; k < 6; k++) ck_assert(ds->x[k] == want[k]);
    clae_dataset_free(ds);

    /* No header; CRLF; blank lines; quoted numbers; no final newline. */
    p = test_tmp_path("n.csv");
    write_text(p, "\r\n0.25,\"-1\"\r\n\r\n   \n3e2,1e-3");
    ds = load_ok(clae_dataset_load_csv, p, 2, 2);
    const float want2[4] = {0.25f, -1, 300, 1e-3f};
    for (int k = 0; k < 4; k++) ck_assert(ds->x[k] == want2[k]);
    clae_dataset_free(ds);

    /* Semicolons and tabs are picked up from the first line. */
    p = test_tmp_path("semi.csv");
    write_text(p, "x;y\n1;2\n");
    ds = load_ok(clae_dataset_load_csv, p, 1, 2);
    ck_assert(ds->x[1] == 2.0f);
    clae_dataset_free(ds);
    p = test_tmp_path("tab.tsv");
    write_text(p, "1\t2\t3\n4\t5\t6\n");
    ds = load_ok(clae_dataset_load_csv, p, 2, 3);
    ck_assert(ds->x[5] == 6.0f);
    clae_dataset_free(ds);

    /* One column, and pandas' header with an unnamed index column. */
    p = test_tmp_path("one.csv");
    write_text(p, "7\n8\n9\n");
    ds = load_ok(clae_dataset_load_csv, p, 3, 1);
    ck_assert(ds->x[2] == 9.0f);
    clae_dataset_free(ds);
    p = test_tmp_path("pandas.csv");
    write_text(p, ",f0,f1\n0,0.5,0.25\n1,0.125,1\n");
    ds = load_ok(clae_dataset_load_csv, p, 2, 3);
    ck_assert(ds->x[4] == 0.125f);
    clae_dataset_free(ds);
}
END_TEST

START_TEST(csv_bad)
{
    const char *p = test_tmp_path("cell.csv");
    write_text(p, "1,2,3\n4,abc,6\n");
    expect_load_fail(clae_dataset_load_csv, p, CLAE_ERR_FORMAT, ":2:2: 'abc' is not a number");
    /* An empty cell on the first line is a bad cell, not a header. */
    p = test_tmp_path("empty-cell.csv");
    write_text(p, "1,,3\n4,5,6\n");
    expect_load_fail(clae_dataset_load_csv, p, CLAE_ERR_FORMAT, ":1:2: '' is not a number");
    /* Line numbers count the header and blank lines. */
    p = test_tmp_path("late.csv");
    write_text(p, "x,y\n1,2\n\n3,4x\n");
    expect_load_fail(clae_dataset_load_csv, p, CLAE_ERR_FORMAT, ":4:2: '4x' is not a number");
    p = test_tmp_path("nan.csv");
    write_text(p, "1,nan\n");
    expect_load_fail(clae_dataset_load_csv, p, CLAE_ERR_FORMAT, ":1:2: 'nan' is not a finite number");
    p = test_tmp_path("big.csv");
    write_text(p, "1e39\n");
    expect_load_fail(clae_dataset_load_csv, p, CLAE_ERR_FORMAT, ":1:1: '1e39' is out of float range");

    p = test_tmp_path("ragged.csv");
    write_text(p, "1,2,3\n4,5,6\n7,8\n");
    expect_load_fail(clae_dataset_load_csv, p, CLAE_ERR_FORMAT, ":3: 2 columns, expected 3 (as on line 1)");
    p = test_tmp_path("ragged-h.csv");
    write_text(p, "a,b\n1,2,3\n");
    expect_load_fail(clae_dataset_load_csv, p, CLAE_ERR_FORMAT, ":2: 3 columns, expected 2 (as in the header on line 1)");

    p = test_tmp_path("empty.csv");
    write_text(p, "");
    expect_load_fail(clae_dataset_load_csv, p, CLAE_ERR_FORMAT, "empty file");
    p = test_tmp_path("blank.csv");
    write_text(p, "\n  \n\r\n");
    expect_load_fail(clae_dataset_load_csv, p, CLAE_ERR_FORMAT, "empty file");
    p = test_tmp_path("header-only.csv");
    write_text(p, "a,b\n");
    expect_load_fail(clae_dataset_load_csv, p, CLAE_ERR_FORMAT, "no data rows after the header on line 1");
    p = test_tmp_path("quote.csv");
    write_text(p, "1,\"2\n");
    expect_load_fail(clae_dataset_load_csv, p, CLAE_ERR_FORMAT, ":1:2: unterminated quote");
    p = test_tmp_path("binary.csv");
    write_file(p, "1,2\n3\0,4\n", 9);
    expect_load_fail(clae_dataset_load_csv, p, CLAE_ERR_FORMAT, ":2: NUL byte");
    p = test_tmp_path("missing.csv");
    expect_load_fail(clae_dataset_load_csv, p, CLAE_ERR_IO, "cannot open");
    expect_load_fail(clae_dataset_load_csv, test_tmp_path(""), CLAE_ERR_IO, "read error");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* NPY                                                                       */
/* ------------------------------------------------------------------------ */

/* An .npy file of the given version with a numpy-style header dict. */
static void make_npy(const char *path, int major, const char *dict, const void *data, size_t ndata)
{
    size_t dlen = strlen(dict), pre = major == 1 ? 10 : 12;
    size_t total = (pre + dlen + 1 + 63) / 64 * 64, hlen = total - pre;
    unsigned char *buf = malloc(total + ndata + 1);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    for (size_t k = 0; k < pre - 8; k++) buf[8 + k] = (unsigned char)(hlen >> (8 * k));
    memcpy(buf + pre, dict, dlen);
    memset(buf + pre + dlen, ' ', hlen - dlen - 1);
    buf[total - 1] = '\n';
    if (ndata) memcpy(buf + total, data, ndata);
    write_file(path, buf, total + ndata);
    free(buf);
}

/* Little-endian encodings, independent of the host. */
static void le_f32(unsigned char *out, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int k = 0; k < 4; k++) out[4 * i + (size_t)k] = (unsigned char)(u >> (8 * k));
    }
}

static void le_f64(unsigned char *out, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        for (int k = 0; k < 8; k++) out[8 * i + (size_t)k] = (unsigned char)(u >> (8 * k));
    }
}

START_TEST(npy_good)
{
    const float f[6] = {0.5f, -1.25f, 3e-20f, 7, 8, 1e30f};
    unsigned char b4[24];
    le_f32(b4, f, 6);
    const char *p = test_tmp_path("f4.npy");
    make_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", b4, sizeof b4);
    clae_dataset *ds = load_ok(clae_dataset_load_npy, p, 2, 3);
    ck_assert_int_eq(memcmp(ds->x, f, sizeof f), 0);
    clae_dataset_free(ds);

    /* float64, 3-D: rows × the product of the rest; the double rounds to float. */
    double d[12];
    for (int k = 0; k < 12; k++) d[k] = 0.1 * k - 0.35;
    unsigned char b8[96];
    le_f64(b8, d, 12);
    p = test_tmp_path("f8.npy");
    make_npy(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 3), }", b8, sizeof b8);
    ds = load_ok(clae_dataset_load_npy, p, 2, 6);
    for (int k = 0; k < 12; k++) ck_assert(ds->x[k] == (float)d[k]);
    clae_dataset_free(ds);

    /* uint8, 1-D: n rows of one column, divided by 255. Key order is free. */
    const unsigned char u[4] = {0, 51, 255, 128};
    p = test_tmp_path("u1.npy");
    make_npy(p, 1, "{'shape': (4,), 'fortran_order': False, 'descr': '|u1'}", u, 4);
    ds = load_ok(clae_dataset_load_npy, p, 4, 1);
    for (int k = 0; k < 4; k++) ck_assert(ds->x[k] == (float)u[k] / 255.0f);
    clae_dataset_free(ds);

    /* Versions 2.0 and 3.0 have a 4-byte header length. */
    p = test_tmp_path("v2.npy");
    make_npy(p, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", b4, sizeof b4);
    ds = load_ok(clae_dataset_load_npy, p, 3, 2);
    ck_assert_int_eq(memcmp(ds->x, f, sizeof f), 0);
    clae_dataset_free(ds);
    p = test_tmp_path("v3.npy");
    make_npy(p, 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", b4, sizeof b4);
    ds = load_ok(clae_dataset_load_npy, p, 6, 1);
    clae_dataset_free(ds);
}
END_TEST

START_TEST(npy_bad)
{
    unsigned char zeros[64] = {0};
    const char *p = test_tmp_path("fortran.npy");
    make_npy(p, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", zeros, 24);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_FORMAT, "Fortran order");
    p = test_tmp_path("i2.npy");
    make_npy(p, 1, "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }", zeros, 12);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_FORMAT, "dtype '<i2' not supported");
    p = test_tmp_path("be.npy");
    make_npy(p, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", zeros, 24);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_FORMAT, "dtype '>f4' not supported");
    p = test_tmp_path("struct.npy");
    make_npy(p, 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", zeros, 8);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_FORMAT, "structured");
    p = test_tmp_path("cut.npy");
    make_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", zeros, 20);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_TRUNCATED, "promises 24 bytes of data, file has 20");
    p = test_tmp_path("magic.npy");
    write_file(p, "\x93NUMPZ\x01\x00\x10\x00", 10);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_FORMAT, "not an NPY file");
    p = test_tmp_path("short.npy");
    write_file(p, "\x93NUM", 4);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_FORMAT, "not an NPY file");
    p = test_tmp_path("cut-header.npy");
    write_file(p, "\x93NUMPY\x01\x00\x40\x00{'descr'", 18);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_TRUNCATED, "NPY header is 64 bytes, file has 8");
    p = test_tmp_path("v9.npy");
    write_file(p, "\x93NUMPY\x09\x00\x40\x00", 10);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_FORMAT, "version 9.0 not supported");
    p = test_tmp_path("scalar.npy");
    make_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", zeros, 4);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_FORMAT, "shape ()");
    p = test_tmp_path("zero.npy");
    make_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", zeros, 0);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_FORMAT, "dimension 0 is 0");
    p = test_tmp_path("noshape.npy");
    make_npy(p, 1, "{'descr': '<f4', 'fortran_order': False}", zeros, 4);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_FORMAT, "no 'shape'");
    p = test_tmp_path("garbled.npy");
    make_npy(p, 1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", zeros, 4);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_FORMAT, "'fortran_order' is not True or False");
    const float bad[3] = {1, NAN, 2};
    unsigned char b4[12];
    le_f32(b4, bad, 3);
    p = test_tmp_path("nan.npy");
    make_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", b4, 12);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_FORMAT, "row 1, column 0 (from 0): nan is not a finite number");
    const double huge = 1e300;
    unsigned char b8[8];
    le_f64(b8, &huge, 1);
    p = test_tmp_path("huge.npy");
    make_npy(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }", b8, 8);
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_FORMAT, "out of float range");
    p = test_tmp_path("missing.npy");
    expect_load_fail(clae_dataset_load_npy, p, CLAE_ERR_IO, "cannot open");
}
END_TEST

START_TEST(load_picks_reader)
{
    /* By extension, any case. */
    const char *p = test_tmp_path("upper.CSV");
    write_text(p, "1,2\n");
    clae_dataset *ds = load_ok(clae_dataset_load, p, 1, 2);
    clae_dataset_free(ds);
    /* By content: an .npy under another name. */
    const float f[2] = {3, 4};
    unsigned char b4[8];
    le_f32(b4, f, 2);
    p = test_tmp_path("codes.bin");
    make_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", b4, 8);
    ds = load_ok(clae_dataset_load, p, 1, 2);
    ck_assert(ds->x[1] == 4.0f);
    clae_dataset_free(ds);
    /* Everything else is IDX. */
    const unsigned char idx[12] = {0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 0};
    unsigned char file[14];
    memcpy(file, idx, 12);
    file[11] = 2;
    file[12] = 0;
    file[13] = 255;
    p = test_tmp_path("images-idx2-ubyte");
    write_file(p, file, 14);
    ds = load_ok(clae_dataset_load, p, 1, 2);
    ck_assert(ds->x[1] == 1.0f);
    clae_dataset_free(ds);
    /* The extension wins, so the reader's own error explains a mismatch. */
    p = test_tmp_path("text.npy");
    write_text(p, "1,2\n");
    expect_load_fail(clae_dataset_load, p, CLAE_ERR_FORMAT, "not an NPY file");
    p = test_tmp_path("text.dat");
    write_text(p, "1,2\n");
    expect_load_fail(clae_dataset_load, p, CLAE_ERR_FORMAT, "not an IDX file");
    p = test_tmp_path("gone.csv");
    expect_load_fail(clae_dataset_load, p, CLAE_ERR_IO, "cannot open");
}
END_TEST

/* The one rule for values (clae.h, clae_dataset): bytes are divided by 255,
 * text and floats are taken as stored. So bytes b as IDX and as '|u1' NPY,
 * and (float)b/255 as '<f4' NPY and as CSV, load as the same floats, bit for
 * bit, while the same bytes written as CSV text stay 0..255. */
START_TEST(formats_load_alike)
{
    enum { R = 6, C = 5 };
    unsigned char b[R * C];
    for (int k = 0; k < R * C; k++) b[k] = (unsigned char)((k * 37 + 11) % 256);
    b[0] = 0;
    b[1] = 255;
    float f[R * C];
    for (int k = 0; k < R * C; k++) f[k] = (float)b[k] / 255.0f;

    unsigned char idx[16 + R * C] = {0, 0, 8, 2, 0, 0, 0, R, 0, 0, 0, C};
    memcpy(idx + 12, b, sizeof b);
    const char *pi = test_tmp_path("d-idx2-ubyte");
    write_file(pi, idx, 12 + sizeof b);
    const char *pu = test_tmp_path("u1.npy");
    make_npy(pu, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (6, 5), }", b, sizeof b);
    unsigned char b4[sizeof f];
    le_f32(b4, f, R * C);
    const char *pf = test_tmp_path("f4.npy");
    make_npy(pf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 5), }", b4, sizeof b4);
    const char *pc = test_tmp_path("f.csv");
    ck_assert_int_eq(clae_matrix_save_csv(pc, f, R, C, NULL), CLAE_OK);

    const char *paths[4] = {pi, pu, pf, pc};
    const clae_data_format fmt[4] = {CLAE_FORMAT_IDX, CLAE_FORMAT_NPY, CLAE_FORMAT_NPY, CLAE_FORMAT_CSV};
    for (int k = 0; k < 4; k++) {
        clae_dataset *ds = load_ok(clae_dataset_load, paths[k], R, C);
        ck_assert_msg(memcmp(ds->x, f, sizeof f) == 0, "%s loads other floats than bytes/255", paths[k]);
        ck_assert_int_eq(ds->format, fmt[k]);
        clae_dataset_free(ds);
    }

    /* The bytes themselves as CSV text are numbers like any other: as stored. */
    float raw[R * C];
    for (int k = 0; k < R * C; k++) raw[k] = b[k];
    const char *pr = test_tmp_path("bytes.csv");
    ck_assert_int_eq(clae_matrix_save_csv(pr, raw, R, C, NULL), CLAE_OK);
    clae_dataset *ds = load_ok(clae_dataset_load, pr, R, C);
    ck_assert_int_eq(memcmp(ds->x, raw, sizeof raw), 0);
    ck_assert(ds->x[1] == 255.0f);
    clae_dataset_free(ds);
}
END_TEST

static void write_gz_text(const char *path, const char *text)
{
    gzFile g = gzopen(path, "wb");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzputs(g, text), (int)strlen(text));
    ck_assert_int_eq(gzclose(g), Z_OK);
}

START_TEST(csv_gzip_and_header_names)
{
    const char *text = "id,\"the x\",y\n1,0.5,2\n2,0.25,4\n3,1e-3,8\n";
    const char *p = test_tmp_path("h.csv");
    write_text(p, text);
    const char *pg = test_tmp_path("h.csv.gz");
    write_gz_text(pg, text);
    clae_dataset *a = load_ok(clae_dataset_load, p, 3, 3);
    clae_dataset *g = load_ok(clae_dataset_load, pg, 3, 3);
    ck_assert_int_eq(memcmp(a->x, g->x, 9 * sizeof *a->x), 0);
    ck_assert_int_eq(g->format, CLAE_FORMAT_CSV);
    ck_assert_ptr_nonnull(g->names);
    ck_assert_str_eq(g->names[0], "id");
    ck_assert_str_eq(g->names[1], "the x");
    ck_assert_str_eq(g->names[2], "y");
    clae_dataset_free(a);
    clae_dataset_free(g);

    /* No header, no names; .TSV.GZ by name too. */
    const char *pt = test_tmp_path("n.TSV.GZ");
    write_gz_text(pt, "1\t2\n3\t4\n");
    clae_dataset *t = load_ok(clae_dataset_load, pt, 2, 2);
    ck_assert_ptr_null(t->names);
    ck_assert(t->x[3] == 4.0f);
    clae_dataset_free(t);

    /* Messages name the .gz file, and a cut stream reads as its end. */
    const char *pb = test_tmp_path("bad.csv.gz");
    write_gz_text(pb, "1,2\n3,x\n");
    expect_load_fail(clae_dataset_load, pb, CLAE_ERR_FORMAT, ":2:2: 'x' is not a number");
    /* An .npy.gz goes to the NPY reader. */
    const float f[2] = {3, 4};
    unsigned char b4[8];
    le_f32(b4, f, 2);
    make_npy(test_tmp_path("plain.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", b4, 8);
    size_t n = 0;
    unsigned char *raw = slurp(test_tmp_path("plain.npy"), &n);
    const char *pn = test_tmp_path("z.npy.gz");
    gzFile z = gzopen(pn, "wb");
    ck_assert_int_eq(gzwrite(z, raw, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(z), Z_OK);
    free(raw);
    clae_dataset *ds = load_ok(clae_dataset_load, pn, 2, 1);
    ck_assert_int_eq(ds->format, CLAE_FORMAT_NPY);
    ck_assert(ds->x[1] == 4.0f);
    clae_dataset_free(ds);
}
END_TEST

/* Loads "-" with file as standard input, restoring it after. */
static clae_status load_stdin(const char *file, clae_dataset **ds)
{
    int saved = dup(STDIN_FILENO), fd = open(file, O_RDONLY);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(dup2(fd, STDIN_FILENO), 0);
    close(fd);
    clae_status st = clae_dataset_load("-", ds);
    ck_assert_int_ge(dup2(saved, STDIN_FILENO), 0);
    close(saved);
    return st;
}

START_TEST(stdin_by_content)
{
    clae_dataset *ds = NULL;
    /* CSV, plain and gzip'd. */
    const char *p = test_tmp_path("s.csv");
    write_text(p, "a,b\n1,2\n3,4\n");
    ck_assert_msg(load_stdin(p, &ds) == CLAE_OK, "%s", clae_last_error());
    ck_assert_uint_eq(ds->rows, 2);
    ck_assert_int_eq(ds->format, CLAE_FORMAT_CSV);
    ck_assert_str_eq(ds->path, "<stdin>");
    ck_assert_str_eq(ds->names[1], "b");
    clae_dataset_free(ds);
    const char *pg = test_tmp_path("s.gz");
    write_gz_text(pg, "5,6,7\n");
    ck_assert_msg(load_stdin(pg, &ds) == CLAE_OK, "%s", clae_last_error());
    ck_assert_uint_eq(ds->cols, 3);
    ck_assert(ds->x[2] == 7.0f);
    clae_dataset_free(ds);
    /* NPY and IDX by their magic. */
    const float f[2] = {3, 4};
    unsigned char b4[8];
    le_f32(b4, f, 2);
    const char *pn = test_tmp_path("s.npy");
    make_npy(pn, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", b4, 8);
    ck_assert_msg(load_stdin(pn, &ds) == CLAE_OK, "%s", clae_last_error());
    ck_assert_int_eq(ds->format, CLAE_FORMAT_NPY);
    ck_assert(ds->x[1] == 4.0f);
    clae_dataset_free(ds);
    const unsigned char idx[14] = {0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 2, 51, 255};
    const char *pi = test_tmp_path("s.idx");
    write_file(pi, idx, sizeof idx);
    ck_assert_msg(load_stdin(pi, &ds) == CLAE_OK, "%s", clae_last_error());
    ck_assert_int_eq(ds->format, CLAE_FORMAT_IDX);
    ck_assert(ds->x[0] == 51.0f / 255.0f);
    clae_dataset_free(ds);
    /* Errors name standard input. */
    const char *pb = test_tmp_path("s-bad.csv");
    write_text(pb, "1,2\n3\n");
    ds = (clae_dataset *)1;
    ck_assert_int_eq(load_stdin(pb, &ds), CLAE_ERR_FORMAT);
    ck_assert_ptr_null(ds);
    ck_assert_contains(clae_last_error(), "<stdin>:2: 1 columns, expected 2");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Writers                                                                   */
/* ------------------------------------------------------------------------ */

/* Values that a careless "%g" would not bring back exactly. */
static void tricky_values(float *x, size_t n)
{
    test_fill_uniform(x, n, 77, -3.0f, 3.0f);
    const float special[8] = {1.0f / 3.0f, -0.0f, FLT_MAX, -FLT_MIN, 1e-45f, 123456789.0f, 0.1f, -2.5e-38f};
    for (size_t k = 0; k < 8 && k < n; k++) x[k] = special[k];
}

START_TEST(csv_save_round_trip)
{
    float x[5 * 7];
    tricky_values(x, 35);
    const char *names[7] = {"a", "b,c", "say \"hi\"", "d", "e", "f", "g"};
    const char *p = test_tmp_path("out.csv");
    clae_status s = clae_matrix_save_csv(p, x, 5, 7, names);
    ck_assert_msg(s == CLAE_OK, "%s", clae_last_error());
    clae_dataset *ds = load_ok(clae_dataset_load_csv, p, 5, 7);
    ck_assert_int_eq(memcmp(ds->x, x, sizeof x), 0); /* bit for bit, -0 included */
    clae_dataset_free(ds);
    size_t n = 0;
    unsigned char *text = slurp(p, &n);
    const char *first = "a,\"b,c\",\"say \"\"hi\"\"\",d,e,f,g\n";
    ck_assert_uint_ge(n, strlen(first));
    ck_assert_int_eq(strncmp((const char *)text, first, strlen(first)), 0);
    free(text);

    /* Without a header the first line is data. */
    p = test_tmp_path("plain.csv");
    ck_assert_int_eq(clae_matrix_save_csv(p, x, 5, 7, NULL), CLAE_OK);
    ds = load_ok(clae_dataset_load, p, 5, 7);
    ck_assert_int_eq(memcmp(ds->x, x, sizeof x), 0);
    clae_dataset_free(ds);

    const char *bad = test_tmp_path("missing-dir/out.csv");
    expect(clae_matrix_save_csv(bad, x, 5, 7, NULL), CLAE_ERR_IO, bad, "cannot create");
    assert_no_temp_files();
}
END_TEST

START_TEST(npy_save_round_trip)
{
    float x[4 * 9];
    tricky_values(x, 36);
    const char *p = test_tmp_path("out.npy");
    clae_status s = clae_matrix_save_npy(p, x, 4, 9);
    ck_assert_msg(s == CLAE_OK, "%s", clae_last_error());
    clae_dataset *ds = load_ok(clae_dataset_load, p, 4, 9);
    ck_assert_int_eq(memcmp(ds->x, x, sizeof x), 0);
    clae_dataset_free(ds);

    /* The layout the format asks for: version 1.0, a header ending in '\n'
     * whose end is 64-aligned, then exactly rows·cols little-endian floats. */
    size_t n = 0;
    unsigned char *b = slurp(p, &n);
    ck_assert_int_eq(memcmp(b, "\x93NUMPY\x01\x00", 8), 0);
    size_t hlen = (size_t)b[8] | ((size_t)b[9] << 8);
    ck_assert_uint_eq((10 + hlen) % 64, 0);
    ck_assert_int_eq(b[10 + hlen - 1], '\n');
    char hdr[256];
    ck_assert_uint_lt(hlen, sizeof hdr);
    memcpy(hdr, b + 10, hlen);
    hdr[hlen] = '\0';
    ck_assert_ptr_nonnull(strstr(hdr, "'descr': '<f4', 'fortran_order': False, 'shape': (4, 9)"));
    ck_assert_uint_eq(n, 10 + hlen + sizeof x);
    unsigned char want[sizeof x];
    le_f32(want, x, 36);
    ck_assert_int_eq(memcmp(b + 10 + hlen, want, sizeof x), 0);
    free(b);

    const char *bad = test_tmp_path("missing-dir/out.npy");
    expect(clae_matrix_save_npy(bad, x, 4, 9), CLAE_ERR_IO, bad, "cannot create");
    assert_no_temp_files();
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Scaling                                                                   */
/* ------------------------------------------------------------------------ */

/* 4 rows × 3 columns: a ramp, a constant, and a skewed column. */
static clae_dataset *small_matrix(void)
{
    static const float v[12] = {1, 5, -2, 2, 5, 0, 3, 5, 2, 4, 5, 8};
    const char *p = test_tmp_path("m.csv");
    ck_assert_int_eq(clae_matrix_save_csv(p, v, 4, 3, NULL), CLAE_OK);
    return load_ok(clae_dataset_load_csv, p, 4, 3);
}

START_TEST(scaling_minmax)
{
    clae_dataset *ds = small_matrix();
    clae_scaling s;
    ck_assert_int_eq(clae_scaling_fit(ds, CLAE_SCALE_MINMAX, &s), CLAE_OK);
    ck_assert_int_eq(s.kind, CLAE_SCALE_MINMAX);
    ck_assert_uint_eq(s.cols, 3);
    const float off[3] = {1, 5, -2}, sc[3] = {1.0f / 3.0f, 1.0f, 0.1f};
    ck_assert_allclose(s.offset, off, 3, 0, 0);
    ck_assert_allclose(s.scale, sc, 3, 0, 1e-7);
    ck_assert_int_eq(clae_scaling_apply(&s, ds), CLAE_OK);
    const float want[12] = {0, 0, 0, 1.0f / 3.0f, 0, 0.2f, 2.0f / 3.0f, 0, 0.4f, 1, 0, 1};
    ck_assert_allclose(ds->x, want, 12, 1e-7, 1e-6);

    float back[12];
    memcpy(back, ds->x, sizeof back);
    ck_assert_int_eq(clae_scaling_invert(&s, back, 4, 3), CLAE_OK);
    const float orig[12] = {1, 5, -2, 2, 5, 0, 3, 5, 2, 4, 5, 8};
    ck_assert_allclose(back, orig, 12, 1e-6, 1e-6);
    clae_scaling_free(&s);
    ck_assert_ptr_null(s.offset);
    ck_assert_uint_eq(s.cols, 0);
    clae_dataset_free(ds);
}
END_TEST

START_TEST(scaling_zscore)
{
    clae_dataset *ds = small_matrix();
    clae_scaling s;
    ck_assert_int_eq(clae_scaling_fit(ds, CLAE_SCALE_ZSCORE, &s), CLAE_OK);
    /* Means 2.5, 5, 2; population variances 5/4, 0, 56/4. */
    const float off[3] = {2.5f, 5.0f, 2.0f};
    const float sc[3] = {(float)(1.0 / sqrt(1.25)), 1.0f, (float)(1.0 / sqrt(14.0))};
    ck_assert_allclose(s.offset, off, 3, 0, 0);
    ck_assert_allclose(s.scale, sc, 3, 0, 1e-7);
    ck_assert_int_eq(clae_scaling_apply(&s, ds), CLAE_OK);
    const double a = sqrt(1.25), c = sqrt(14.0);
    const float want[12] = {(float)(-1.5 / a), 0, (float)(-4 / c), (float)(-0.5 / a), 0, (float)(-2 / c),
                            (float)(0.5 / a),  0, 0,               (float)(1.5 / a),  0, (float)(6 / c)};
    ck_assert_allclose(ds->x, want, 12, 1e-6, 1e-6);
    /* And the defining property: each varying column now has mean 0, std 1. */
    for (int j = 0; j < 3; j += 2) {
        double m = 0, v = 0;
        for (int r = 0; r < 4; r++) m += ds->x[r * 3 + j] / 4.0;
        for (int r = 0; r < 4; r++) v += (ds->x[r * 3 + j] - m) * (ds->x[r * 3 + j] - m) / 4.0;
        ck_assert_double_eq_tol(m, 0.0, 1e-6);
        ck_assert_double_eq_tol(v, 1.0, 1e-5);
    }
    clae_scaling_free(&s);
    clae_dataset_free(ds);
}
END_TEST

/* h2o's NORMALIZE: (x − mean)/(max − min), a constant column shifted only;
 * the inverse brings the data back, and the kind survives a model file. */
START_TEST(scaling_normalize)
{
    clae_dataset *ds = small_matrix();
    clae_scaling s;
    ck_assert_int_eq(clae_scaling_fit(ds, CLAE_SCALE_NORMALIZE, &s), CLAE_OK);
    ck_assert_int_eq(s.kind, CLAE_SCALE_NORMALIZE);
    ck_assert_str_eq(clae_scale_kind_name(CLAE_SCALE_NORMALIZE), "normalize");
    /* Means 2.5, 5, 2; ranges 3, 0 (scale 1), 10. */
    const float off[3] = {2.5f, 5.0f, 2.0f}, sc[3] = {1.0f / 3.0f, 1.0f, 0.1f};
    ck_assert_allclose(s.offset, off, 3, 0, 0);
    ck_assert_allclose(s.scale, sc, 3, 0, 1e-7);
    ck_assert_int_eq(clae_scaling_apply(&s, ds), CLAE_OK);
    const float want[12] = {-0.5f, 0, -0.4f, -0.5f / 3.0f, 0, -0.2f, 0.5f / 3.0f, 0, 0, 0.5f, 0, 0.6f};
    ck_assert_allclose(ds->x, want, 12, 1e-7, 1e-6);
    /* The defining properties: every column's mean is 0, its span at most 1. */
    for (int j = 0; j < 3; j++) {
        double m = 0, lo = 1e30, hi = -1e30;
        for (int r = 0; r < 4; r++) {
            double v = ds->x[r * 3 + j];
            m += v / 4.0;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        ck_assert_double_eq_tol(m, 0.0, 1e-7);
        ck_assert(hi - lo <= 1.0 + 1e-6);
    }
    float back[12];
    memcpy(back, ds->x, sizeof back);
    ck_assert_int_eq(clae_scaling_invert(&s, back, 4, 3), CLAE_OK);
    const float orig[12] = {1, 5, -2, 2, 5, 0, 3, 5, 2, 4, 5, 8};
    ck_assert_allclose(back, orig, 12, 1e-6, 1e-6);

    /* Stored with a model and read back as the same kind and numbers. */
    clae_model_config cfg;
    clae_model_config_default(&cfg);
    ck_assert_int_eq(clae_model_config_set_layers(&cfg, "3,2,3"), CLAE_OK);
    cfg.loss = CLAE_LOSS_SSE;
    clae_model *m = NULL;
    ck_assert_int_eq(clae_model_create(test_rt_ref(), &cfg, &m), CLAE_OK);
    const char *p = test_tmp_path("norm.safetensors");
    ck_assert_msg(clae_model_save(m, p, &s) == CLAE_OK, "%s", clae_last_error());
    clae_model_destroy(m);
    clae_scaling back_s;
    m = NULL;
    ck_assert_msg(clae_model_load(test_rt_ref(), p, CLAE_MODEL_INFERENCE, 0, &m, &back_s) == CLAE_OK, "%s",
                  clae_last_error());
    ck_assert_int_eq(back_s.kind, CLAE_SCALE_NORMALIZE);
    ck_assert_int_eq(memcmp(back_s.offset, s.offset, 3 * sizeof *s.offset), 0);
    ck_assert_int_eq(memcmp(back_s.scale, s.scale, 3 * sizeof *s.scale), 0);
    clae_model_destroy(m);
    clae_scaling_free(&back_s);
    clae_scaling_free(&s);
    clae_dataset_free(ds);
}
END_TEST

START_TEST(scaling_errors_and_names)
{
    clae_dataset *ds = small_matrix();
    clae_scaling s;
    const float off[5] = {0}, sc[5] = {1, 1, 1, 1, 1};
    ck_assert_int_eq(clae_scaling_set(CLAE_SCALE_ZSCORE, 5, off, sc, &s), CLAE_OK);
    float before[12];
    memcpy(before, ds->x, sizeof before);
    expect(clae_scaling_apply(&s, ds), CLAE_ERR_SHAPE, ds->path, "data has 3 columns, the zscore scaling was fitted on 5");
    ck_assert_int_eq(memcmp(before, ds->x, sizeof before), 0);
    float m[6] = {0};
    ck_assert_int_eq(clae_scaling_invert(&s, m, 2, 3), CLAE_ERR_SHAPE);
    clae_scaling_free(&s);

    const float zero[3] = {1, 0, 1}, fine[3] = {0, 0, 0};
    ck_assert_int_eq(clae_scaling_set(CLAE_SCALE_MINMAX, 3, fine, zero, &s), CLAE_ERR_ARG);
    ck_assert_msg(strstr(clae_last_error(), "column 1"), "%s", clae_last_error());
    ck_assert_ptr_null(s.scale);

    /* NONE changes nothing. */
    ck_assert_int_eq(clae_scaling_fit(ds, CLAE_SCALE_NONE, &s), CLAE_OK);
    ck_assert_uint_eq(s.cols, 3);
    ck_assert_int_eq(clae_scaling_apply(&s, ds), CLAE_OK);
    ck_assert_int_eq(memcmp(before, ds->x, sizeof before), 0);
    clae_scaling_free(&s);

    clae_scale_kind k = CLAE_SCALE_NONE;
    for (int i = 0; i < CLAE_SCALE_COUNT; i++) {
        ck_assert_int_eq(clae_scale_kind_parse(clae_scale_kind_name((clae_scale_kind)i), &k), CLAE_OK);
        ck_assert_int_eq(k, i);
    }
    ck_assert_str_eq(clae_scale_kind_name(CLAE_SCALE_MINMAX), "minmax");
    ck_assert_int_eq(clae_scale_kind_parse("standard", &k), CLAE_ERR_ARG);
    ck_assert_msg(strstr(clae_last_error(), "'standard'"), "%s", clae_last_error());
    clae_dataset_free(ds);
}
END_TEST

Suite *suite_io(void)
{
    Suite *s = suite_create("io");

    TCase *st = tcase_create("safetensors");
    tcase_add_checked_fixture(st, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(st, st_round_trip);
    tcase_add_test(st, st_header_only);
    tcase_add_test(st, st_layout_independent);
    tcase_add_test(st, st_corrupt_files);
    tcase_add_test(st, st_foreign_layouts);
    tcase_add_test(st, st_writer_errors);
    suite_add_tcase(s, st);

    TCase *rd = tcase_create("readers");
    tcase_add_checked_fixture(rd, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(rd, csv_good);
    tcase_add_test(rd, csv_bad);
    tcase_add_test(rd, npy_good);
    tcase_add_test(rd, npy_bad);
    tcase_add_test(rd, load_picks_reader);
    tcase_add_test(rd, formats_load_alike);
    tcase_add_test(rd, csv_gzip_and_header_names);
    tcase_add_test(rd, stdin_by_content);
    suite_add_tcase(s, rd);

    TCase *wr = tcase_create("writers");
    tcase_add_checked_fixture(wr, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(wr, csv_save_round_trip);
    tcase_add_test(wr, npy_save_round_trip);
    suite_add_tcase(s, wr);

    TCase *sc = tcase_create("scaling");
    tcase_add_checked_fixture(sc, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(sc, scaling_minmax);
    tcase_add_test(sc, scaling_zscore);
    tcase_add_test(sc, scaling_normalize);
    tcase_add_test(sc, scaling_errors_and_names);
    suite_add_tcase(s, sc);
    return s;
}
