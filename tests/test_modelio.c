/* test_modelio.c — model files and checkpoints: round trips, an independent reading of the file layout,
 * resume equal to an uninterrupted run, and files that do not fit refused with the tensor named. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static void small_config(clae_model_config *c)
{
    clae_model_config_default(c);
    ck_assert_int_eq(clae_model_config_set_layers(c, "30,12,5"), CLAE_OK);
    c->batch = 16;
}

static void train_steps(clae_model *m, const float *x, size_t rows, int steps, int first)
{
    uint32_t ids[16];
    for (int s = 0; s < steps; s++) {
        for (size_t r = 0; r < rows; r++) ids[r] = (uint32_t)((first + s) * 16 + (int)r);
        float L;
        ck_assert_msg(clae_model_train_step_rows(m, x + (size_t)((first + s) % 3) * rows * 30, ids, rows, &L) == CLAE_OK,
                      "%s", clae_model_error(m));
    }
}

/* Every layer's W and b of two models are bit-identical. */
static void assert_same_weights(clae_model *a, clae_model *b, const char *what)
{
    clae_model_config c;
    clae_model_get_config(a, &c);
    for (int l = 0; l < c.n_layers; l++) {
        size_t nw = (size_t)c.sizes[l] * (size_t)c.sizes[l + 1], nb = (size_t)c.sizes[l + 1];
        float *wa = malloc((nw + nb) * sizeof *wa), *wb = malloc((nw + nb) * sizeof *wb);
        ck_assert_int_eq(clae_model_get_layer(a, l, wa, wa + nw), CLAE_OK);
        ck_assert_int_eq(clae_model_get_layer(b, l, wb, wb + nw), CLAE_OK);
        ck_assert_msg(memcmp(wa, wb, (nw + nb) * sizeof *wa) == 0, "%s: layer %d differs", what, l);
        free(wa);
        free(wb);
    }
}

/* Save, load on both paths: the same configuration, weights, scaling and outputs. */
START_TEST(test_save_load_round_trip)
{
    clae_model_config c;
    small_config(&c);
    c.sparsity = CLAE_SPARSITY_L1;
    c.sparsity_lambda = 0.01f;
    c.noise = CLAE_NOISE_MASK;
    c.noise_level = 0.2f;
    float x[3 * 16 * 30];
    test_fill_uniform(x, sizeof x / sizeof x[0], 1, 0.0f, 1.0f);
    clae_model *m;
    ck_assert_int_eq(clae_model_create(test_rt_ref(), &c, &m), CLAE_OK);
    train_steps(m, x, 16, 5, 0);
    float off[30], sc[30];
    for (int i = 0; i < 30; i++) off[i] = 0.01f * (float)i, sc[i] = 1.0f + 0.1f * (float)i;
    clae_scaling scaling;
    ck_assert_int_eq(clae_scaling_set(CLAE_SCALE_ZSCORE, 30, off, sc, &scaling), CLAE_OK);
    const char *path = test_tmp_path("model.safetensors");
    ck_assert_msg(clae_model_save(m, path, &scaling) == CLAE_OK, "%s", clae_last_error());
    float rec0[48 * 30], rec1[48 * 30];
    ck_assert_int_eq(clae_model_reconstruct(m, x, 48, rec0), CLAE_OK);
    for (int p = 0; p < 2; p++) {
        clae_model *back;
        clae_scaling got;
        ck_assert_msg(clae_model_load(test_rt(p), path, p ? CLAE_MODEL_INFERENCE : 0, 0, &back, &got) == CLAE_OK, "%s",
                      clae_last_error());
        clae_model_config bc;
        clae_model_get_config(back, &bc);
        ck_assert_int_eq(bc.n_layers, c.n_layers);
        ck_assert_int_eq(bc.sparsity, CLAE_SPARSITY_L1);
        ck_assert(bc.sparsity_lambda == c.sparsity_lambda && bc.noise_level == c.noise_level && bc.lr == c.lr);
        ck_assert(bc.seed == c.seed && bc.batch == c.batch);
        ck_assert_uint_eq(clae_model_steps(back), 5);
        char d0[128], d1[128];
        clae_model_describe(m, d0, sizeof d0);
        clae_model_describe(back, d1, sizeof d1);
        ck_assert_str_eq(d0, d1);
        ck_assert_int_eq(got.kind, CLAE_SCALE_ZSCORE);
        ck_assert(memcmp(got.offset, off, sizeof off) == 0 && memcmp(got.scale, sc, sizeof sc) == 0);
        clae_scaling_free(&got);
        assert_same_weights(m, back, "loaded model");
        ck_assert_int_eq(clae_model_reconstruct(back, x, 48, rec1), CLAE_OK);
        /* Same path: bit-identical; OpenCL: float sums in another order (atol 1e-6 + rtol 1e-5). */
        if (p == 0) ck_assert(memcmp(rec0, rec1, sizeof rec0) == 0);
        else ck_assert_allclose(rec1, rec0, 48 * 30, 1e-6, 1e-5);
        clae_model_destroy(back);
    }
    /* A smaller batch for inference is allowed and gives the same outputs. */
    clae_model *small;
    ck_assert_int_eq(clae_model_load(test_rt_ref(), path, CLAE_MODEL_INFERENCE, 5, &small, NULL), CLAE_OK);
    ck_assert_int_eq(clae_model_reconstruct(small, x, 48, rec1), CLAE_OK);
    ck_assert(memcmp(rec0, rec1, sizeof rec0) == 0);
    clae_model_destroy(small);
    clae_scaling_free(&scaling);
    clae_model_destroy(m);
}
END_TEST

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len);
    ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

