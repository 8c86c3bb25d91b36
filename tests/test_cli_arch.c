/* test_cli_arch.c — the cli_arch suite: nets given as spec strings (--arch) and tied weights (--tied) from the
 * command line: a tied autoencoder trains on Fashion-MNIST and beats the mean image, plan prints the traced schedule. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "test_util.h"

#define TRAIN_ROWS 10000
#define TEST_ROWS 2000

/* The mean image's test MSE over the rows the run trains and tests on. */
static double mean_image_mse(void)
{
    clae_dataset *tr = NULL, *te = NULL;
    ck_assert(clae_dataset_load(test_data_path("train-images-idx3-ubyte.gz"), &tr) == CLAE_OK);
    ck_assert(clae_dataset_load(test_data_path("t10k-images-idx3-ubyte.gz"), &te) == CLAE_OK);
    clae_dataset_truncate(tr, TRAIN_ROWS);
    clae_dataset_truncate(te, TEST_ROWS);
    double mse = test_mean_image_mse(tr, te);
    clae_dataset_free(tr);
    clae_dataset_free(te);
    return mse;
}

static double json_num(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsNumber(v), "no number '%s'", key);
    return v->valuedouble;
}

START_TEST(tied_autoencoder_beats_mean_image)
{
    const char *model = test_tmp_path("tied.safetensors");
    run_result r = run_expect(0,
                              "train --layers 784,256,64 --tied --limit %d --test-limit %d --epochs 1 --batch 128 -q "
                              "--json --out %s",
                              TRAIN_ROWS, TEST_ROWS, q("tied.safetensors"));
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(j != NULL, "not JSON:\n%s", r.out);
    double mse = json_num(j, "test_mse"), base = mean_image_mse();
    fprintf(stderr, "cli tied 784-256-64, 1 epoch of %d rows: test MSE %.5f, mean image %.5f\n", TRAIN_ROWS, mse, base);
    ck_assert_msg(mse < 0.5 * base, "tied AE test MSE %g does not beat half the mean image's %g", mse, base);
    cJSON_Delete(j);
    run_free(&r);

    /* The file stores the net and each tied weight once. */
    clae_runtime *rt = test_rt_ref();
    clae_model *m = NULL;
    ck_assert_msg(clae_model_load(rt, model, CLAE_MODEL_INFERENCE, 0, &m, NULL) == CLAE_OK, "%s", clae_last_error());
    ck_assert_str_eq(clae_model_arch(m),
                     "784,dense:256:relu,dense:64:relu@code,dense:256:relu:tied=1,dense:784:sigmoid:tied=0");
    int ndim;
    size_t shape[2];
    ck_assert(clae_model_tensor_info(m, "layers.2.weight", &ndim, shape) == CLAE_ERR_ARG);
    ck_assert(clae_model_tensor_info(m, "layers.2.bias", &ndim, shape) == CLAE_OK);
    clae_model_destroy(m);
    /* And every command that reads models takes it. */
    r = run_expect(0, "score --model %s --data %s --limit 100 --device cpu-ref -q", q("tied.safetensors"),
                   test_data_path("t10k-images-idx3-ubyte.gz"));
    run_free(&r);
}
END_TEST

