/* test_cli_runs.c — the cli_runs suite: runs that must not be lost or go wrong quietly (output paths checked
 * first, bce refused off [0,1], divergence stopped, resume from the checkpoint's flags) and PyTorch weights. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "test_util.h"

/* 16 columns, small enough that cpu-ref trains in milliseconds. */
#define COLS 16
#define HID 8
#define ROWS 200
#define TINY "--layers 16,8,4 --batch 32 --device cpu-ref -q"

/* ROWS x COLS values: 0..255 integers (pixels as CSV holds them) or those /255. */
static void write_csv(const char *name, int bytes)
{
    float v[ROWS * COLS];
    test_fill_uniform(v, ROWS * COLS, 7, 0.0f, 1.0f);
    FILE *f = fopen(test_tmp_path(name), "w");
    ck_assert_ptr_nonnull(f);
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++) {
            int p = (int)(v[r * COLS + c] * 255.0f);
            if (bytes) fprintf(f, "%d%c", p, c == COLS - 1 ? '\n' : ',');
            else fprintf(f, "%.9g%c", (double)p / 255.0, c == COLS - 1 ? '\n' : ',');
        }
    fclose(f);
}

static int exists(const char *name) { return access(test_tmp_path(name), F_OK) == 0; }

START_TEST(output_paths_checked_before_training)
{
    write_csv("x.csv", 0);
    /* Each bad output is refused at once (exit 2, no epoch run), naming the flag. */
    static const char *const bad[] = {"--out /nonexistent/dir/m.safetensors", "--checkpoint /nonexistent/c.st",
                                      "--plot /nonexistent/p.png"};
    for (size_t k = 0; k < 3; k++) {
        run_result r = run_expect(2, "train --data %s " TINY " --epochs 50 %s", q("x.csv"), bad[k]);
        ck_assert_contains(r.err, "does not exist");
        ck_assert_msg(strstr(r.err, "epoch") == NULL, "trained before failing:\n%s", r.err);
        run_free(&r);
    }
    run_result r = run_expect(2, "train --data %s " TINY " --plot %s", q("x.csv"), q(""));
    ck_assert_contains(r.err, "is a directory");
    run_free(&r);
    /* A file where a directory should be. */
    r = run_expect(2, "train --data %s " TINY " --out %s/m.st", q("x.csv"), q("x.csv"));
    ck_assert_contains(r.err, "is not a directory");
    run_free(&r);
    /* The commands that use a model check theirs too, before loading anything. */
    r = run_expect(2, "encode --model %s --data %s --out /nonexistent/codes.csv", q("none.st"), q("x.csv"));
    ck_assert_contains(r.err, "--out /nonexistent/codes.csv");
    run_free(&r);
    r = run_expect(2, "score --model %s --data %s --plot /nonexistent/h.png", q("none.st"), q("x.csv"));
    ck_assert_contains(r.err, "--plot /nonexistent/h.png");
    run_free(&r);
}
END_TEST

START_TEST(bce_refused_off_unit_range)
{
    write_csv("px.csv", 1);
    run_result r = run_expect(2, "train --data %s " TINY " --epochs 1", q("px.csv"));
    ck_assert_contains(r.err, "--loss bce needs training data in [0, 1]");
    ck_assert_contains(r.err, "--scale minmax");
    ck_assert_contains(r.err, "--loss sse");
    run_free(&r);
    r = run_expect(2, "train --data %s " TINY " --epochs 1 --scale zscore", q("px.csv"));
    ck_assert_contains(r.err, "after --scale zscore");
    run_free(&r);
    /* The fixes the message names both work. */
    r = run_expect(0, "train --data %s " TINY " --epochs 1 --scale minmax", q("px.csv"));
    run_free(&r);
    r = run_expect(0, "train --data %s " TINY " --epochs 1 --loss sse --output-activation linear", q("px.csv"));
    run_free(&r);
}
END_TEST