/* The file as a stranger reads it: 8-byte little-endian header length, a JSON
 * header, tensors by name with PyTorch's shapes covering the data exactly. */
START_TEST(test_file_layout_independent_reader)
{
    clae_model_config c;
    small_config(&c);
    clae_model *m;
    ck_assert_int_eq(clae_model_create(test_rt_ref(), &c, &m), CLAE_OK);
    const char *path = test_tmp_path("layout.safetensors");
    ck_assert_int_eq(clae_model_save(m, path, NULL), CLAE_OK);
    size_t n;
    unsigned char *buf = read_all(path, &n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    ck_assert_uint_lt(8 + hlen, n);
    char *json = malloc(hlen + 1);
    memcpy(json, buf + 8, hlen);
    json[hlen] = '\0';
    cJSON *h = cJSON_Parse(json);
    ck_assert_msg(h != NULL, "header is not JSON: %.200s", json);
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(h, "__metadata__");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "format")), "clae-model-1");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "layers")), "30,12,5,12,30");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "clae_version")), CLAE_VERSION_STRING);
    size_t data_len = n - 8 - hlen, covered = 0;
    int tensors = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, h)
    {
        if (strcmp(t->string, "__metadata__") == 0) continue;
        tensors++;
        ck_assert_msg(strncmp(t->string, "layers.", 7) == 0, "unexpected tensor %s in a model file", t->string);
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "dtype")), "F32");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape"), *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
        size_t count = 1;
        const cJSON *d;
        cJSON_ArrayForEach(d, shape) count *= (size_t)d->valuedouble;
        size_t b = (size_t)cJSON_GetArrayItem(offs, 0)->valuedouble, e = (size_t)cJSON_GetArrayItem(offs, 1)->valuedouble;
        ck_assert_uint_eq(e - b, count * 4);
        ck_assert_uint_le(e, data_len);
        covered += e - b;
        int l;
        char kind[16];
        ck_assert_int_eq(sscanf(t->string, "layers.%d.%15s", &l, kind), 2);
        size_t nw = (size_t)c.sizes[l] * (size_t)c.sizes[l + 1];
        float *W = malloc(nw * sizeof *W), *bias = malloc((size_t)c.sizes[l + 1] * sizeof *bias);
        ck_assert_int_eq(clae_model_get_layer(m, l, W, bias), CLAE_OK);
        if (strcmp(kind, "weight") == 0) {
            /* out×in, like torch.nn.Linear.weight */
            ck_assert_int_eq(cJSON_GetArraySize(shape), 2);
            ck_assert_int_eq((int)cJSON_GetArrayItem(shape, 0)->valuedouble, c.sizes[l + 1]);
            ck_assert_int_eq((int)cJSON_GetArrayItem(shape, 1)->valuedouble, c.sizes[l]);
            ck_assert(memcmp(buf + 8 + hlen + b, W, nw * 4) == 0);
        } else {
            ck_assert_str_eq(kind, "bias");
            ck_assert(memcmp(buf + 8 + hlen + b, bias, (size_t)c.sizes[l + 1] * 4) == 0);
        }
        free(W);
        free(bias);
    }
    ck_assert_int_eq(tensors, 2 * c.n_layers);
    ck_assert_uint_eq(covered, data_len);
    cJSON_Delete(h);
    free(json);
    free(buf);
    clae_model_destroy(m);
}
END_TEST