START_TEST(plan_prints_traced_schedule)
{
    const char *spec = "784,noise:mask:0.25,dense:256:relu,dense:64:relu@code,topk:25,dense:256:relu,dense:784:sigmoid";
    run_result r = run_expect(0, "plan --arch %s --batch 64", spec);
    ck_assert_contains(r.out, "net: 784,noise:mask:0.25,dense:256:relu,dense:64:relu,topk:25@code,dense:256:relu,"
                              "dense:784:sigmoid");
    ck_assert_contains(r.out, "TRACED SCHEDULE");
    /* The selection mask is born with the top-k layer's forward and dies with its backward. */
    ck_assert_contains(r.out, "forward 3");
    ck_assert_contains(r.out, "+select.mask");
    ck_assert_contains(r.out, "-select.mask");
    ck_assert_contains(r.out, "noisy_input");
    run_free(&r);
    r = run_expect(0, "plan --arch %s --batch 64 --json", spec);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "arch");
    ck_assert(cJSON_IsString(a));
    ck_assert_ptr_nonnull(strstr(a->valuestring, "topk:25@code"));
    /* The traced plan stays within 10% of what any placement needs. */
    ck_assert(json_num(j, "peak_bytes") <= 1.10 * json_num(j, "lower_bound_bytes"));
    cJSON_Delete(j);
    run_free(&r);
    /* The shorthand flags expand to the same kind of net. */
    r = run_expect(0, "plan --layers 784,256,64 --ksparse 25 --noise mask:0.25 --batch 64");
    ck_assert_contains(r.out, "net: 784,noise:mask:0.25,dense:256:relu,dense:64:relu,topk:25@code,dense:256:relu,"
                              "dense:784:sigmoid");
    run_free(&r);
}
END_TEST

