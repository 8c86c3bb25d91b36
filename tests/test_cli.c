/* test_cli.c — the cli suite: runs the built `clae` binary as a user would and checks exit
 * statuses, messages on stderr and the JSON on stdout, including one tiny real training run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "test_util.h"

START_TEST(version_and_help)
{
    run_result r = run_clae("--version");
    ck_assert_int_eq(r.status, 0);
    ck_assert_contains(r.out, "clae " CLAE_VERSION_STRING "\n");
    run_free(&r);

    r = run_clae("--help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_contains(r.out, "train");
    ck_assert_contains(r.out, "devices");
    run_free(&r);

    r = run_clae("train --help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_contains(r.out, "--layers");
    ck_assert_contains(r.out, "--optimizer");
    run_free(&r);

    /* `help train` and `train --help` are the same text. */
    run_result h = run_clae("help train");
    r = run_clae("train --help");
    ck_assert_int_eq(h.status, 0);
    ck_assert_str_eq(h.out, r.out);
    run_free(&h);
    run_free(&r);

    r = run_clae("devices --help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_contains(r.out, "--json");
    run_free(&r);
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    run_result r = run_clae("frobnicate");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "frobnicate");
    run_free(&r);

    r = run_clae("");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "usage");
    run_free(&r);

    r = run_clae("train --no-such-flag");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "--no-such-flag");
    run_free(&r);

    r = run_clae("train --optimizer bogus");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "--optimizer");
    ck_assert_contains(r.err, "bogus");
    ck_assert_contains(r.err, "adam");
    run_free(&r);

    r = run_clae("train --batch=0");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "--batch");
    run_free(&r);

    r = run_clae("train --lr");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "--lr needs a value");
    run_free(&r);

    r = run_clae("train --loss bce --output-activation tanh");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "sigmoid");
    run_free(&r);
}
END_TEST

START_TEST(devices_json)
{
    run_result r = run_clae("devices --json");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(j != NULL && cJSON_IsArray(j), "not a JSON array:\n%s", r.out);
    int ref = 0, defaults = 0;
    cJSON *d;
    cJSON_ArrayForEach(d, j)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
        ck_assert(cJSON_IsString(id));
        ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(d, "name")));
        ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, "global_mem_bytes")));
        ref += strcmp(id->valuestring, "cpu-ref") == 0;
        defaults += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "default"));
    }
    ck_assert_int_eq(ref, 1);
    ck_assert_int_eq(defaults, 1);
    cJSON_Delete(j);
    run_free(&r);

    r = run_clae("devices");
    ck_assert_int_eq(r.status, 0);
    ck_assert_contains(r.out, "cpu-ref");
    ck_assert_contains(r.out, "\n*");
    run_free(&r);
}
END_TEST

START_TEST(bad_data_files)
{
    char missing[512], junk[512];
    snprintf(missing, sizeof missing, "%s", test_tmp_path("missing-images.gz"));
    snprintf(junk, sizeof junk, "%s", test_tmp_path("junk.idx"));
    run_result r = run_clae(with_path("train --device cpu-ref --data %s", missing));
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.err, missing);
    ck_assert_contains(r.err, "No such file or directory");
    run_free(&r);

    FILE *f = fopen(junk, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("this is not an IDX file at all\n", f);
    fclose(f);
    r = run_clae(with_path("train --device cpu-ref --test %s", junk));
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.err, junk);
    ck_assert_contains(r.err, "not an IDX file");
    run_free(&r);
}
END_TEST

START_TEST(dimension_mismatch)
{
    const char *t10k = test_data_path("t10k-images-idx3-ubyte.gz");
    run_result r = run_clae(with_path("train --device cpu-ref --data %s --layers 100,50", t10k));
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.err, t10k);
    ck_assert_contains(r.err, "data has 784 columns but the model's input layer has 100");
    run_free(&r);
}
END_TEST

START_TEST(unknown_device)
{
    const char *t10k = test_data_path("t10k-images-idx3-ubyte.gz");
    run_result r = run_clae(with_path("train --data %s --test-limit 16 --device no-such-device --limit 16", t10k));
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.err, "no-such-device");
    ck_assert_contains(r.err, "cpu-ref");
    run_free(&r);
}
END_TEST

static double json_number(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsNumber(v), "key '%s' missing or not a number", key);
    return v->valuedouble;
}

