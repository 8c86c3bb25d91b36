/* test_cli_use.c — the cli_use suite: `clae train` with model files, checkpoints, resume, scaling and
 * plots, then `clae encode`, `score` and `reconstruct` on what it wrote, checked against the library. */
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "test_util.h"

/* Small real runs: 300 Fashion-MNIST test images, tested on 100 more. */
#define T10K "t10k-images-idx3-ubyte.gz"
#define SMALL "--limit 300 --test-limit 100 --batch 32 -q"

static const char *cl_device(void)
{
    const char *d = getenv("CLAE_TEST_DEVICE");
    return d && *d ? d : "cpu";
}

/* The Fashion-MNIST test images, quoted. */
static const char *t10k_q(void)
{
    static char buf[1100];
    buf[0] = '\0';
    test_append_quoted(buf, sizeof buf, test_data_path(T10K));
    return buf;
}

static clae_dataset *load_data(const char *path, size_t limit)
{
    clae_dataset *ds = NULL;
    ck_assert_msg(clae_dataset_load(path, &ds) == CLAE_OK, "%s", clae_last_error());
    if (limit) clae_dataset_truncate(ds, limit);
    return ds;
}

/* A model file loaded on cpu-ref for inference, with its stored scaling. */
static clae_model *load_model(const char *path, clae_scaling *scaling)
{
    clae_model *m = NULL;
    clae_status st = clae_model_load(test_rt_ref(), path, CLAE_MODEL_INFERENCE, 0, &m, scaling);
    ck_assert_msg(st == CLAE_OK, "loading %s: %s", path, clae_last_error());
    return m;
}

/* Decodes a PNG with libpng's simplified API into RGB bytes (caller frees). */
static unsigned char *read_png(const char *path, unsigned *w, unsigned *h)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    ck_assert_msg(png_image_begin_read_from_file(&img, path), "%s: %s", path, img.message);
    img.format = PNG_FORMAT_RGB;
    unsigned char *px = malloc(PNG_IMAGE_SIZE(img));
    ck_assert_ptr_nonnull(px);
    ck_assert_msg(png_image_finish_read(&img, NULL, px, 0, NULL), "%s: %s", path, img.message);
    *w = img.width;
    *h = img.height;
    return px;
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

/* Every layer of a and b holds bit-identical weights and biases. */
static void assert_same_weights(clae_model *a, clae_model *b, const char *what)
{
    clae_model_config ca, cb;
    clae_model_get_config(a, &ca);
    clae_model_get_config(b, &cb);
    ck_assert_int_eq(ca.n_layers, cb.n_layers);
    for (int l = 0; l < ca.n_layers; l++) {
        size_t no = (size_t)ca.sizes[l + 1], ni = (size_t)ca.sizes[l];
        ck_assert_int_eq(cb.sizes[l + 1], (int)no);
        float *Wa = malloc(no * ni * sizeof *Wa), *Wb = malloc(no * ni * sizeof *Wb);
        float *ba = malloc(no * sizeof *ba), *bb = malloc(no * sizeof *bb);
        ck_assert_int_eq(clae_model_get_layer(a, l, Wa, ba), CLAE_OK);
        ck_assert_int_eq(clae_model_get_layer(b, l, Wb, bb), CLAE_OK);
        ck_assert_msg(memcmp(Wa, Wb, no * ni * sizeof *Wa) == 0, "%s: layers.%d.weight differs", what, l);
        ck_assert_msg(memcmp(ba, bb, no * sizeof *ba) == 0, "%s: layers.%d.bias differs", what, l);
        free(Wa);
        free(Wb);
        free(ba);
        free(bb);
    }
}

/* Whether any weight of layer 0 differs (so the equality above can fail). */
static int layer0_differs(clae_model *a, clae_model *b)
{
    clae_model_config c;
    clae_model_get_config(a, &c);
    size_t n = (size_t)c.sizes[0] * (size_t)c.sizes[1];
    float *Wa = malloc(n * sizeof *Wa), *Wb = malloc(n * sizeof *Wb);
    ck_assert_int_eq(clae_model_get_layer(a, 0, Wa, NULL), CLAE_OK);
    ck_assert_int_eq(clae_model_get_layer(b, 0, Wb, NULL), CLAE_OK);
    int d = memcmp(Wa, Wb, n * sizeof *Wa) != 0;
    free(Wa);
    free(Wb);
    return d;
}

/* ------------------------------------------------------------------------ */

/* train --out --plot, then encode to CSV and NPY: the features read back
 * equal the library's clae_model_encode_layer on the same model and rows. */