START_TEST(bad_nets_refused)
{
    static const struct {
        const char *args, *want;
    } cases[] = {
        {"plan --arch 784,dense:64:relu,dense:256:relu --layers 784,32", "describes the whole net"},
        {"plan --arch 784,dense:64:relu,dense:700:sigmoid", "differs from the input width 784"},
        {"plan --arch 784,dense:64:relu,wta:5,topk:3,dense:784:sigmoid", "cannot be combined"},
        {"plan --arch 784,dense:64:relu+kl,dense:784:sigmoid", "needs sigmoid or tanh units"},
        {"plan --arch 784,dense:64:relu,dense:784:linear", "--loss bce needs sigmoid"},
        {"plan --arch 784,dense:64:relu,pool:3,dense:784:sigmoid", "unknown layer kind 'pool'"},
        {"plan --arch 784,dense:64:relu,dense:784:sigmoid:tied=1", "tied=1 names no earlier dense layer"},
        {"plan --layers 784,256,64,128,784 --tied", "tied to dense layer"},
        {"plan --layers 784,256,64 --ksparse 10 --contractive 0.1", "--contractive cannot be combined with --ksparse"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        run_result r = run_expect(2, "%s", cases[k].args);
        ck_assert_msg(strstr(r.err, cases[k].want) != NULL, "clae %s: '%s' not in:\n%s", cases[k].args, cases[k].want,
                      r.err);
        run_free(&r);
    }
}
END_TEST

/* A resumed tied run takes its net from the checkpoint, and refuses a different one. */
START_TEST(tied_resume)
{
    const char *flags = "--layers 784,32 --tied --limit 256 --test-limit 64 --batch 64 --device cpu-ref -q";
    run_result r = run_expect(0, "train %s --epochs 1 --checkpoint %s", flags, q("tied.ckpt"));
    run_free(&r);
    r = run_expect(0, "train --limit 256 --test-limit 64 --device cpu-ref -q --epochs 2 --resume --checkpoint %s "
                      "--json", q("tied.ckpt"));
    ck_assert_contains(r.out, "\"steps\":8");
    run_free(&r);
    r = run_expect(2, "train --limit 256 --test-limit 64 --device cpu-ref -q --epochs 3 --resume --checkpoint %s "
                      "--arch 784,dense:32:relu,dense:784:sigmoid", q("tied.ckpt"));
    ck_assert_contains(r.err, "the net differs");
    run_free(&r);
}
END_TEST

/* A convolutional AE from the command line on cpu-ref: train, then every command that reads models takes it. */
START_TEST(conv_model_from_the_cli)
{
    const char *spec = "1x28x28,conv:4:3:p1:relu,maxpool:2,conv:2:3:p1:relu,maxpool:2@code,unpool,conv:4:3:p1:relu,"
                       "unpool,conv:1:3:p1:sigmoid";
    const char *t10k = test_data_path("t10k-images-idx3-ubyte.gz");
    run_result r = run_expect(0, "train --arch %s --device cpu-ref --limit 64 --test-limit 32 --batch 32 --epochs 1 -q "
                                 "--json --out %s",
                              spec, q("conv.safetensors"));
    ck_assert_contains(r.out, "\"variant\":\"convolutional\"");
    run_free(&r);
    r = run_expect(0, "encode --model %s --data %s --limit 5 --device cpu-ref --out %s -q", q("conv.safetensors"), t10k,
                   q("codes.csv"));
    run_free(&r);
    /* The code is the second pool's 2x7x7 = 98 values per row. */
    char *codes = test_slurp_text(test_tmp_path("codes.csv"));
    const char *last = strrchr(codes, '\n');
    ck_assert_ptr_nonnull(last);
    const char *line = codes;
    int commas = 0;
    for (const char *p = line; *p && *p != '\n'; p++) commas += *p == ',';
    ck_assert_int_eq(commas + 1, 98);
    free(codes);
    r = run_expect(0, "score --model %s --data %s --limit 20 --device cpu-ref -q", q("conv.safetensors"), t10k);
    run_free(&r);
    r = run_expect(0, "reconstruct --model %s --data %s --limit 8 --count 4 --device cpu-ref --out %s -q",
                   q("conv.safetensors"), t10k, q("grid.png"));
    run_free(&r);
    /* The plan prints the image net and its traced schedule. */
    r = run_expect(0, "plan --arch %s --device cpu-ref --batch 16", spec);
    ck_assert_contains(r.out, "+pool.idx.1");
    ck_assert_contains(r.out, "unpool");
    run_free(&r);
}
END_TEST

/* --model vae from the command line (cpu-ref): the code layer becomes a gauss layer, -ELBO is the reported loss, and
 * clae sample decodes prior draws; a plain autoencoder has no prior to sample. */
START_TEST(vae_from_the_cli)
{
    run_result r = run_expect(0, "plan --model vae --vae-beta 2 --layers 784,64,8 --activation tanh --device cpu-ref");
    ck_assert_contains(r.out, "net: 784,dense:64:tanh,gauss:8:beta=2@code,dense:64:tanh,dense:784:sigmoid");
    run_free(&r);
    r = run_expect(0, "train --model vae --layers 784,64,8 --device cpu-ref --limit 256 --test-limit 32 --batch 64 "
                      "--epochs 1 -q --json --out %s", q("vae.safetensors"));
    ck_assert_contains(r.out, "\"variant\":\"variational beta=1\"");
    run_free(&r);
    r = run_expect(0, "sample --model %s --count 9 --out %s --device cpu-ref --json", q("vae.safetensors"), q("s.png"));
    ck_assert_contains(r.out, "\"kind\":\"prior\"");
    ck_assert_contains(r.out, "\"count\":9");
    run_free(&r);
    r = run_expect(0, "sample --model %s --count 3 --out %s --device cpu-ref -q", q("vae.safetensors"), q("s.csv"));
    run_free(&r);
    char *csv = test_slurp_text(test_tmp_path("s.csv"));
    int lines = 0;
    for (const char *p = csv; *p; p++) lines += *p == '\n';
    ck_assert_int_eq(lines, 4); /* a header and three samples */
    free(csv);
    /* A walk between two encoded test images: 6 decoded steps in one row. */
    r = run_expect(0, "sample --model %s --data %s --from 0 --to 5 --steps 6 --out %s --device cpu-ref -q",
                   q("vae.safetensors"), test_data_path("t10k-images-idx3-ubyte.gz"), q("walk.npy"));
    run_free(&r);
    r = run_expect(2, "sample --model %s --data %s --from 0 --out %s", q("vae.safetensors"),
                   test_data_path("t10k-images-idx3-ubyte.gz"), q("walk.png"));
    ck_assert_contains(r.err, "give both rows");
    run_free(&r);
    r = run_expect(2, "train --model vae --ksparse 3 --layers 784,64,8 --device cpu-ref --limit 64");
    ck_assert_contains(r.err, "the Gaussian layer makes the code");
    run_free(&r);
    r = run_expect(0, "train --layers 784,8 --device cpu-ref --limit 64 --batch 32 --epochs 1 -q --out %s", q("ae.st"));
    run_free(&r);
    r = run_expect(1, "sample --model %s --out %s --device cpu-ref", q("ae.st"), q("x.png"));
    ck_assert_contains(r.err, "no prior");
    run_free(&r);
}
END_TEST

/* --model concrete from the command line (cpu-ref): the picks in train --json, clae select's list, JSON and mask. */
START_TEST(concrete_from_the_cli)
{
    run_result r = run_expect(0, "plan --model concrete --select 12 --layers 784,64 --device cpu-ref");
    ck_assert_contains(r.out, "net: 784,concrete:12:t0=10:tb=0.01:steps=0@code,dense:64:relu,dense:784:sigmoid");
    run_free(&r);
    r = run_expect(0, "train --model concrete --select 12 --layers 784,64 --device cpu-ref --limit 256 --test-limit 32 "
                      "--batch 64 --epochs 2 -q --json --out %s", q("sel.safetensors"));
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j);
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(j, "selected");
    ck_assert(cJSON_IsArray(sel));
    ck_assert_int_eq(cJSON_GetArraySize(sel), 12);
    cJSON_Delete(j);
    run_free(&r);
    /* The schedule spans the run: 2 epochs of 4 steps. */
    clae_model *m = NULL;
    ck_assert_int_eq(clae_model_load(test_rt_ref(), test_tmp_path("sel.safetensors"), CLAE_MODEL_INFERENCE, 0, &m, NULL),
                     CLAE_OK);
    ck_assert_ptr_nonnull(strstr(clae_model_arch(m), "concrete:12:t0=10:tb=0.01:steps=8@code"));
    clae_model_destroy(m);
    r = run_expect(0, "select --model %s --json --out %s", q("sel.safetensors"), q("mask.png"));
    ck_assert_contains(r.out, "\"distinct\":");
    run_free(&r);
    r = run_expect(0, "select --model %s", q("sel.safetensors"));
    int lines = 0;
    for (const char *p = r.out; *p; p++) lines += *p == '\n';
    ck_assert_int_eq(lines, 12);
    run_free(&r);
    r = run_expect(2, "train --model concrete --layers 784,64 --device cpu-ref --limit 64");
    ck_assert_contains(r.err, "needs --select K");
    run_free(&r);
    r = run_expect(1, "select --model %s", q("vae.safetensors"));
    run_free(&r);
}
END_TEST