START_TEST(divergence_stops_and_keeps_checkpoint)
{
    write_csv("px.csv", 1);
    /* A learning rate that overflows at once: the library's non-finite loss. */
    run_result r = run_expect(1,
                              "train --data %s " TINY " --epochs 20 --loss sse --output-activation linear "
                              "--optimizer sgd --lr 1e30 --checkpoint %s --checkpoint-every 1 --out %s",
                              q("px.csv"), q("ck.st"), q("m.st"));
    ck_assert_contains(r.err, "not finite");
    ck_assert_contains(r.err, "was not written");
    ck_assert_contains(r.err, "last good checkpoint");
    run_free(&r);
    ck_assert_msg(!exists("m.st"), "a diverged run wrote --out");
    ck_assert_msg(exists("ck.st"), "the step-1 checkpoint is gone");
    clae_model *m = NULL;
    ck_assert_msg(clae_model_load(test_rt_ref(), test_tmp_path("ck.st"), 0, 0, &m, NULL) == CLAE_OK, "%s",
                  clae_last_error());
    ck_assert_uint_eq(clae_model_steps(m), 1);
    clae_model_destroy(m);
    /* One that grows but stays finite: caught by the 1000x rule. */
    r = run_expect(1,
                   "train --data %s " TINY " --epochs 20 --loss sse --output-activation linear --optimizer sgd "
                   "--lr 1e3 --out %s",
                   q("px.csv"), q("m.st"));
    ck_assert_contains(r.err, "the loss diverged");
    ck_assert_contains(r.err, "try a smaller --lr");
    run_free(&r);
    ck_assert_msg(!exists("m.st"), "a diverged run wrote --out");
}
END_TEST

/* The model files' weights, read back through the library. */
static float *weights_of(const char *path, size_t *n)
{
    clae_model *m = NULL;
    ck_assert_msg(clae_model_load(test_rt_ref(), path, CLAE_MODEL_INFERENCE, 0, &m, NULL) == CLAE_OK, "%s",
                  clae_last_error());
    clae_model_config c;
    clae_model_get_config(m, &c);
    size_t total = 0;
    for (int l = 0; l < c.n_layers; l++) total += (size_t)c.sizes[l + 1] * ((size_t)c.sizes[l] + 1);
    float *w = malloc(total * sizeof *w), *p = w;
    ck_assert_ptr_nonnull(w);
    for (int l = 0; l < c.n_layers; l++) {
        ck_assert(clae_model_get_layer(m, l, p, p + (size_t)c.sizes[l + 1] * (size_t)c.sizes[l]) == CLAE_OK);
        p += (size_t)c.sizes[l + 1] * ((size_t)c.sizes[l] + 1);
    }
    clae_model_destroy(m);
    *n = total;
    return w;
}