START_TEST(train_then_encode)
{
    run_result r = run_expect(0, "train --device cpu-ref --data %s --test %s " SMALL
                                 " --epochs 2 --layers 784,32,16 --out %s --plot %s --json",
                              t10k_q(), t10k_q(), q("m.safetensors"), q("loss.png"));
    cJSON *j = parse_json(&r);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "model")),
                     test_tmp_path("m.safetensors"));
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "plot")), test_tmp_path("loss.png"));
    ck_assert_double_eq(json_num(j, "steps"), 20); /* 2 epochs of ceil(300/32) */
    cJSON_Delete(j);
    run_free(&r);
    unsigned w, h;
    free(read_png(test_tmp_path("loss.png"), &w, &h));
    ck_assert_uint_eq(w, 640);
    ck_assert_uint_eq(h, 400);

    clae_scaling sc;
    clae_model *m = load_model(test_tmp_path("m.safetensors"), &sc);
    ck_assert_int_eq(sc.kind, CLAE_SCALE_NONE);
    clae_model_config cfg;
    clae_model_get_config(m, &cfg);
    ck_assert_int_eq(cfg.n_layers, 4);
    ck_assert_int_eq(cfg.code_layer, 2);
    ck_assert_uint_eq(clae_model_steps(m), 20);
    clae_dataset *ds = load_data(test_data_path(T10K), 50);

    /* Default layer: the code layer, 16 wide, as CSV with a header. */
    r = run_expect(0, "encode --device cpu-ref --model %s --data %s --limit 50 --out %s", q("m.safetensors"),
                   t10k_q(), q("codes.csv"));
    ck_assert_contains(r.err, "50 rows x 16 features of layer 2 (the code layer)");
    run_free(&r);
    char *text = test_slurp_text(test_tmp_path("codes.csv"));
    ck_assert_msg(strncmp(text, "f0,f1,f2,", 9) == 0 && strstr(text, ",f15\n"), "header: %.80s", text);
    free(text);
    clae_dataset *got = load_data(test_tmp_path("codes.csv"), 0);
    ck_assert_uint_eq(got->rows, 50);
    ck_assert_uint_eq(got->cols, 16);
    float *want = malloc(50 * 32 * sizeof *want);
    ck_assert_int_eq(clae_model_encode_layer(m, ds->x, 50, 2, want), CLAE_OK);
    ck_assert_msg(memcmp(got->x, want, 50 * 16 * sizeof *want) == 0, "CSV features differ from the library's");
    clae_dataset_free(got);

    /* Layer 1 as NPY. */
    r = run_expect(0, "encode --device cpu-ref --model %s --data %s --limit 50 --layer 1 --out %s", q("m.safetensors"),
                   t10k_q(), q("codes.npy"));
    run_free(&r);
    got = load_data(test_tmp_path("codes.npy"), 0);
    ck_assert_uint_eq(got->rows, 50);
    ck_assert_uint_eq(got->cols, 32);
    ck_assert_int_eq(clae_model_encode_layer(m, ds->x, 50, 1, want), CLAE_OK);
    ck_assert_msg(memcmp(got->x, want, 50 * 32 * sizeof *want) == 0, "NPY features differ from the library's");
    clae_dataset_free(got);

    /* The same on the OpenCL device: equal within float rounding of the GEMMs. */
    r = run_expect(0, "encode --device %s --model %s --data %s --limit 50 --layer 1 --out %s", cl_device(),
                   q("m.safetensors"), t10k_q(), q("codes-cl.npy"));
    run_free(&r);
    got = load_data(test_tmp_path("codes-cl.npy"), 0);
    ck_assert_uint_eq(got->rows, 50);
    ck_assert_uint_eq(got->cols, 32);
    ck_assert_allclose(got->x, want, 50 * 32, 1e-4, 1e-4);
    clae_dataset_free(got);

    /* Bad requests: a format the name does not pick, a layer the model lacks. */
    r = run_expect(2, "encode --model %s --data %s --out %s", q("m.safetensors"), t10k_q(), q("codes.txt"));
    ck_assert_contains(r.err, ".csv or .npy");
    run_free(&r);
    r = run_expect(2, "encode --device cpu-ref --model %s --data %s --limit 5 --layer 5 --out %s", q("m.safetensors"),
                   t10k_q(), q("c.csv"));
    ck_assert_contains(r.err, "--layer 5");
    ck_assert_contains(r.err, "layers 1 to 4");
    run_free(&r);
    r = run_expect(2, "encode --data %s --out %s", t10k_q(), q("c.csv"));
    ck_assert_contains(r.err, "--model");
    run_free(&r);
    r = run_expect(1, "encode --device cpu-ref --model %s --data %s --out %s", q("missing.safetensors"), t10k_q(),
                   q("c.csv"));
    ck_assert_contains(r.err, test_tmp_path("missing.safetensors"));
    run_free(&r);

    free(want);
    clae_dataset_free(ds);
    clae_model_destroy(m);
    clae_scaling_free(&sc);
}
END_TEST

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* score: the CSV holds the library's per-row MSE, the threshold is numpy's
 * linear percentile, about (100-Q)% of the rows are flagged, the histogram decodes. */
START_TEST(score_rows)
{
    run_result r = run_expect(0, "train --device cpu-ref --data %s --test %s " SMALL " --epochs 1 --layers 784,32 --out %s",
                              t10k_q(), t10k_q(), q("m.safetensors"));
    run_free(&r);
    r = run_expect(0, "score --device cpu-ref --model %s --data %s --limit 1000 --threshold-percentile 95 --out %s "
                      "--plot %s --json",
                   q("m.safetensors"), t10k_q(), q("scores.csv"), q("hist.png"));
    cJSON *j = parse_json(&r);
    const size_t n = 1000;
    ck_assert_double_eq(json_num(j, "rows"), n);
    ck_assert_double_eq(json_num(j, "percentile"), 95);
    double threshold = json_num(j, "threshold"), flagged = json_num(j, "flagged");
    ck_assert_msg(fabs(flagged - 50) <= 1, "flagged %g of 1000 at the 95th percentile", flagged);

    clae_dataset *scores = load_data(test_tmp_path("scores.csv"), 0);
    ck_assert_uint_eq(scores->rows, n);
    ck_assert_uint_eq(scores->cols, 3);
    clae_scaling sc;
    clae_model *m = load_model(test_tmp_path("m.safetensors"), &sc);
    clae_dataset *ds = load_data(test_data_path(T10K), n);
    float *err = malloc(n * sizeof *err);
    ck_assert_int_eq(clae_model_row_errors(m, ds->x, n, err), CLAE_OK);
    double *sorted = malloc(n * sizeof *sorted), sum = 0.0;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        const float *row = scores->x + 3 * i;
        ck_assert_float_eq(row[0], (float)i);
        ck_assert_msg(row[1] == err[i], "row %zu: score %.9g, library %.9g", i, (double)row[1], (double)err[i]);
        ck_assert_float_eq(row[2], (double)err[i] > threshold ? 1.0f : 0.0f);
        count += row[2] == 1.0f;
        sorted[i] = err[i];
        sum += err[i];
    }
    ck_assert_double_eq(count, flagged);
    /* numpy.percentile(v, 95): position 0.95·(n−1) = 949.05 in the sorted scores. */
    qsort(sorted, n, sizeof *sorted, cmp_double);
    double want = sorted[949] + 0.05 * (sorted[950] - sorted[949]);
    ck_assert_double_eq_tol(threshold, want, 1e-12 * want);
    ck_assert_double_eq_tol(json_num(j, "mean"), sum / (double)n, 1e-9);
    ck_assert_double_eq(json_num(j, "min"), sorted[0]);
    ck_assert_double_eq(json_num(j, "max"), sorted[n - 1]);
    cJSON_Delete(j);
    run_free(&r);
    unsigned w, h;
    free(read_png(test_tmp_path("hist.png"), &w, &h));
    ck_assert_uint_eq(w, 640);
    ck_assert_uint_eq(h, 400);

    /* The text summary; the default percentile is 99. */
    r = run_expect(0, "score --device cpu-ref --model %s --data %s --limit 1000", q("m.safetensors"), t10k_q());
    ck_assert_contains(r.out, "rows        1000\n");
    ck_assert_contains(r.out, "(percentile 99)");
    ck_assert_contains(r.out, "flagged     10\n");
    run_free(&r);
    r = run_expect(2, "score --model %s --data %s --threshold-percentile 101", q("m.safetensors"), t10k_q());
    ck_assert_contains(r.err, "--threshold-percentile");
    run_free(&r);

    free(sorted);
    free(err);
    clae_dataset_free(ds);
    clae_dataset_free(scores);
    clae_model_destroy(m);
    clae_scaling_free(&sc);
}
END_TEST