/* Stop after k steps, checkpoint, rebuild from the file, go on: the same
 * weights as the run that never stopped, bit for bit, on both paths — with
 * Adam's moments, the step counter (bias correction, noise) and h2o's EMA. */
START_TEST(test_resume_equals_uninterrupted)
{
    clae_model_config c;
    small_config(&c);
    clae_model_config_set_activations(&c, CLAE_ACT_TANH, CLAE_ACT_SIGMOID);
    if (_i == 0) c.noise = CLAE_NOISE_GAUSSIAN, c.noise_level = 0.1f;
    else c.sparsity = CLAE_SPARSITY_H2O, c.sparsity_rho = -0.1f, c.sparsity_beta = 0.2f, c.optimizer = CLAE_OPT_ADADELTA;
    float x[3 * 16 * 30];
    test_fill_uniform(x, sizeof x / sizeof x[0], 2, 0.0f, 1.0f);
    for (int p = 0; p < 2; p++) {
        clae_model *whole, *first, *resumed;
        ck_assert_int_eq(clae_model_create(test_rt(p), &c, &whole), CLAE_OK);
        train_steps(whole, x, 16, 10, 0);
        ck_assert_int_eq(clae_model_create(test_rt(p), &c, &first), CLAE_OK);
        train_steps(first, x, 16, 4, 0);
        const char *ck = test_tmp_path("run.ckpt");
        clae_train_position pos = {1, 4}, back;
        ck_assert_msg(clae_model_save_checkpoint(first, ck, &pos, NULL) == CLAE_OK, "%s", clae_last_error());
        clae_model_destroy(first);
        ck_assert_msg(clae_model_load(test_rt(p), ck, 0, 0, &resumed, NULL) == CLAE_OK, "%s", clae_last_error());
        ck_assert_msg(clae_model_restore_checkpoint(resumed, ck, &back) == CLAE_OK, "%s", clae_last_error());
        ck_assert(back.epoch == 1 && back.step_in_epoch == 4);
        ck_assert_uint_eq(clae_model_steps(resumed), 4);
        train_steps(resumed, x, 16, 6, 4);
        assert_same_weights(whole, resumed, p ? "resumed (opencl)" : "resumed (cpu-ref)");
        /* Without the optimizer state the run would differ: restoring weights alone is not enough. */
        clae_model *weights_only;
        ck_assert_int_eq(clae_model_create(test_rt(p), &c, &weights_only), CLAE_OK);
        ck_assert_int_eq(clae_model_load_weights(weights_only, ck), CLAE_OK);
        train_steps(weights_only, x, 16, 6, 4);
        clae_model_config cc;
        clae_model_get_config(whole, &cc);
        float w0[12 * 30], w1[12 * 30];
        clae_model_get_layer(whole, 0, w0, NULL);
        clae_model_get_layer(weights_only, 0, w1, NULL);
        ck_assert(memcmp(w0, w1, sizeof w0) != 0);
        clae_model_destroy(weights_only);
        clae_model_destroy(whole);
        clae_model_destroy(resumed);
    }
}
END_TEST

static void expect_error(clae_status got, clae_status want, const char *part1, const char *part2)
{
    const char *msg = clae_last_error();
    ck_assert_msg(got == want, "got %s, want %s: %s", clae_status_string(got), clae_status_string(want), msg);
    ck_assert_msg(strstr(msg, part1) != NULL, "'%s' not in: %s", part1, msg);
    if (part2) ck_assert_msg(strstr(msg, part2) != NULL, "'%s' not in: %s", part2, msg);
}

