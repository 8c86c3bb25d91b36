/* test_cli_data.c — the cli_data suite: one value rule for IDX, CSV and NPY (the same data trains the same
 * model), .csv.gz and stdin, --skip-columns/--label-column, --layers auto, --validation-split, --scale normalize. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "test_util.h"

/* 64 rows of 16 byte "pixels": enough for a few steps at batch 16. */
#define R 64
#define C 16
/* A few cpu-ref steps: the equalities below are bit for bit, so any change of
 * the loaded floats would show. */
#define RUN "--device cpu-ref --batch 16 --steps 6 -q"

/* As run_expect, with standard input read from the file `in`. */
static run_result run_stdin(int status, const char *in, const char *args)
{
    char cmd[8192] = "", bin[1024];
    snprintf(bin, sizeof bin, "%s/clae", test_build_dir());
    test_append_quoted(cmd, sizeof cmd, bin);
    strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1);
    strncat(cmd, args, sizeof cmd - strlen(cmd) - 1);
    strncat(cmd, " <", sizeof cmd - strlen(cmd) - 1);
    test_append_quoted(cmd, sizeof cmd, in);
    strncat(cmd, " >", sizeof cmd - strlen(cmd) - 1);
    test_append_quoted(cmd, sizeof cmd, test_tmp_path("stdout"));
    strncat(cmd, " 2>", sizeof cmd - strlen(cmd) - 1);
    test_append_quoted(cmd, sizeof cmd, test_tmp_path("stderr"));
    fflush(NULL);
    int w = system(cmd);
    run_result r;
    r.status = w != -1 && WIFEXITED(w) ? WEXITSTATUS(w) : -1;
    r.out = test_slurp_text(test_tmp_path("stdout"));
    r.err = test_slurp_text(test_tmp_path("stderr"));
    ck_assert_msg(r.status == status, "%s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s", cmd, r.status, status,
                  r.out, r.err);
    return r;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_npy(const char *path, const char *descr, size_t rows, size_t cols, const void *data, size_t n)
{
    char dict[128];
    int dlen = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }", descr,
                        rows, cols);
    size_t total = (10 + (size_t)dlen + 1 + 63) / 64 * 64, hlen = total - 10;
    unsigned char *buf = malloc(total + n);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)hlen;
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)dlen);
    memset(buf + 10 + dlen, ' ', hlen - (size_t)dlen - 1);
    buf[total - 1] = '\n';
    memcpy(buf + total, data, n); /* the hosts we test on are little-endian, as '<f4' says */
    write_bytes(path, buf, total + n);
    free(buf);
}

/* The test data: bytes b, and the floats b/255 every reader must load them as. */
static unsigned char pix[R * C];
static float val[R * C];

/* Writes the same data as IDX (d.idx), uint8 NPY (u1.npy), float32 NPY of
 * b/255 (f4.npy), CSV of b/255 (f.csv, "%.9g" reads back exactly), the CSV
 * gzip'd (f.csv.gz), and the raw bytes as CSV text (bytes.csv). */
static void write_formats(void)
{
    for (int k = 0; k < R * C; k++) {
        pix[k] = (unsigned char)((k * 97 + (k / C) * 13) % 256);
        val[k] = (float)pix[k] / 255.0f;
    }
    unsigned char idx[12 + R * C] = {0, 0, 8, 2, 0, 0, 0, R, 0, 0, 0, C};
    memcpy(idx + 12, pix, sizeof pix);
    write_bytes(test_tmp_path("d.idx"), idx, sizeof idx);
    write_npy(test_tmp_path("u1.npy"), "|u1", R, C, pix, sizeof pix);
    write_npy(test_tmp_path("f4.npy"), "<f4", R, C, val, sizeof val);
    ck_assert_int_eq(clae_matrix_save_csv(test_tmp_path("f.csv"), val, R, C, NULL), CLAE_OK);
    char *text = test_slurp_text(test_tmp_path("f.csv"));
    gzFile g = gzopen(test_tmp_path("f.csv.gz"), "wb");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzputs(g, text), (int)strlen(text));
    ck_assert_int_eq(gzclose(g), Z_OK);
    free(text);
    float raw[R * C];
    for (int k = 0; k < R * C; k++) raw[k] = pix[k];
    ck_assert_int_eq(clae_matrix_save_csv(test_tmp_path("bytes.csv"), raw, R, C, NULL), CLAE_OK);
}