/* reconstruct: the grid has the expected size, its first original is the
 * data and its first reconstruction the library's, both as 8-bit gray. */
START_TEST(reconstruct_grid)
{
    run_result r = run_expect(0, "train --device cpu-ref --data %s --test %s " SMALL " --epochs 1 --layers 784,32 --out %s",
                              t10k_q(), t10k_q(), q("m.safetensors"));
    run_free(&r);
    r = run_expect(0, "reconstruct --device cpu-ref --model %s --data %s --count 1 --first 3 --out %s",
                   q("m.safetensors"), t10k_q(), q("one.png"));
    run_free(&r);
    r = run_expect(0, "reconstruct --device cpu-ref --model %s --data %s --out %s", q("m.safetensors"), t10k_q(),
                   q("grid.png"));
    run_free(&r);
    /* 28x28 images are drawn at x2 (56 px + a 1 px line); a pair block is
     * 2·56+3 px high, groups 6 px apart, 4 px margins; 16 pairs: 2 rows of 8. */
    unsigned w1, h1, w, h;
    unsigned char *one = read_png(test_tmp_path("one.png"), &w1, &h1);
    unsigned char *grid = read_png(test_tmp_path("grid.png"), &w, &h);
    ck_assert_uint_eq(h1, 8 + 115);
    ck_assert_uint_eq(h, 8 + 2 * 115 + 6);
    ck_assert_uint_eq(w, w1 + 7 * 57);

    clae_scaling sc;
    clae_model *m = load_model(test_tmp_path("m.safetensors"), &sc);
    clae_dataset *ds = load_data(test_data_path(T10K), 4);
    float recon[784];
    ck_assert_int_eq(clae_model_reconstruct(m, ds->x + 3 * 784, 1, recon), CLAE_OK);
    const unsigned gutter = w1 - 62, x0 = gutter + 1, y0 = 5;
    for (int k = 0; k < 784; k += 37) {
        unsigned px = x0 + 2 * (unsigned)(k % 28), py = y0 + 2 * (unsigned)(k / 28);
        int o = one[3 * (py * w1 + px)], rc = one[3 * ((py + 57) * w1 + px)];
        float v = recon[k] < 0 ? 0 : recon[k] > 1 ? 1 : recon[k];
        ck_assert_msg(abs(o - (int)lrintf(ds->x[3 * 784 + k] * 255.0f)) <= 1, "original pixel %d: %d", k, o);
        ck_assert_msg(abs(rc - (int)lrintf(v * 255.0f)) <= 1, "reconstruction pixel %d: %d, want %g", k, rc,
                      (double)v * 255);
    }
    free(one);
    free(grid);

    r = run_expect(2, "reconstruct --device cpu-ref --model %s --data %s --limit 10 --first 10 --out %s",
                   q("m.safetensors"), t10k_q(), q("x.png"));
    ck_assert_contains(r.err, "--first 10");
    run_free(&r);

    /* A model of 3-column rows cannot be drawn as square images. */
    FILE *f = fopen(test_tmp_path("three.csv"), "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 40; i++) fprintf(f, "%g,%g,%g\n", i * 0.02, 1 - i * 0.02, 0.5);
    fclose(f);
    r = run_expect(0, "train --device cpu-ref --data %s --layers 3,2 --epochs 1 --batch 8 -q --out %s", q("three.csv"),
                   q("three.safetensors"));
    run_free(&r);
    r = run_expect(1, "reconstruct --device cpu-ref --model %s --data %s --out %s", q("three.safetensors"),
                   q("three.csv"), q("x.png"));
    ck_assert_contains(r.err, "3 columns");
    ck_assert_contains(r.err, "square");
    run_free(&r);
    /* ... and data of the wrong width does not fit the model. */
    r = run_expect(1, "score --device cpu-ref --model %s --data %s --limit 5", q("three.safetensors"), t10k_q());
    ck_assert_contains(r.err, "784");
    run_free(&r);

    clae_dataset_free(ds);
    clae_model_destroy(m);
    clae_scaling_free(&sc);
}
END_TEST

/* Run A trains 2 epochs uninterrupted; run B stops after 7 steps; run C
 * resumes B's checkpoint to the end. A and C end with bit-identical weights. */
static void resume_case(const char *tag, const char *device, const char *flags)
{
    /* Files of this case: tag + name, since a test's directory is shared by its cases. */
    char ckA[64], ckB[64], ckD[64], fA[64], fB[64], fC[64];
    snprintf(ckA, sizeof ckA, "%s-ckA", tag);
    snprintf(ckB, sizeof ckB, "%s-ckB", tag);
    snprintf(ckD, sizeof ckD, "%s-ckD", tag);
    snprintf(fA, sizeof fA, "%s-A", tag);
    snprintf(fB, sizeof fB, "%s-B", tag);
    snprintf(fC, sizeof fC, "%s-C", tag);
    char common[1024];
    snprintf(common, sizeof common, "train --device %s --data %s --test %s " SMALL " --epochs 2 --layers 784,32 %s",
             device, t10k_q(), t10k_q(), flags);
    run_result r = run_expect(0, "%s --checkpoint %s --checkpoint-every 3 --out %s", common, q(ckA), q(fA));
    run_free(&r);
    r = run_expect(0, "%s --steps 7 --checkpoint %s --out %s --resume", common, q(ckB), q(fB));
    run_free(&r);
    r = run_expect(0, "%s --checkpoint %s --resume --out %s --json", common, q(ckB), q(fC));
    cJSON *j = parse_json(&r);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "resumed")));
    ck_assert_double_eq(json_num(j, "steps"), 20);
    ck_assert_double_eq(json_num(j, "epochs"), 2);
    cJSON_Delete(j);
    run_free(&r);

    clae_scaling sa, sb, sc;
    clae_model *A = load_model(test_tmp_path(fA), &sa);
    clae_model *B = load_model(test_tmp_path(fB), &sb);
    clae_model *C = load_model(test_tmp_path(fC), &sc);
    ck_assert_uint_eq(clae_model_steps(A), 20);
    ck_assert_uint_eq(clae_model_steps(B), 7);
    ck_assert_uint_eq(clae_model_steps(C), 20);
    ck_assert_msg(layer0_differs(A, B), "B stopped early but has A's weights");
    assert_same_weights(A, C, flags);

    /* Where the checkpoints say the runs stood. */
    clae_model *t = NULL;
    clae_train_position pos;
    ck_assert_int_eq(clae_model_load(test_rt_ref(), test_tmp_path(ckA), 0, 0, &t, NULL), CLAE_OK);
    ck_assert_int_eq(clae_model_restore_checkpoint(t, test_tmp_path(ckA), &pos), CLAE_OK);
    ck_assert_uint_eq(pos.epoch, 2);
    ck_assert_uint_eq(pos.step_in_epoch, 0);
    clae_model_destroy(t);
    clae_model_destroy(A);
    clae_model_destroy(B);
    clae_model_destroy(C);
    clae_scaling_free(&sa);
    clae_scaling_free(&sb);
    clae_scaling_free(&sc);
    /* C rewrote ckB at its end, so B's position is read from a fresh stop. */
    r = run_expect(0, "%s --steps 7 --checkpoint %s", common, q(ckD));
    run_free(&r);
    ck_assert_int_eq(clae_model_load(test_rt_ref(), test_tmp_path(ckD), 0, 0, &t, NULL), CLAE_OK);
    ck_assert_int_eq(clae_model_restore_checkpoint(t, test_tmp_path(ckD), &pos), CLAE_OK);
    ck_assert_uint_eq(pos.epoch, 0);
    ck_assert_uint_eq(pos.step_in_epoch, 7);
    ck_assert_uint_eq(clae_model_steps(t), 7);
    clae_model_destroy(t);
}