START_TEST(test_files_that_do_not_fit)
{
    clae_model_config c;
    small_config(&c);
    clae_model *m, *other;
    ck_assert_int_eq(clae_model_create(test_rt_ref(), &c, &m), CLAE_OK);
    const char *path = test_tmp_path("m.safetensors");
    ck_assert_int_eq(clae_model_save(m, path, NULL), CLAE_OK);

    /* --init into a model of another shape names the tensor and both shapes. */
    clae_model_config c2;
    small_config(&c2);
    ck_assert_int_eq(clae_model_config_set_layers(&c2, "30,10,5"), CLAE_OK);
    ck_assert_int_eq(clae_model_create(test_rt_ref(), &c2, &other), CLAE_OK);
    expect_error(clae_model_load_weights(other, path), CLAE_ERR_SHAPE, "layers.0.weight", path);
    ck_assert_ptr_nonnull(strstr(clae_model_error(other), "layers.0.weight"));

    /* A model file is not a checkpoint; a checkpoint of another optimizer lacks its state. */
    expect_error(clae_model_restore_checkpoint(m, path, NULL), CLAE_ERR_FORMAT, "not a clae checkpoint", path);
    c2 = c;
    c2.optimizer = CLAE_OPT_MOMENTUM;
    clae_model *mom;
    ck_assert_int_eq(clae_model_create(test_rt_ref(), &c2, &mom), CLAE_OK);
    const char *ck = test_tmp_path("mom.ckpt");
    ck_assert_int_eq(clae_model_save_checkpoint(mom, ck, NULL, NULL), CLAE_OK);
    expect_error(clae_model_restore_checkpoint(m, ck, NULL), CLAE_ERR_FORMAT, "adam.m.layers.0.weight", ck);
    clae_model_destroy(mom);

    /* A recorded configuration that is not valid says why (the validator's own message). */
    {
        size_t n;
        unsigned char *bytes = read_all(path, &n);
        char *cl = strstr((char *)bytes + 8, ",dense:");
        ck_assert_ptr_nonnull(cl);
        cl[2] = 'a'; /* "danse": same length, so the file stays well formed */
        const char *bad = test_tmp_path("bad-config.safetensors");
        FILE *bf = fopen(bad, "wb");
        fwrite(bytes, 1, n, bf);
        fclose(bf);
        free(bytes);
        clae_model *none = NULL;
        expect_error(clae_model_load(test_rt_ref(), bad, 0, 0, &none, NULL), CLAE_ERR_FORMAT,
                     "metadata field 'arch' is not valid", "unknown layer kind 'danse'");
    }

    /* Missing file, not a clae file, a file that is not safetensors at all. */
    clae_model_destroy(other);
    expect_error(clae_model_load(test_rt_ref(), test_tmp_path("none.safetensors"), 0, 0, &other, NULL), CLAE_ERR_IO,
                 "none.safetensors", NULL);
    ck_assert_ptr_null(other);
    const char *junk = test_tmp_path("junk.safetensors");
    FILE *f = fopen(junk, "wb");
    fputs("this is not a model", f);
    fclose(f);
    clae_status s = clae_model_load(test_rt_ref(), junk, 0, 0, &other, NULL);
    ck_assert_msg(s == CLAE_ERR_FORMAT || s == CLAE_ERR_TRUNCATED, "%s", clae_last_error());
    ck_assert_ptr_nonnull(strstr(clae_last_error(), junk));
    ck_assert_ptr_null(other);

    /* An inference-only model has no training state to checkpoint or restore. */
    clae_model *inf;
    ck_assert_int_eq(clae_model_load(test_rt_ref(), path, CLAE_MODEL_INFERENCE, 0, &inf, NULL), CLAE_OK);
    expect_error(clae_model_save_checkpoint(inf, ck, NULL, NULL), CLAE_ERR_ARG, "inference-only", NULL);
    expect_error(clae_model_restore_checkpoint(inf, ck, NULL), CLAE_ERR_ARG, "inference-only", NULL);
    float code[5 * 5], x[5 * 30];
    test_fill_uniform(x, 5 * 30, 3, 0.0f, 1.0f);
    ck_assert_int_eq(clae_model_encode(inf, x, 5, code), CLAE_OK);
    /* Deep features of every layer have that layer's width. */
    float feat[5 * 30];
    ck_assert_int_eq(clae_model_encode_layer(inf, x, 5, 4, feat), CLAE_OK);
    expect_error(clae_model_encode_layer(inf, x, 5, 5, feat), CLAE_ERR_ARG, "layer 5 out of range", NULL);
    clae_model_destroy(inf);
    clae_model_destroy(m);
}
END_TEST

/* Public entry points take NULL without crashing. */
/* Every persistent tensor by name, on both paths: get equals what the layer
 * and checkpoint calls see, set is what the next step starts from, and
 * transient or unknown names and wrong counts are refused. */