static clae_model *load_model(const char *name, clae_scaling *sc)
{
    clae_model *m = NULL;
    clae_status st = clae_model_load(test_rt_ref(), test_tmp_path(name), CLAE_MODEL_INFERENCE, 0, &m, sc);
    ck_assert_msg(st == CLAE_OK, "loading %s: %s", name, clae_last_error());
    return m;
}

/* The models in files a and b hold bit-identical weights and biases. */
static void assert_same_model(const char *a, const char *b)
{
    clae_model *ma = load_model(a, NULL), *mb = load_model(b, NULL);
    clae_model_config ca, cb;
    clae_model_get_config(ma, &ca);
    clae_model_get_config(mb, &cb);
    ck_assert_int_eq(ca.n_layers, cb.n_layers);
    for (int l = 0; l < ca.n_layers; l++) {
        ck_assert_int_eq(ca.sizes[l], cb.sizes[l]);
        ck_assert_int_eq(ca.sizes[l + 1], cb.sizes[l + 1]);
        size_t no = (size_t)ca.sizes[l + 1], ni = (size_t)ca.sizes[l];
        float *Wa = malloc(no * ni * sizeof *Wa), *Wb = malloc(no * ni * sizeof *Wb);
        float *ba = malloc(no * sizeof *ba), *bb = malloc(no * sizeof *bb);
        ck_assert_int_eq(clae_model_get_layer(ma, l, Wa, ba), CLAE_OK);
        ck_assert_int_eq(clae_model_get_layer(mb, l, Wb, bb), CLAE_OK);
        ck_assert_msg(memcmp(Wa, Wb, no * ni * sizeof *Wa) == 0, "%s vs %s: layers.%d.weight differs", a, b, l);
        ck_assert_msg(memcmp(ba, bb, no * sizeof *ba) == 0, "%s vs %s: layers.%d.bias differs", a, b, l);
        free(Wa);
        free(Wb);
        free(ba);
        free(bb);
    }
    ck_assert_uint_eq(clae_model_steps(ma), clae_model_steps(mb));
    clae_model_destroy(ma);
    clae_model_destroy(mb);
}

/* Trains on data file `data` (tested on itself) into model file `out`. */
static void train_on(const char *data, const char *extra, const char *out)
{
    char d[1100];
    snprintf(d, sizeof d, "%s", q(data));
    run_result r = run_expect(0, "train " RUN " --data %s --test %s --layers auto,8,4 %s --out %s", d, d, extra,
                              q(out));
    run_free(&r);
}

static cJSON *parse_json(const run_result *r)
{
    cJSON *j = cJSON_Parse(r->out);
    ck_assert_msg(j != NULL && cJSON_IsObject(j), "not one JSON object:\n%s", r->out);
    return j;
}

static double json_num(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsNumber(v), "key '%s' missing or not a number", key);
    return v->valuedouble;
}

/* ------------------------------------------------------------------------ */

/* The same data as IDX bytes, uint8 NPY bytes, float32 NPY of b/255 and CSV
 * of b/255 trains bit-identical models, and scores identically. */
START_TEST(three_formats_one_model)
{
    write_formats();
    train_on("d.idx", "", "m-idx.st");
    train_on("u1.npy", "", "m-u1.st");
    train_on("f4.npy", "", "m-f4.st");
    train_on("f.csv", "", "m-csv.st");
    assert_same_model("m-idx.st", "m-u1.st");
    assert_same_model("m-idx.st", "m-f4.st");
    assert_same_model("m-idx.st", "m-csv.st");
    /* auto,8,4 is 16,8,4,8,16 for 16 columns. */
    run_result r = run_expect(0, "train " RUN " --data %s --test %s --layers 16,8,4 --out %s", q("d.idx"), q("d.idx"),
                              q("m-explicit.st"));
    run_free(&r);
    assert_same_model("m-idx.st", "m-explicit.st");

    /* One model scores every format's file alike. */
    r = run_expect(0, "score --device cpu-ref --model %s --data %s --out %s", q("m-idx.st"), q("u1.npy"), q("s1.csv"));
    run_free(&r);
    r = run_expect(0, "score --device cpu-ref --model %s --data %s --out %s", q("m-idx.st"), q("f.csv"), q("s2.csv"));
    ck_assert_msg(strstr(r.err, "note:") == NULL, "a note on data in [0,1]: %s", r.err);
    run_free(&r);
    char *a = test_slurp_text(test_tmp_path("s1.csv")), *b = test_slurp_text(test_tmp_path("s2.csv"));
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
}
END_TEST

/* Bytes written as CSV text are taken as stored (0..255): a sigmoid model can
 * reconstruct none of it, and score says why and what to do. */