/* --model mdl from the command line (cpu-ref): a linear, rounded code with its rate in the loss; code_length_bits. */
START_TEST(mdl_from_the_cli)
{
    run_result r = run_expect(0, "plan --model mdl --layers 784,64,8 --device cpu-ref");
    ck_assert_contains(r.out, "net: 784,dense:64:relu,dense:8:linear,mdl:sigma=0.05:delta=0.003921569:lambda=1@code,"
                              "dense:64:relu,dense:784:sigmoid");
    run_free(&r);
    r = run_expect(0, "train --model mdl --layers 784,64,8 --device cpu-ref --limit 256 --test-limit 32 --batch 64 "
                      "--epochs 1 -q --json");
    ck_assert_contains(r.out, "\"code_length_bits\":");
    ck_assert_contains(r.out, "\"loss\":\"sse\"");
    run_free(&r);
    r = run_expect(2, "train --model mdl --loss bce --layers 784,64,8 --device cpu-ref --limit 64");
    ck_assert_contains(r.err, "use --loss sse");
    run_free(&r);
}
END_TEST

/* --model aae from the command line (cpu-ref): a linear code and an adv layer, the adversary's figures per epoch and in
 * --json, its small default rate, a resume that keeps the run's rate, samples from its prior; misused flags refused. */