#define TINY_RUN "train --device cpu-ref --limit 512 --test-limit 256 --epochs 1 --batch 64 --layers 784,32"

START_TEST(tiny_training_run)
{
    run_result r = run_clae(TINY_RUN " --json");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(j != NULL && cJSON_IsObject(j), "not one JSON object:\n%s", r.out);
    static const char *const keys[] = {"device", "device_id", "epochs", "steps", "batch", "layers", "loss",
                                       "optimizer", "lr", "train_loss", "test_mse", "samples_per_sec",
                                       "seconds", "seed"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        ck_assert_msg(cJSON_HasObjectItem(j, keys[k]), "missing key '%s' in %s", keys[k], r.out);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "device_id")->valuestring, "cpu-ref");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "loss")->valuestring, "bce");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "optimizer")->valuestring, "adam");
    ck_assert_double_eq(json_number(j, "epochs"), 1);
    ck_assert_double_eq(json_number(j, "steps"), 8); /* 512 rows / 64 */
    ck_assert_double_eq(json_number(j, "batch"), 64);
    ck_assert_double_eq(json_number(j, "seed"), 42);
    ck_assert_double_eq_tol(json_number(j, "lr"), 0.001, 1e-12);
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(j, "layers");
    ck_assert_int_eq(cJSON_GetArraySize(layers), 3);
    ck_assert_double_eq(cJSON_GetArrayItem(layers, 0)->valuedouble, 784);
    ck_assert_double_eq(cJSON_GetArrayItem(layers, 1)->valuedouble, 32);
    ck_assert_double_eq(cJSON_GetArrayItem(layers, 2)->valuedouble, 784);
    double mse = json_number(j, "test_mse"), loss = json_number(j, "train_loss");
    ck_assert_msg(isfinite(mse) && mse > 0.0 && mse < 0.2, "test_mse %g", mse);
    ck_assert_msg(isfinite(loss) && loss > 0.0, "train_loss %g", loss);
    ck_assert(json_number(j, "samples_per_sec") > 0);
    /* Progress is not a TTY here: plain lines, ending with the epoch report. */
    ck_assert_contains(r.err, "step 8/8");
    ck_assert_contains(r.err, "epoch 1/1  train_loss");
    run_free(&r);

    /* The same run in text form with --quiet: nothing on stderr, and the same
     * numbers, since cpu-ref is deterministic for a given seed. */
    r = run_clae(TINY_RUN " --quiet");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_str_eq(r.err, "");
    char want[64];
    snprintf(want, sizeof want, "test_mse    %.6g\n", mse);
    ck_assert_contains(r.out, want);
    snprintf(want, sizeof want, "train_loss  %.6g\n", loss);
    ck_assert_contains(r.out, want);
    run_free(&r);

    /* Another seed gives another run. */
    r = run_clae(TINY_RUN " --json --quiet --seed 7");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    cJSON *j7 = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j7);
    ck_assert_double_eq(json_number(j7, "seed"), 7);
    ck_assert(json_number(j7, "test_mse") != mse);
    cJSON_Delete(j7);
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

/* `clae plan`: the table and the JSON agree with the library's summary, and
 * a plan that cannot fit exits 1 with the bytes needed and available. */
START_TEST(plan_command)
{
    run_result r = run_clae("plan --device cpu-ref --layers 784,1000,500,250,30 --batch 256");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_contains(r.out, "layers.0.weight");
    ck_assert_contains(r.out, "adam.v.layers.7.weight");
    ck_assert_contains(r.out, "planned peak");
    ck_assert_contains(r.out, "lower bound");
    ck_assert_contains(r.out, "unplanned sum");
    run_free(&r);

    r = run_clae("plan --device cpu-ref --layers 33,17,5 --batch 8 --json");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(j != NULL, "not JSON:\n%s", r.out);
    double peak = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "peak_bytes"));
    double bound = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "lower_bound_bytes"));
    double unplanned = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "unplanned_bytes"));
    ck_assert(bound > 0 && bound <= peak && peak < unplanned);
    const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(j, "tensors");
    ck_assert(cJSON_IsArray(tensors) && cJSON_GetArraySize(tensors) > 10);
    /* The same model through the library gives the same peak. */
    clae_model_config c;
    clae_model_config_default(&c);
    clae_model_config_set_layers(&c, "33,17,5");
    c.batch = 8;
    clae_model *m;
    ck_assert_int_eq(clae_model_create_ex(test_rt_ref(), &c, CLAE_MODEL_PLAN_ONLY, &m), CLAE_OK);
    clae_plan_summary ps;
    clae_model_plan_summary(m, &ps);
    ck_assert(ps.peak_bytes == (uint64_t)peak);
    clae_model_destroy(m);
    cJSON_Delete(j);
    run_free(&r);

    r = run_clae("plan --device cpu-ref --batch 200000000");
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.err, "the plan needs");
    ck_assert_contains(r.err, "bytes of global memory");
    run_free(&r);
}
END_TEST