START_TEST(resume_equals_uninterrupted)
{
    /* Shuffled batches, Adam. */
    resume_case("ref", "cpu-ref", "");
    /* File order, denoising (noise keyed by step and row) and momentum, on the OpenCL device. */
    resume_case("cl", cl_device(), "--no-shuffle --noise mask:0.25 --optimizer momentum --lr 0.01");

    /* Resuming with other flags is refused, naming the flag. */
    run_result r = run_expect(0, "train --device cpu-ref --data %s --test %s " SMALL " --epochs 1 --layers 784,32 "
                                 "--steps 2 --checkpoint %s",
                              t10k_q(), t10k_q(), q("ck"));
    run_free(&r);
    r = run_expect(2, "train --device cpu-ref --data %s --test %s " SMALL " --epochs 1 --layers 784,32 --lr 0.01 "
                      "--checkpoint %s --resume",
                   t10k_q(), t10k_q(), q("ck"));
    ck_assert_contains(r.err, "--lr");
    run_free(&r);
    r = run_expect(2, "train --device cpu-ref --resume");
    ck_assert_contains(r.err, "--checkpoint");
    run_free(&r);
}
END_TEST

/* --init loads the weights of a file (a wrong shape names the tensor), and
 * --steps counts optimizer steps. */
START_TEST(init_weights)
{
    run_result r = run_expect(0, "train --device cpu-ref --data %s --test %s " SMALL " --epochs 1 --layers 784,32 --out %s",
                              t10k_q(), t10k_q(), q("m.safetensors"));
    run_free(&r);
    r = run_expect(1, "train --device cpu-ref --data %s --test %s " SMALL " --epochs 1 --layers 784,16 --init %s",
                   t10k_q(), t10k_q(), q("m.safetensors"));
    ck_assert_contains(r.err, "layers.0.weight");
    ck_assert_contains(r.err, test_tmp_path("m.safetensors"));
    run_free(&r);

    /* One SGD step at a rate far below float resolution leaves the loaded weights as they were. */
    r = run_expect(0, "train --device cpu-ref --data %s --test %s " SMALL " --epochs 1 --layers 784,32 --init %s "
                      "--optimizer sgd --lr 1e-30 --steps 1 --out %s --json",
                   t10k_q(), t10k_q(), q("m.safetensors"), q("n.safetensors"));
    cJSON *j = parse_json(&r);
    ck_assert_double_eq(json_num(j, "steps"), 1);
    cJSON_Delete(j);
    run_free(&r);
    clae_scaling s1, s2;
    clae_model *a = load_model(test_tmp_path("m.safetensors"), &s1);
    clae_model *b = load_model(test_tmp_path("n.safetensors"), &s2);
    float *Wa = malloc(784 * 32 * sizeof *Wa), *Wb = malloc(784 * 32 * sizeof *Wb);
    ck_assert_int_eq(clae_model_get_layer(a, 0, Wa, NULL), CLAE_OK);
    ck_assert_int_eq(clae_model_get_layer(b, 0, Wb, NULL), CLAE_OK);
    ck_assert_allclose(Wb, Wa, 784 * 32, 1e-20, 1e-6);
    free(Wa);
    free(Wb);
    clae_model_destroy(a);
    clae_model_destroy(b);
    clae_scaling_free(&s1);
    clae_scaling_free(&s2);
}
END_TEST