START_TEST(test_tensors_by_name)
{
    clae_runtime *rt = test_rt(_i);
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "12,5,3"), CLAE_OK);
    c.batch = 8;
    c.sparsity = CLAE_SPARSITY_H2O;
    clae_model *m = NULL;
    ck_assert_msg(clae_model_create(rt, &c, &m) == CLAE_OK, "%s", clae_last_error());
    float x[8 * 12];
    test_fill_uniform(x, 8 * 12, 5, 0.0f, 1.0f);
    ck_assert(clae_model_train_step(m, x, 8, NULL) == CLAE_OK);

    int ndim = 0;
    size_t shape[2];
    ck_assert(clae_model_tensor_info(m, "layers.1.weight", &ndim, shape) == CLAE_OK);
    ck_assert(ndim == 2 && shape[0] == 3 && shape[1] == 5);
    float w[15], w_layer[15], b_layer[3];
    ck_assert(clae_model_tensor_get(m, "layers.1.weight", w, 15) == CLAE_OK);
    ck_assert(clae_model_get_layer(m, 1, w_layer, b_layer) == CLAE_OK);
    ck_assert(memcmp(w, w_layer, sizeof w) == 0);
    /* Optimizer and variant state too: Adam's first moment is non-zero after a step. */
    float mom[15];
    ck_assert_msg(clae_model_tensor_get(m, "adam.m.layers.1.weight", mom, 15) == CLAE_OK, "%s", clae_last_error());
    int nonzero = 0;
    for (int k = 0; k < 15; k++) nonzero += mom[k] != 0.0f;
    ck_assert_int_gt(nonzero, 0);
    ck_assert(clae_model_tensor_info(m, "sparsity.ema.layers.0", &ndim, shape) == CLAE_OK);
    ck_assert(ndim == 1 && shape[0] == 5);

    /* Set, then read back through the layer call. */
    float b[3] = {0.25f, -0.5f, 1.0f}, back[3];
    ck_assert(clae_model_tensor_set(m, "layers.1.bias", b, 3) == CLAE_OK);
    ck_assert(clae_model_get_layer(m, 1, NULL, back) == CLAE_OK);
    ck_assert(memcmp(b, back, sizeof b) == 0);

    ck_assert(clae_model_tensor_get(m, "layers.1.bias", back, 4) == CLAE_ERR_SHAPE);
    ck_assert_contains(clae_last_error(), "holds 3 floats");
    ck_assert(clae_model_tensor_get(m, "act.1", back, 3) == CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "transient");
    ck_assert(clae_model_tensor_get(m, "layers.9.weight", back, 3) == CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "no tensor 'layers.9.weight'");
    b[1] = NAN;
    ck_assert(clae_model_tensor_set(m, "layers.1.bias", b, 3) == CLAE_ERR_ARG);
    ck_assert(clae_model_tensor_get(NULL, "layers.1.bias", back, 3) == CLAE_ERR_ARG);
    clae_model_destroy(m);
}
END_TEST

START_TEST(test_null_arguments)
{
    clae_model_config c;
    clae_model_get_config(NULL, &c);
    ck_assert_uint_eq(clae_model_steps(NULL), 0);
    char buf[8] = "x";
    clae_model_describe(NULL, buf, sizeof buf);
    ck_assert_str_eq(buf, "");
    clae_model_describe(NULL, NULL, 0);
    clae_model_config_default(NULL);
    ck_assert_int_eq(clae_model_config_set_layers(NULL, "784,64"), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_loss_parse("sse", NULL), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_noise_parse("mask", NULL), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_model_save(NULL, "x", NULL), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_model_train_step(NULL, NULL, 1, NULL), CLAE_ERR_ARG);
}
END_TEST

Suite *suite_modelio(void)
{
    Suite *s = suite_create("modelio");
    TCase *tc = tcase_create("files");
    tcase_add_checked_fixture(tc, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_save_load_round_trip);
    tcase_add_test(tc, test_file_layout_independent_reader);
    tcase_add_loop_test(tc, test_resume_equals_uninterrupted, 0, 2);
    tcase_add_test(tc, test_files_that_do_not_fit);
    tcase_add_test(tc, test_null_arguments);
    tcase_add_loop_test(tc, test_tensors_by_name, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