/* Every variant family trains from the CLI on cpu-ref and on the OpenCL device,
 * and --json names the variant and its penalty. */
START_TEST(variant_families_train)
{
    static const struct {
        const char *flags, *variant;
    } fam[] = {
        {"--sparsity kl --activation sigmoid", "sparse kl rho=0.05 beta=3"},
        {"--sparsity l1 --lambda 0.01", "sparse l1 lambda=0.01"},
        {"--ksparse 8 --activation linear", "k-sparse k=8"},
        {"--wta-rate 10", "winner-take-all 10%"},
        {"--noise saltpepper:0.2", "denoising saltpepper 0.2"},
        {"--contractive 0.1 --activation tanh", "contractive lambda=0.1"},
        {"--noise gaussian:0.1 --sparsity l2", "denoising gaussian 0.1 + sparse l2"},
    };
    const char *devices[] = {"cpu-ref", getenv("CLAE_TEST_DEVICE") && *getenv("CLAE_TEST_DEVICE") ? getenv("CLAE_TEST_DEVICE") : "cpu"};
    for (size_t d = 0; d < 2; d++) {
        for (size_t i = 0; i < sizeof fam / sizeof fam[0]; i++) {
            char args[512];
            snprintf(args, sizeof args,
                     "train --device %s --limit 256 --test-limit 128 --epochs 1 --batch 64 --layers 784,32 %s --json",
                     devices[d], fam[i].flags);
            run_result r = run_clae(args);
            ck_assert_msg(r.status == 0, "%s: exit %d: %s", args, r.status, r.err);
            cJSON *j = cJSON_Parse(r.out);
            ck_assert_msg(j != NULL, "%s: not JSON:\n%s", args, r.out);
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "variant");
            ck_assert_msg(cJSON_IsString(v) && strstr(v->valuestring, fam[i].variant), "%s: variant %s", args,
                          cJSON_IsString(v) ? v->valuestring : "(missing)");
            ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "penalty")));
            double mse = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "test_mse"));
            ck_assert_msg(isfinite(mse) && mse < 0.2, "%s: test_mse %g", args, mse);
            cJSON_Delete(j);
            run_free(&r);
        }
    }
    /* Refused combinations and bad values are command-line errors naming the flag. */
    run_result r = run_clae("train --device cpu-ref --ksparse 8 --wta-rate 5");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "--wta-rate");
    run_free(&r);
    r = run_clae("train --device cpu-ref --noise fog:0.1");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "--noise");
    run_free(&r);
    r = run_clae("train --device cpu-ref --sparsity kl");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "sigmoid or tanh");
    run_free(&r);
}
END_TEST

Suite *suite_cli(void)
{
    Suite *s = suite_create("cli");
    TCase *usage = tcase_create("usage");
    tcase_add_checked_fixture(usage, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(usage, 60);
    tcase_add_test(usage, version_and_help);
    tcase_add_test(usage, usage_errors_exit_2);
    tcase_add_test(usage, devices_json);
    tcase_add_test(usage, plan_command);
    suite_add_tcase(s, usage);

    TCase *errors = tcase_create("errors");
    tcase_add_checked_fixture(errors, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(errors, 60);
    tcase_add_test(errors, bad_data_files);
    tcase_add_test(errors, dimension_mismatch);
    tcase_add_test(errors, unknown_device);
    suite_add_tcase(s, errors);

    TCase *train = tcase_create("train");
    tcase_add_checked_fixture(train, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(train, 120);
    tcase_add_test(train, tiny_training_run);
    tcase_add_test(train, variant_families_train);
    suite_add_tcase(s, train);
    return s;
}