/* A CSV with a bad cell is refused with its line and column, by train and by score. */
START_TEST(csv_bad_cell)
{
    FILE *f = fopen(test_tmp_path("bad.csv"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("a,b,c\n0.1,0.2,0.3\n0.4,oops,0.6\n", f);
    fclose(f);
    run_result r = run_expect(1, "train --device cpu-ref --data %s --layers 3,2", q("bad.csv"));
    ck_assert_contains(r.err, "bad.csv:3:2");
    ck_assert_contains(r.err, "oops");
    run_free(&r);
    r = run_expect(1, "score --device cpu-ref --model %s --data %s", q("none.safetensors"), q("bad.csv"));
    ck_assert_contains(r.err, "bad.csv:3:2");
    run_free(&r);
}
END_TEST

/* train --scale zscore stores the scaling; score re-applies it: its scores
 * are the library's row errors of the data scaled by hand. */
START_TEST(zscore_round_trip)
{
    const size_t rows = 200, cols = 4;
    float *x = malloc(rows * cols * sizeof *x);
    test_fill_uniform(x, rows * cols, 11, 0.0f, 1.0f);
    FILE *f = fopen(test_tmp_path("z.csv"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("small,mid,large,offset\n", f);
    /* Columns of very different scales, which is what scaling is for. */
    for (size_t i = 0; i < rows; i++)
        fprintf(f, "%.9g,%.9g,%.9g,%.9g\n", 0.01 * x[4 * i], 3.0 * x[4 * i + 1] + x[4 * i], 1000.0 * x[4 * i + 2],
                50.0 + x[4 * i + 3]);
    fclose(f);
    free(x);
    run_result r = run_expect(0, "train --device cpu-ref --data %s --layers 4,3 --loss sse --output-activation linear "
                                 "--scale zscore --epochs 2 --batch 16 --out %s --json",
                              q("z.csv"), q("z.safetensors"));
    ck_assert_contains(r.err, "no --test given");
    cJSON *j = parse_json(&r);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "scale")), "zscore");
    double test_mse = json_num(j, "test_mse");
    cJSON_Delete(j);
    run_free(&r);
    r = run_expect(0, "score --device cpu-ref --model %s --data %s --out %s --json", q("z.safetensors"), q("z.csv"),
                   q("zs.csv"));
    j = parse_json(&r);
    /* The training data was the test set, so its mean score is the test MSE. */
    ck_assert_double_eq_tol(json_num(j, "mean"), test_mse, 1e-6 * test_mse);
    cJSON_Delete(j);
    run_free(&r);

    clae_dataset *ds = load_data(test_tmp_path("z.csv"), 0);
    clae_scaling fit, stored;
    ck_assert_int_eq(clae_scaling_fit(ds, CLAE_SCALE_ZSCORE, &fit), CLAE_OK);
    clae_model *m = load_model(test_tmp_path("z.safetensors"), &stored);
    ck_assert_int_eq(stored.kind, CLAE_SCALE_ZSCORE);
    ck_assert_uint_eq(stored.cols, cols);
    ck_assert(memcmp(stored.offset, fit.offset, cols * sizeof(float)) == 0);
    ck_assert(memcmp(stored.scale, fit.scale, cols * sizeof(float)) == 0);
    float *raw_err = malloc(rows * sizeof *raw_err), *err = malloc(rows * sizeof *err);
    ck_assert_int_eq(clae_model_row_errors(m, ds->x, rows, raw_err), CLAE_OK);
    ck_assert_int_eq(clae_scaling_apply(&fit, ds), CLAE_OK);
    ck_assert_int_eq(clae_model_row_errors(m, ds->x, rows, err), CLAE_OK);
    clae_dataset *scores = load_data(test_tmp_path("zs.csv"), 0);
    ck_assert_uint_eq(scores->rows, rows);
    for (size_t i = 0; i < rows; i++) {
        ck_assert_msg(scores->x[3 * i + 1] == err[i], "row %zu: score %.9g, by hand %.9g", i,
                      (double)scores->x[3 * i + 1], (double)err[i]);
        /* Unscaled, the large column would dominate: the scaling matters. */
        ck_assert(raw_err[i] != err[i]);
    }
    /* reconstruct maps the reconstructions back to the data's units; a 4-column
     * row is a 2x2 image, and these values are far outside [0,1]. */
    r = run_expect(0, "reconstruct --device cpu-ref --model %s --data %s --count 3 --out %s", q("z.safetensors"),
                   q("z.csv"), q("zr.png"));
    ck_assert_contains(r.err, "own value range");
    run_free(&r);
    unsigned w, h;
    free(read_png(test_tmp_path("zr.png"), &w, &h));
    ck_assert_uint_eq(h, 8 + 2 * 4 + 3);

    clae_dataset_free(scores);
    clae_dataset_free(ds);
    free(raw_err);
    free(err);
    clae_model_destroy(m);
    clae_scaling_free(&fit);
    clae_scaling_free(&stored);
}
END_TEST

/* Ctrl-C: a training run started in the background gets SIGINT once it shows
 * progress, exits 130 and leaves a checkpoint that restores to where it stopped. */
START_TEST(sigint_writes_checkpoint)
{
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/clae", test_build_dir());
    const char *err_path = test_tmp_path("stderr");
    char ck[1024], out[1024], data[1024];
    snprintf(ck, sizeof ck, "%s", test_tmp_path("ck"));
    snprintf(out, sizeof out, "%s", test_tmp_path("m"));
    snprintf(data, sizeof data, "%s", test_data_path(T10K));
    char *argv[] = {bin,      "train",   "--device",     "cpu-ref", "--data", data,   "--test",   data,
                    "--limit", "2000",   "--test-limit", "100",     "--batch", "32",  "--layers", "784,32",
                    "--epochs", "100000", "--checkpoint", ck,       "--out",  out,     NULL};
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644), o = open("/dev/null", O_WRONLY);
        if (e < 0 || o < 0 || dup2(e, 2) < 0 || dup2(o, 1) < 0) _exit(127);
        signal(SIGINT, SIG_DFL);
        execv(bin, argv);
        _exit(127);
    }
    /* The epoch lines appear only after the handler is installed (progress
     * lines would wait 10 s on a file). */
    int seen = 0, status = 0, done = 0;
    struct timespec tick = {0, 20 * 1000 * 1000};
    for (int i = 0; i < 3000 && !seen && !done; i++) {
        nanosleep(&tick, NULL);
        char *text = test_slurp_text(err_path);
        seen = strstr(text, "train_loss") != NULL;
        free(text);
        done = waitpid(pid, &status, WNOHANG) == pid;
    }
    ck_assert_msg(!done, "clae train ended before it was interrupted");
    ck_assert_msg(seen, "no progress within 60 s");
    kill(pid, SIGINT);
    for (int i = 0; i < 3000 && !done; i++) {
        done = waitpid(pid, &status, WNOHANG) == pid;
        if (!done) nanosleep(&tick, NULL);
    }
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_abort_msg("clae train did not stop within 60 s of SIGINT");
    }
    char *text = test_slurp_text(err_path);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 130, "status %d, stderr:\n%s", status, text);
    ck_assert_contains(text, "interrupted after ");
    ck_assert_contains(text, "checkpoint written");
    free(text);

    clae_model *m = NULL;
    clae_train_position pos;
    ck_assert_msg(clae_model_load(test_rt_ref(), ck, 0, 0, &m, NULL) == CLAE_OK, "%s", clae_last_error());
    ck_assert_msg(clae_model_restore_checkpoint(m, ck, &pos) == CLAE_OK, "%s", clae_last_error());
    /* 2000 rows at batch 32: 63 steps per epoch. */
    ck_assert_uint_eq(pos.epoch * 63 + pos.step_in_epoch, clae_model_steps(m));
    ck_assert_uint_gt(clae_model_steps(m), 0);
    clae_scaling sc;
    clae_model *saved = load_model(out, &sc);
    assert_same_weights(m, saved, "--out after Ctrl-C");
    clae_model_destroy(saved);
    clae_model_destroy(m);
    clae_scaling_free(&sc);
}
END_TEST