START_TEST(resume_reads_flags_from_checkpoint)
{
    write_csv("x.csv", 0);
#define FLAGS "--layers 16,8,4 --loss sse --optimizer momentum --momentum 0.5 --lr 0.01 --batch 32 --scale minmax"
    run_result r = run_expect(0, "train --data %s " FLAGS " --device cpu-ref -q --epochs 2 --out %s", q("x.csv"),
                              q("whole.st"));
    run_free(&r);
    r = run_expect(0, "train --data %s " FLAGS " --device cpu-ref -q --epochs 1 --checkpoint %s", q("x.csv"),
                   q("ck.st"));
    run_free(&r);
    /* No model flag given again: all come from the checkpoint. */
    r = run_expect(0, "train --data %s --device cpu-ref -q --epochs 2 --resume --checkpoint %s --out %s --json",
                   q("x.csv"), q("ck.st"), q("resumed.st"));
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "optimizer")->valuestring, "momentum");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "loss")->valuestring, "sse");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "scale")->valuestring, "minmax");
    ck_assert_int_eq((int)cJSON_GetObjectItem(j, "batch")->valuedouble, 32);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "layers")), 5);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "resumed")));
    cJSON_Delete(j);
    run_free(&r);
    size_t n1, n2;
    float *a = weights_of(test_tmp_path("whole.st"), &n1), *b = weights_of(test_tmp_path("resumed.st"), &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_msg(memcmp(a, b, n1 * sizeof *a) == 0, "the resumed run's weights differ from the uninterrupted run's");
    free(a);
    free(b);
    /* A flag given again must agree: the same value is fine, another is refused by name. */
    r = run_expect(0, "train --data %s --device cpu-ref -q --epochs 2 --resume --checkpoint %s --momentum 0.5 "
                      "--batch 32 --layers 16,8,4",
                   q("x.csv"), q("ck.st"));
    run_free(&r);
    r = run_expect(2, "train --data %s --device cpu-ref -q --epochs 3 --resume --checkpoint %s --momentum 0.9",
                   q("x.csv"), q("ck.st"));
    ck_assert_contains(r.err, "--momentum: the checkpoint has 0.5, the command line 0.9");
    run_free(&r);
    r = run_expect(2, "train --data %s --device cpu-ref -q --epochs 3 --resume --checkpoint %s --activation tanh",
                   q("x.csv"), q("ck.st"));
    ck_assert_contains(r.err, "--activation: the checkpoint has relu, the command line tanh");
    run_free(&r);
#undef FLAGS
}
END_TEST

START_TEST(optimizer_flags_stored)
{
    write_csv("x.csv", 0);
    run_result r = run_expect(0,
                              "train --data %s " TINY " --epochs 1 --adam-beta1 0.8 --adam-beta2 0.99 --adam-eps 1e-6 "
                              "--out %s",
                              q("x.csv"), q("adam.st"));
    run_free(&r);
    clae_model_config c;
    ck_assert_msg(clae_model_read_config(test_tmp_path("adam.st"), &c) == CLAE_OK, "%s", clae_last_error());
    ck_assert_float_eq(c.beta1, 0.8f);
    ck_assert_float_eq(c.beta2, 0.99f);
    ck_assert_float_eq(c.eps, 1e-6f);
    r = run_expect(0, "train --data %s " TINY " --epochs 1 --optimizer adadelta --adadelta-rho 0.95 --adadelta-eps "
                      "1e-6 --out %s",
                   q("x.csv"), q("ada.st"));
    run_free(&r);
    ck_assert(clae_model_read_config(test_tmp_path("ada.st"), &c) == CLAE_OK);
    ck_assert_float_eq(c.rho, 0.95f);
    ck_assert_float_eq(c.adadelta_eps, 1e-6f);
    r = run_expect(0, "train --data %s " TINY " --epochs 1 --optimizer nesterov --momentum 0.7 --out %s", q("x.csv"),
                   q("nag.st"));
    run_free(&r);
    ck_assert(clae_model_read_config(test_tmp_path("nag.st"), &c) == CLAE_OK);
    ck_assert_float_eq(c.momentum, 0.7f);
    /* Different hyperparameters give a different model: they are really used. */
    r = run_expect(0, "train --data %s " TINY " --epochs 1 --optimizer nesterov --momentum 0.2 --out %s", q("x.csv"),
                   q("nag2.st"));
    run_free(&r);
    size_t n1, n2;
    float *a = weights_of(test_tmp_path("nag.st"), &n1), *b = weights_of(test_tmp_path("nag2.st"), &n2);
    ck_assert(n1 == n2 && memcmp(a, b, n1 * sizeof *a) != 0);
    free(a);
    free(b);
    r = run_expect(2, "train --data %s " TINY " --momentum 1.5", q("x.csv"));
    ck_assert_contains(r.err, "--momentum");
    run_free(&r);
}
END_TEST

/* Writes what safetensors.torch.save_file writes for a PyTorch model whose
 * dense layers are layers.<i> (nn.Linear: weight out x in, bias out): no
 * __metadata__, tensors in name order, the header padded with spaces to 8. */