START_TEST(score_notes_byte_units)
{
    write_formats();
    train_on("d.idx", "", "m.st");
    run_result r = run_expect(0, "score --device cpu-ref --model %s --data %s --json", q("m.st"), q("bytes.csv"));
    ck_assert_contains(r.err, "bytes.csv has values from 0 to 255");
    ck_assert_contains(r.err, "sigmoid outputs lie in (0, 1)");
    ck_assert_contains(r.err, "divide them by 255");
    cJSON *j = parse_json(&r);
    ck_assert(json_num(j, "mean") > 1000.0); /* the gap the note explains */
    cJSON_Delete(j);
    run_free(&r);
    r = run_expect(0, "score --device cpu-ref --model %s --data %s -q", q("m.st"), q("bytes.csv"));
    ck_assert_str_eq(r.err, "");
    run_free(&r);
}
END_TEST

/* .csv.gz and standard input read the same floats as the plain file. */
START_TEST(gzip_and_stdin)
{
    write_formats();
    train_on("f.csv", "", "m-csv.st");
    train_on("f.csv.gz", "", "m-gz.st");
    assert_same_model("m-csv.st", "m-gz.st");

    char args[2048];
    snprintf(args, sizeof args, "train " RUN " --data - --layers auto,8,4 --out %s --json", q("m-stdin.st"));
    run_result r = run_stdin(0, test_tmp_path("f.csv.gz"), args);
    cJSON *j = parse_json(&r);
    ck_assert_double_eq(json_num(j, "train_rows"), R);
    ck_assert_double_eq(json_num(j, "test_rows"), R); /* no --test: the training rows, as for CSV */
    cJSON_Delete(j);
    run_free(&r);
    assert_same_model("m-csv.st", "m-stdin.st");
    snprintf(args, sizeof args, "train " RUN " --data - --layers auto,8,4 --out %s", q("m-stdin-idx.st"));
    r = run_stdin(0, test_tmp_path("d.idx"), args);
    run_free(&r);
    assert_same_model("m-csv.st", "m-stdin-idx.st");

    /* encode and score read standard input too. */
    snprintf(args, sizeof args, "encode --device cpu-ref --model %s --data - --out %s", q("m-csv.st"),
             q("codes.csv"));
    r = run_stdin(0, test_tmp_path("u1.npy"), args);
    run_free(&r);
    r = run_expect(0, "encode --device cpu-ref --model %s --data %s --out %s", q("m-csv.st"), q("f.csv.gz"),
                   q("codes2.csv"));
    run_free(&r);
    char *a = test_slurp_text(test_tmp_path("codes.csv")), *b = test_slurp_text(test_tmp_path("codes2.csv"));
    ck_assert_str_eq(a, b);
    free(a);
    free(b);

    r = run_expect(2, "train --data - --test - " RUN);
    ck_assert_contains(r.err, "standard input can be read only once");
    run_free(&r);
}
END_TEST

/* An id column and a label column, by name or number, in CSV and NPY: what
 * is left trains the model the bare features train, and score keeps the label. */