/* "layers" of a --json object: the array of the widths, input first. */
static void assert_layers(const cJSON *j, const int *want, int n)
{
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(j, "layers");
    ck_assert_msg(cJSON_IsArray(l), "layers is not an array");
    ck_assert_int_eq(cJSON_GetArraySize(l), n);
    for (int i = 0; i < n; i++) ck_assert_double_eq(cJSON_GetArrayItem(l, i)->valuedouble, want[i]);
}

/* encode, score and reconstruct take --json (one object on stdout, layers an
 * array) and -q (nothing on stderr), as train does. */
START_TEST(json_and_quiet_everywhere)
{
    static const int widths[] = {784, 32, 16, 32, 784};
    run_result r = run_expect(0, "train --device cpu-ref --data %s --test %s " SMALL " --epochs 1 --layers 784,32,16 "
                                 "--out %s --json",
                              t10k_q(), t10k_q(), q("m.safetensors"));
    ck_assert_str_eq(r.err, "");
    cJSON *j = parse_json(&r);
    assert_layers(j, widths, 5);
    cJSON_Delete(j);
    run_free(&r);

    r = run_expect(0, "encode --device cpu-ref --model %s --data %s --limit 20 --out %s --json -q", q("m.safetensors"),
                   t10k_q(), q("c.csv"));
    ck_assert_str_eq(r.err, "");
    j = parse_json(&r);
    assert_layers(j, widths, 5);
    ck_assert_double_eq(json_num(j, "rows"), 20);
    ck_assert_double_eq(json_num(j, "width"), 16);
    ck_assert_double_eq(json_num(j, "layer"), 2);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "code_layer")));
    cJSON_Delete(j);
    run_free(&r);
    r = run_expect(0, "encode --device cpu-ref --model %s --data %s --limit 20 --out %s -q", q("m.safetensors"),
                   t10k_q(), q("c.csv"));
    ck_assert_str_eq(r.err, "");
    ck_assert_str_eq(r.out, "");
    run_free(&r);

    r = run_expect(0, "score --device cpu-ref --model %s --data %s --limit 20 --json -q", q("m.safetensors"), t10k_q());
    ck_assert_str_eq(r.err, "");
    j = parse_json(&r);
    assert_layers(j, widths, 5);
    cJSON_Delete(j);
    run_free(&r);

    static const char *const outs[] = {"g.png", "r.csv", "r.npy"};
    for (int k = 0; k < 3; k++) {
        r = run_expect(0, "reconstruct --device cpu-ref --model %s --data %s --limit 20 --count 4 --out %s --json -q",
                       q("m.safetensors"), t10k_q(), q(outs[k]));
        ck_assert_str_eq(r.err, "");
        j = parse_json(&r);
        assert_layers(j, widths, 5);
        ck_assert_double_eq(json_num(j, "rows"), 4);
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "format")), outs[k] + 2);
        cJSON_Delete(j);
        run_free(&r);
    }
    char *text = test_slurp_text(test_tmp_path("r.csv"));
    ck_assert_msg(strncmp(text, "x0,x1,x2,", 9) == 0, "IDX data has no header, so x0,...: %.40s", text);
    free(text);
}
END_TEST