START_TEST(aae_from_the_cli)
{
    run_result r = run_expect(0, "plan --model aae --layers 784,64,8 --disc 32,16 --prior mix:10 --lr-gen 2e-4 "
                                 "--device cpu-ref");
    ck_assert_contains(r.out, "net: 784,dense:64:relu,dense:8:linear,adv:32x16:mix=10:lr_gen=0.0002@code,dense:64:relu,"
                              "dense:784:sigmoid");
    ck_assert_contains(r.out, "discriminator");
    run_free(&r);
    r = run_expect(0, "train --model aae --layers 784,64,8 --disc 32 --device cpu-ref --limit 256 --test-limit 32 "
                      "--batch 64 --epochs 2 --json --checkpoint %s --out %s", q("aae.ckpt"), q("aae.safetensors"));
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j);
    static const char *const keys[] = {"disc_loss", "disc_accuracy", "gen_loss", "fooled"};
    for (int k = 0; k < 4; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[k]);
        ck_assert_msg(cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0.0, "%s in %s", keys[k], r.out);
    }
    ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(j, "lr")->valuedouble, 1e-4);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "variant")->valuestring, "adversarial prior=gauss disc=32");
    cJSON_Delete(j);
    ck_assert_contains(r.err, "disc_acc");
    run_free(&r);
    /* A resumed run takes the checkpoint's net and rate (a --lr of the first run would stay too). */
    r = run_expect(0, "train --resume --checkpoint %s --device cpu-ref --limit 256 --test-limit 32 --epochs 3 -q --json",
                   q("aae.ckpt"));
    ck_assert_contains(r.out, "\"epochs\":3");
    ck_assert_contains(r.out, "\"disc_accuracy\":");
    run_free(&r);
    r = run_expect(0, "sample --model %s --count 9 --out %s --device cpu-ref --json", q("aae.safetensors"), q("s.png"));
    ck_assert_contains(r.out, "\"kind\":\"prior\"");
    run_free(&r);
    /* And on PoCL, with the mixture prior. */
    r = run_expect(0, "train --model aae --prior mix:4 --layers 784,64,8 --disc 32 --device cpu --limit 256 "
                      "--test-limit 32 --batch 64 --epochs 1 -q --json");
    ck_assert_contains(r.out, "\"disc_accuracy\":");
    ck_assert_contains(r.out, "\"variant\":\"adversarial prior=mix4 disc=32\"");
    run_free(&r);
    r = run_expect(2, "train --prior mix:4 --layers 784,64,8 --device cpu-ref --limit 64");
    ck_assert_contains(r.err, "belong to --model aae");
    run_free(&r);
    r = run_expect(2, "train --model aae --prior mix:0 --layers 784,64,8 --device cpu-ref --limit 64");
    ck_assert_contains(r.err, "mix:K");
    run_free(&r);
    r = run_expect(2, "train --model aae --disc 32,,16 --layers 784,64,8 --device cpu-ref --limit 64");
    ck_assert_contains(r.err, "hidden widths");
    run_free(&r);
    r = run_expect(2, "train --model aae --prior mix:10 --layers 784,64,7 --device cpu-ref --limit 64");
    ck_assert_contains(r.err, "pairs of code units");
    run_free(&r);
    r = run_expect(2, "train --model aae --sparsity l1 --layers 784,64,8 --device cpu-ref --limit 64");
    ck_assert_contains(r.err, "the adversary shapes the code");
    run_free(&r);
}
END_TEST

Suite *suite_cli_arch(void)
{
    Suite *s = suite_create("cli_arch");
    TCase *tc = tcase_create("arch");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(tc, tied_autoencoder_beats_mean_image);
    tcase_add_test(tc, plan_prints_traced_schedule);
    tcase_add_test(tc, bad_nets_refused);
    tcase_add_test(tc, tied_resume);
    tcase_add_test(tc, conv_model_from_the_cli);
    tcase_add_test(tc, vae_from_the_cli);
    tcase_add_test(tc, concrete_from_the_cli);
    tcase_add_test(tc, mdl_from_the_cli);
    tcase_add_test(tc, aae_from_the_cli);
    suite_add_tcase(s, tc);
    return s;
}