static void write_torch_file(const char *path, int n_layers, const int *sizes, const float *const *w,
                             const float *const *b)
{
    char header[4096] = "{";
    size_t off = 0;
    for (int l = 0; l < n_layers; l++) {
        size_t nb = (size_t)sizes[l + 1] * 4, nw = nb * (size_t)sizes[l];
        snprintf(header + strlen(header), sizeof header - strlen(header),
                 "%s\"layers.%d.bias\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]},"
                 "\"layers.%d.weight\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]}",
                 l ? "," : "", l, sizes[l + 1], off, off + nb, l, sizes[l + 1], sizes[l], off + nb, off + nb + nw);
        off += nb + nw;
    }
    strcat(header, "}");
    while (strlen(header) % 8) strcat(header, " ");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t hn = strlen(header);
    unsigned char le[8];
    for (int k = 0; k < 8; k++) le[k] = (unsigned char)(hn >> (8 * k));
    fwrite(le, 1, 8, f);
    fwrite(header, 1, hn, f);
    for (int l = 0; l < n_layers; l++) {
        fwrite(b[l], 4, (size_t)sizes[l + 1], f);
        fwrite(w[l], 4, (size_t)sizes[l + 1] * (size_t)sizes[l], f);
    }
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(pytorch_weights_used_and_converted)
{
    write_csv("x.csv", 0);
    static const int sizes[3] = {COLS, HID, COLS};
    float w0[HID * COLS], b0[HID], w1[COLS * HID], b1[COLS];
    test_fill_uniform(w0, HID * COLS, 11, -0.5f, 0.5f);
    test_fill_uniform(b0, HID, 12, -0.1f, 0.1f);
    test_fill_uniform(w1, COLS * HID, 13, -0.5f, 0.5f);
    test_fill_uniform(b1, COLS, 14, -0.1f, 0.1f);
    const float *w[2] = {w0, w1}, *b[2] = {b0, b1};
    write_torch_file(test_tmp_path("torch.safetensors"), 2, sizes, w, b);

    clae_file_kind kind;
    ck_assert(clae_model_file_kind(test_tmp_path("torch.safetensors"), &kind) == CLAE_OK);
    ck_assert_int_eq(kind, CLAE_FILE_WEIGHTS);
    /* Loading it as a clae file says what to do instead. */
    clae_model *m = NULL;
    ck_assert(clae_model_load(test_rt_ref(), test_tmp_path("torch.safetensors"), 0, 0, &m, NULL) == CLAE_ERR_FORMAT);
    ck_assert_contains(clae_last_error(), "weights only");

    /* encode with the widths read from the tensors: relu(W0 x + b0) per row. */
    run_result r = run_expect(0, "encode --model %s --data %s --out %s --layer 1 --device cpu-ref",
                              q("torch.safetensors"), q("x.csv"), q("codes.npy"));
    ck_assert_contains(r.err, "weights only");
    run_free(&r);
    clae_dataset *x = NULL, *codes = NULL;
    ck_assert(clae_dataset_load(test_tmp_path("x.csv"), &x) == CLAE_OK);
    ck_assert(clae_dataset_load(test_tmp_path("codes.npy"), &codes) == CLAE_OK);
    ck_assert_uint_eq(codes->rows, ROWS);
    ck_assert_uint_eq(codes->cols, HID);
    float expect[ROWS * HID];
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < HID; j++) {
            double z = b0[j];
            for (int k = 0; k < COLS; k++) z += (double)w0[j * COLS + k] * x->x[i * COLS + k];
            expect[i * HID + j] = z > 0 ? (float)z : 0.0f;
        }
    ck_assert_allclose(codes->x, expect, (size_t)ROWS * HID, 1e-5, 1e-5);
    clae_dataset_free(codes);
    clae_dataset_free(x);

    /* The architecture may be given; one that does not fit is refused naming the tensor. */
    r = run_expect(0, "score --model %s --data %s --layers 16,8,16 --activation relu --output-activation sigmoid "
                      "--device cpu-ref",
                   q("torch.safetensors"), q("x.csv"));
    run_free(&r);
    r = run_expect(1, "score --model %s --data %s --layers 16,4,16 --device cpu-ref", q("torch.safetensors"),
                   q("x.csv"));
    ck_assert_contains(r.err, "layers.0.weight");
    run_free(&r);

    clae_model_config c;
    /* --steps 0 converts it into a clae model file with the same weights. */
    r = run_expect(0, "train --init %s --steps 0 --data %s --loss sse --device cpu-ref -q --out %s",
                   q("torch.safetensors"), q("x.csv"), q("clae.st"));
    run_free(&r);
    ck_assert(clae_model_file_kind(test_tmp_path("clae.st"), &kind) == CLAE_OK);
    ck_assert_int_eq(kind, CLAE_FILE_MODEL);
    size_t n;
    float *got = weights_of(test_tmp_path("clae.st"), &n);
    ck_assert_uint_eq(n, (size_t)HID * (COLS + 1) + (size_t)COLS * (HID + 1));
    ck_assert(memcmp(got, w0, sizeof w0) == 0 && memcmp(got + HID * COLS, b0, sizeof b0) == 0);
    ck_assert(memcmp(got + HID * (COLS + 1), w1, sizeof w1) == 0);
    ck_assert(memcmp(got + HID * (COLS + 1) + COLS * HID, b1, sizeof b1) == 0);
    free(got);

    /* clae import does the same without data, and the result needs no flags. */
    r = run_expect(0, "import --model %s --out %s --loss sse -q", q("torch.safetensors"), q("imported.st"));
    run_free(&r);
    got = weights_of(test_tmp_path("imported.st"), &n);
    ck_assert(memcmp(got, w0, sizeof w0) == 0);
    free(got);
    ck_assert(clae_model_read_config(test_tmp_path("imported.st"), &c) == CLAE_OK);
    ck_assert_int_eq(c.loss, CLAE_LOSS_SSE);
    r = run_expect(0, "score --model %s --data %s --device cpu-ref", q("imported.st"), q("x.csv"));
    run_free(&r);
    r = run_expect(1, "import --model %s --out %s", q("imported.st"), q("again.st"));
    ck_assert_contains(r.err, "already a clae file");
    run_free(&r);

    /* A NaN weight is never written out. */
    b0[3] = NAN;
    write_torch_file(test_tmp_path("nan.safetensors"), 2, sizes, w, b);
    clae_model_config_default(&c);
    ck_assert(clae_model_config_from_weights(test_tmp_path("nan.safetensors"), &c) == CLAE_OK);
    ck_assert_int_eq(c.n_layers, 2);
    ck_assert(clae_model_import(test_rt_ref(), test_tmp_path("nan.safetensors"), &c, 0, &m) == CLAE_OK);
    ck_assert(clae_model_save(m, test_tmp_path("nan.st"), NULL) == CLAE_ERR_NUMERIC);
    ck_assert_contains(clae_last_error(), "layers.0.bias");
    ck_assert(!exists("nan.st"));
    clae_model_destroy(m);
}
END_TEST

Suite *suite_cli_runs(void)
{
    Suite *s = suite_create("cli_runs");
    TCase *t = tcase_create("runs");
    tcase_add_checked_fixture(t, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, output_paths_checked_before_training);
    tcase_add_test(t, bce_refused_off_unit_range);
    tcase_add_test(t, divergence_stops_and_keeps_checkpoint);
    tcase_add_test(t, resume_reads_flags_from_checkpoint);
    tcase_add_test(t, optimizer_flags_stored);
    tcase_add_test(t, pytorch_weights_used_and_converted);
    suite_add_tcase(s, t);
    return s;
}