/* Rows with columns of very different ranges (none integer, so no loader
 * rule rescales them), written with a fixed seed. */
static void write_wide_range_csv(const char *path, size_t rows)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("a,b,c,d,e\n", f);
    uint32_t s = 12345;
    for (size_t i = 0; i < rows; i++) {
        s = s * 1664525u + 1013904223u;
        double t = (double)(s >> 8) / 16777216.0;
        s = s * 1664525u + 1013904223u;
        double u = (double)(s >> 8) / 16777216.0;
        fprintf(f, "%.6f,%.6f,%.6f,7.25,%.6f\n", 1000.5 + 500.0 * t, -20.5 + 5.0 * u, 30000.5 * t + 10000.0 * u,
                0.001 * u - 3.5);
    }
    fclose(f);
}

/* reconstruct --out F.csv / F.npy writes the reconstructions in the data's own
 * units: after training on minmax- or zscore-scaled data they equal the
 * input within 1% of each column's range (they would lie in [0, 1], or about
 * [-2, 2], if the scaling were not undone), and the NPY holds the same floats. */
START_TEST(reconstruct_exports_data_units)
{
    write_wide_range_csv(test_tmp_path("wide.csv"), 200);
    clae_dataset *x = load_data(test_tmp_path("wide.csv"), 0);
    float lo[5], hi[5];
    for (size_t c = 0; c < 5; c++) {
        lo[c] = INFINITY;
        hi[c] = -INFINITY;
        for (size_t i = 0; i < x->rows; i++) {
            lo[c] = fminf(lo[c], x->x[i * 5 + c]);
            hi[c] = fmaxf(hi[c], x->x[i * 5 + c]);
        }
    }
    static const char *const scales[] = {"minmax", "zscore"};
    for (int k = 0; k < 2; k++) {
        run_result r = run_expect(0, "train --device cpu-ref --data %s --scale %s --loss sse --layers 5,10,5 "
                                     "--activation linear --output-activation linear --lr 0.01 --epochs 40 --batch 20 "
                                     "-q --out %s",
                                  q("wide.csv"), scales[k], q("w.safetensors"));
        run_free(&r);
        r = run_expect(0, "reconstruct --device cpu-ref --model %s --data %s --out %s", q("w.safetensors"),
                       q("wide.csv"), q("r.csv"));
        ck_assert_contains(r.err, "rows 0 to 199 of"); /* every row by default, not 16 */
        run_free(&r);
        r = run_expect(0, "reconstruct --device cpu-ref --model %s --data %s --out %s -q", q("w.safetensors"),
                       q("wide.csv"), q("r.npy"));
        run_free(&r);
        char *text = test_slurp_text(test_tmp_path("r.csv"));
        ck_assert_msg(strncmp(text, "a,b,c,d,e\n", 10) == 0, "header: %.40s", text); /* the data's own */
        free(text);
        clae_dataset *got = load_data(test_tmp_path("r.csv"), 0), *npy = load_data(test_tmp_path("r.npy"), 0);
        ck_assert_uint_eq(got->rows, 200);
        ck_assert_uint_eq(got->cols, 5);
        ck_assert_uint_eq(npy->rows, 200);
        ck_assert_msg(memcmp(got->x, npy->x, 200 * 5 * sizeof *got->x) == 0, "--scale %s: CSV and NPY differ",
                      scales[k]);
        for (size_t i = 0; i < 200; i++)
            for (size_t c = 0; c < 5; c++) {
                double want = x->x[i * 5 + c], have = got->x[i * 5 + c];
                double tol = 0.01 * (hi[c] - lo[c]) + 1e-3 * fabs(want);
                ck_assert_msg(fabs(have - want) <= tol, "--scale %s: row %zu column %zu: %.9g, the data %.9g",
                              scales[k], i, c, have, want);
            }
        clae_dataset_free(got);
        clae_dataset_free(npy);
    }
    /* --first/--count pick the rows; a PNG still needs a square width. */
    run_result r = run_expect(0, "reconstruct --device cpu-ref --model %s --data %s --first 10 --count 3 --out %s -q",
                              q("w.safetensors"), q("wide.csv"), q("r3.csv"));
    run_free(&r);
    char *head = test_slurp_text(test_tmp_path("r3.csv"));
    ck_assert_msg(strncmp(head, "a,b,c,d,e\n", 10) == 0, "header: %.40s", head);
    free(head);
    clae_dataset *three = load_data(test_tmp_path("r3.csv"), 0);
    ck_assert_uint_eq(three->rows, 3);
    ck_assert_msg(fabs(three->x[0] - x->x[50]) <= 0.01 * (hi[0] - lo[0]), "row 10: %g, the data %g",
                  (double)three->x[0], (double)x->x[50]);
    clae_dataset_free(three);
    r = run_expect(1, "reconstruct --device cpu-ref --model %s --data %s --out %s", q("w.safetensors"), q("wide.csv"),
                   q("r.png"));
    ck_assert_contains(r.err, "not a square number");
    run_free(&r);
    r = run_expect(2, "reconstruct --model %s --data %s --out %s", q("w.safetensors"), q("wide.csv"), q("r.txt"));
    ck_assert_contains(r.err, ".png");
    ck_assert_contains(r.err, ".npy");
    run_free(&r);
    clae_dataset_free(x);
}
END_TEST