START_TEST(skip_and_label_columns)
{
    write_formats();
    train_on("f.csv", "", "m-bare.st");

    /* id, 16 features, label: with a header, values as in f.csv. */
    char *text = test_slurp_text(test_tmp_path("f.csv"));
    FILE *f = fopen(test_tmp_path("cols.csv"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("id", f);
    for (int j = 0; j < C; j++) fprintf(f, ",p%d", j);
    fputs(",label\n", f);
    char *line = text;
    for (int r = 0; r < R; r++) {
        char *nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(nl);
        fprintf(f, "%d,%.*s,%d\n", 1000 + r, (int)(nl - line), line, r % 3);
        line = nl + 1;
    }
    ck_assert_int_eq(fclose(f), 0);
    free(text);
    train_on("cols.csv", "--skip-columns id --label-column label", "m-names.st");
    assert_same_model("m-bare.st", "m-names.st");
    train_on("cols.csv", "--skip-columns 1,18", "m-nums.st");
    assert_same_model("m-bare.st", "m-nums.st");
    train_on("cols.csv", "--skip-columns 1 --label-column 18", "m-mixed.st");
    assert_same_model("m-bare.st", "m-mixed.st");
    /* Repeats count once: a list longer than the columns neither hides a later entry nor leaves
     * the label no room (both happened when every repeat took a slot). */
    train_on("cols.csv", "--skip-columns 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,18", "m-rep.st");
    assert_same_model("m-bare.st", "m-rep.st");
    train_on("cols.csv", "--skip-columns 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1 --label-column 18", "m-rep2.st");
    assert_same_model("m-bare.st", "m-rep2.st");

    /* score: the label beside each score. */
    run_result r = run_expect(0, "score --device cpu-ref --model %s --data %s --skip-columns id --label-column label "
                                 "--out %s",
                              q("m-bare.st"), q("cols.csv"), q("s.csv"));
    run_free(&r);
    r = run_expect(0, "score --device cpu-ref --model %s --data %s --out %s", q("m-bare.st"), q("f.csv"),
                   q("s-bare.csv"));
    run_free(&r);
    clae_dataset *got = NULL, *bare = NULL;
    ck_assert_int_eq(clae_dataset_load(test_tmp_path("s.csv"), &got), CLAE_OK);
    ck_assert_int_eq(clae_dataset_load(test_tmp_path("s-bare.csv"), &bare), CLAE_OK);
    ck_assert_uint_eq(got->cols, 4);
    ck_assert_str_eq(got->names[3], "label");
    ck_assert_uint_eq(got->rows, R);
    for (size_t k = 0; k < R; k++) {
        ck_assert(got->x[k * 4 + 1] == bare->x[k * 3 + 1]); /* the same score */
        ck_assert(got->x[k * 4 + 3] == (float)(k % 3));
    }
    clae_dataset_free(got);
    clae_dataset_free(bare);

    /* NPY: columns by number (an id column in front). */
    float *wide = malloc(R * (C + 1) * sizeof *wide);
    for (int k = 0; k < R; k++) {
        wide[k * (C + 1)] = (float)(7 * k);
        memcpy(wide + k * (C + 1) + 1, val + k * C, C * sizeof *wide);
    }
    write_npy(test_tmp_path("wide.npy"), "<f4", R, C + 1, wide, R * (C + 1) * sizeof *wide);
    free(wide);
    train_on("wide.npy", "--skip-columns 1", "m-npy.st");
    assert_same_model("m-bare.st", "m-npy.st");

    /* Mistakes, named. */
    r = run_expect(2, "train " RUN " --data %s --skip-columns nope", q("cols.csv"));
    ck_assert_contains(r.err, "--skip-columns: ");
    ck_assert_contains(r.err, "has no column named 'nope' (its header: 'id', 'p0'");
    run_free(&r);
    r = run_expect(2, "train " RUN " --data %s --label-column label", q("wide.npy"));
    ck_assert_contains(r.err, "no header to find it by name");
    run_free(&r);
    r = run_expect(2, "train " RUN " --data %s --skip-columns 2-40", q("cols.csv"));
    ck_assert_contains(r.err, "column 40 does not exist");
    ck_assert_contains(r.err, "has 18 columns (counted from 1)");
    run_free(&r);
    r = run_expect(2, "score --device cpu-ref --model %s --data %s --skip-columns 0", q("m-bare.st"), q("cols.csv"));
    ck_assert_contains(r.err, "counted from 1");
    run_free(&r);
}
END_TEST

/* --layers auto: the input width from the data, on fresh runs and resumes;
 * refused where no data is read. */
START_TEST(layers_auto)
{
    write_formats();
    run_result r = run_expect(0, "train " RUN " --data %s --layers auto,8,4 --json", q("f.csv"));
    cJSON *j = parse_json(&r);
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(j, "layers");
    ck_assert(cJSON_IsArray(layers));
    const int want[5] = {16, 8, 4, 8, 16};
    ck_assert_int_eq(cJSON_GetArraySize(layers), 5);
    for (int k = 0; k < 5; k++) ck_assert_int_eq((int)cJSON_GetArrayItem(layers, k)->valuedouble, want[k]);
    cJSON_Delete(j);
    run_free(&r);

    /* A resume given the same auto list agrees with its checkpoint. */
    r = run_expect(0, "train --device cpu-ref --batch 16 --steps 3 -q --data %s --layers auto,8,4 --checkpoint %s",
                   q("f.csv"), q("c.ckpt"));
    run_free(&r);
    r = run_expect(0, "train --device cpu-ref --batch 16 --steps 6 -q --data %s --layers auto,8,4 --checkpoint %s "
                      "--resume --out %s",
                   q("f.csv"), q("c.ckpt"), q("m-resumed.st"));
    run_free(&r);
    train_on("f.csv", "", "m.st");
    assert_same_model("m.st", "m-resumed.st");

    r = run_expect(2, "plan --layers auto,64");
    ck_assert_contains(r.err, "'auto' takes the input width from --data");
    run_free(&r);
    r = run_expect(2, "train " RUN " --data %s --layers auto,8,auto", q("f.csv"));
    ck_assert_contains(r.err, "'auto' stands only for the first (input) width");
    run_free(&r);
    r = run_expect(2, "train " RUN " --data %s --layers auto", q("f.csv"));
    ck_assert_contains(r.err, "needs at least a code width");
    run_free(&r);
}
END_TEST

/* --validation-split F: the last F of the rows test, the rest train, so the
 * weights are those of the first rows alone and test_mse is their mean score. */
START_TEST(validation_split)
{
    write_formats();
    run_result r = run_expect(0, "train " RUN " --data %s --layers auto,8,4 --validation-split 0.25 --json --out %s",
                              q("f.csv"), q("m-split.st"));
    cJSON *j = parse_json(&r);
    ck_assert_double_eq(json_num(j, "train_rows"), 48); /* int(64 * 0.75), Keras' rule */
    ck_assert_double_eq(json_num(j, "test_rows"), 16);
    const double test_mse = json_num(j, "test_mse");
    cJSON_Delete(j);
    run_free(&r);
    r = run_expect(0, "train " RUN " --data %s --limit 48 --layers auto,8,4 --out %s", q("f.csv"), q("m-first.st"));
    run_free(&r);
    assert_same_model("m-split.st", "m-first.st");
    ck_assert_int_eq(clae_matrix_save_csv(test_tmp_path("last.csv"), val + 48 * C, 16, C, NULL), CLAE_OK);
    r = run_expect(0, "score --device cpu-ref --model %s --data %s --json", q("m-split.st"), q("last.csv"));
    j = parse_json(&r);
    ck_assert_double_eq_tol(json_num(j, "mean"), test_mse, 1e-12 + 1e-9 * test_mse);
    cJSON_Delete(j);
    run_free(&r);

    r = run_expect(2, "train " RUN " --data %s --validation-split 0.2 --test %s", q("f.csv"), q("f.csv"));
    ck_assert_contains(r.err, "give one or the other");
    run_free(&r);
    r = run_expect(2, "train " RUN " --data %s --validation-split 1", q("f.csv"));
    ck_assert_contains(r.err, "0 < F < 1");
    run_free(&r);
    r = run_expect(2, "train " RUN " --data %s --limit 3 --layers auto,8 --validation-split 0.9", q("f.csv"));
    ck_assert_contains(r.err, "--validation-split 0.9 of 3 rows leaves no training rows");
    run_free(&r);
}
END_TEST

/* --scale normalize: h2o's (x − mean)/(max − min), fitted on the training
 * rows and stored with the model. */
START_TEST(scale_normalize_stored)
{
    write_formats();
    run_result r = run_expect(0, "train " RUN " --data %s --layers auto,8 --scale normalize --loss sse "
                                 "--output-activation linear --json --out %s",
                              q("bytes.csv"), q("m.st"));
    cJSON *j = parse_json(&r);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "scale")), "normalize");
    cJSON_Delete(j);
    run_free(&r);
    clae_scaling sc;
    clae_model *m = load_model("m.st", &sc);
    ck_assert_int_eq(sc.kind, CLAE_SCALE_NORMALIZE);
    for (int c = 0; c < C; c++) {
        double mean = 0, lo = 1e30, hi = -1e30;
        for (int k = 0; k < R; k++) {
            double v = pix[k * C + c];
            mean += v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        mean /= R;
        ck_assert_float_eq(sc.offset[c], (float)mean);
        ck_assert_float_eq(sc.scale[c], (float)(1.0 / (hi - lo)));
    }
    clae_scaling_free(&sc);
    clae_model_destroy(m);
    r = run_expect(2, "train " RUN " --data %s --scale h2o", q("f.csv"));
    ck_assert_contains(r.err, "expected none, minmax, zscore or normalize");
    run_free(&r);
}
END_TEST

Suite *suite_cli_data(void)
{
    Suite *s = suite_create("cli_data");
    TCase *t = tcase_create("data");
    tcase_add_checked_fixture(t, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, three_formats_one_model);
    tcase_add_test(t, score_notes_byte_units);
    tcase_add_test(t, gzip_and_stdin);
    tcase_add_test(t, skip_and_label_columns);
    tcase_add_test(t, layers_auto);
    tcase_add_test(t, validation_split);
    tcase_add_test(t, scale_normalize_stored);
    suite_add_tcase(s, t);
    return s;
}