/* Pixels of exactly this colour in an RGB picture. */
static size_t count_colour(const unsigned char *px, unsigned w, unsigned h, unsigned char r, unsigned char g,
                           unsigned char b)
{
    size_t n = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) n += px[3 * i] == r && px[3 * i + 1] == g && px[3 * i + 2] == b;
    return n;
}

/* --plot draws the per-step curve for bce too (its light green), and the
 * train curve over an identical test curve leaves the test's blue visible
 * (dashes), so both can be told apart where they coincide. */
START_TEST(plot_every_loss)
{
    /* Test rows = the first 300 training rows: the two curves are identical. */
    run_result r = run_expect(0, "train --device cpu-ref --data %s --test %s --limit 300 --test-limit 300 --batch 32 "
                                 "-q --epochs 3 --layers 784,32 --plot %s",
                              t10k_q(), t10k_q(), q("loss.png"));
    run_free(&r);
    unsigned w, h;
    unsigned char *px = read_png(test_tmp_path("loss.png"), &w, &h);
    size_t step = count_colour(px, w, h, 149, 207, 149); /* tab10 green, tinted halfway to white */
    size_t blue = count_colour(px, w, h, 31, 119, 180), orange = count_colour(px, w, h, 255, 127, 14);
    ck_assert_msg(step > 150, "bce: %zu pixels of the per-step curve", step);
    ck_assert_msg(blue > 150 && orange > 150, "test %zu and train %zu pixels", blue, orange);
    free(px);
}
END_TEST

/* A few far outliers no longer squeeze the scores into one bar: the bulk
 * spans the plot and the outliers are one bar of their own colour. */
START_TEST(score_histogram_keeps_bulk)
{
    run_result r = run_expect(0, "train --device cpu-ref --data %s --test %s " SMALL " --epochs 1 --layers 784,32 --out %s",
                              t10k_q(), t10k_q(), q("m.safetensors"));
    run_free(&r);
    clae_dataset *ds = load_data(test_data_path(T10K), 300);
    float *x = malloc(305 * 784 * sizeof *x);
    memcpy(x, ds->x, 300 * 784 * sizeof *x);
    for (size_t i = 300 * 784; i < 305 * 784; i++) x[i] = 8.0f; /* scores near 60, the bulk below 0.2 */
    ck_assert_int_eq(clae_matrix_save_npy(test_tmp_path("mix.npy"), x, 305, 784), CLAE_OK);
    free(x);
    clae_dataset_free(ds);
    r = run_expect(0, "score --device cpu-ref --model %s --data %s --plot %s -q", q("m.safetensors"), q("mix.npy"),
                   q("hist.png"));
    run_free(&r);
    unsigned w, h;
    unsigned char *px = read_png(test_tmp_path("hist.png"), &w, &h);
    size_t tail = count_colour(px, w, h, 230, 140, 40);
    ck_assert_msg(tail > 50, "no outlier bar (%zu pixels)", tail);
    /* Columns of the plot area (x 73..621, y 45..351) holding a bulk bar. */
    int columns = 0;
    for (unsigned xx = 73; xx < 622; xx++) {
        int bar = 0;
        for (unsigned yy = 45; yy < 352 && !bar; yy++) {
            const unsigned char *p = px + 3 * ((size_t)yy * w + xx);
            bar = p[0] == 70 && p[1] == 130 && p[2] == 180;
        }
        columns += bar;
    }
    ck_assert_msg(columns > 200, "the bulk covers %d of 549 columns", columns);
    free(px);
}
END_TEST

START_TEST(help_texts)
{
    static const char *const cmds[] = {"encode", "score", "reconstruct"};
    for (size_t k = 0; k < 3; k++) {
        char a[64];
        snprintf(a, sizeof a, "%s --help", cmds[k]);
        run_result r = run_expect(0, "%s", a);
        ck_assert_contains(r.out, "--model");
        ck_assert_contains(r.out, "--data");
        run_result h = run_expect(0, "help %s", cmds[k]);
        ck_assert_str_eq(h.out, r.out);
        run_free(&h);
        run_free(&r);
    }
    run_result r = run_expect(0, "train --help");
    static const char *const flags[] = {"--out", "--init", "--steps", "--no-shuffle", "--checkpoint",
                                        "--checkpoint-every", "--resume", "--plot", "--scale"};
    for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) ck_assert_contains(r.out, flags[k]);
    run_free(&r);
    r = run_expect(0, "score --help");
    ck_assert_contains(r.out, "numpy");
    run_free(&r);
    r = run_expect(2, "train --checkpoint-every 5");
    ck_assert_contains(r.err, "--checkpoint PATH");
    run_free(&r);
    r = run_expect(2, "train --scale log");
    ck_assert_contains(r.err, "--scale");
    run_free(&r);
}
END_TEST

Suite *suite_cli_use(void)
{
    Suite *s = suite_create("cli_use");
    TCase *use = tcase_create("use");
    tcase_add_checked_fixture(use, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(use, 120);
    tcase_add_test(use, help_texts);
    tcase_add_test(use, train_then_encode);
    tcase_add_test(use, score_rows);
    tcase_add_test(use, reconstruct_grid);
    tcase_add_test(use, csv_bad_cell);
    tcase_add_test(use, zscore_round_trip);
    tcase_add_test(use, json_and_quiet_everywhere);
    tcase_add_test(use, reconstruct_exports_data_units);
    tcase_add_test(use, plot_every_loss);
    tcase_add_test(use, score_histogram_keeps_bulk);
    suite_add_tcase(s, use);

    TCase *files = tcase_create("files");
    tcase_add_checked_fixture(files, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(files, 180);
    tcase_add_test(files, resume_equals_uninterrupted);
    tcase_add_test(files, init_weights);
    tcase_add_test(files, sigint_writes_checkpoint);
    suite_add_tcase(s, files);
    return s;
}
