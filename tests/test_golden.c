/* test_golden.c — the golden suite: the weights after 20 steps of the reference model and of every regularized
 * variant, as SHA-256 digests recorded before a rewrite of the model core, must stay bit for bit the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnu/libc-version.h>
#include <nettle/sha2.h>

#include "test_util.h"

/* Recorded digests live beside the tests; the OpenCL ones are keyed by the device and driver
 * they were taken on, since another device may round differently and only cpu-ref is portable. */
#define GOLDEN_FILE "tests/golden_weights.txt"
#define STEPS 20
#define BATCH 64

typedef struct golden_case {
    const char *name;
    clae_activation hidden, output;
    clae_loss loss;
    clae_optimizer opt;
    void (*set)(clae_model_config *c);
} golden_case;

static void none(clae_model_config *c) { (void)c; }
static void kl(clae_model_config *c) { c->sparsity = CLAE_SPARSITY_KL; }
static void l1(clae_model_config *c)
{
    c->sparsity = CLAE_SPARSITY_L1;
    c->sparsity_lambda = 1e-3f;
}
static void l2(clae_model_config *c)
{
    c->sparsity = CLAE_SPARSITY_L2;
    c->sparsity_lambda = 1e-2f;
}
static void h2o(clae_model_config *c)
{
    c->sparsity = CLAE_SPARSITY_H2O;
    c->sparsity_rho = -0.1f;
    c->sparsity_beta = 0.1f;
}
static void ksparse(clae_model_config *c)
{
    c->ksparse_k = 10;
    c->ksparse_k_start = 32;
    c->ksparse_schedule_steps = 10;
}
static void wta(clae_model_config *c) { c->wta_rate = 0.05f; }
static void gauss(clae_model_config *c)
{
    c->noise = CLAE_NOISE_GAUSSIAN;
    c->noise_level = 0.1f;
}
static void mask(clae_model_config *c)
{
    c->noise = CLAE_NOISE_MASK;
    c->noise_level = 0.25f;
}
static void saltpepper(clae_model_config *c)
{
    c->noise = CLAE_NOISE_SALTPEPPER;
    c->noise_level = 0.1f;
}
static void contractive(clae_model_config *c) { c->contractive = 0.1f; }
static void mask_l2(clae_model_config *c)
{
    mask(c);
    l2(c);
}

static const golden_case cases[] = {
    {"dense-bce-adam", CLAE_ACT_RELU, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, CLAE_OPT_ADAM, none},
    {"dense-sse-sgd", CLAE_ACT_TANH, CLAE_ACT_LINEAR, CLAE_LOSS_SSE, CLAE_OPT_SGD, none},
    {"dense-sse-momentum", CLAE_ACT_SIGMOID, CLAE_ACT_SIGMOID, CLAE_LOSS_SSE, CLAE_OPT_MOMENTUM, none},
    {"dense-bce-nesterov", CLAE_ACT_RELU, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, CLAE_OPT_NESTEROV, none},
    {"dense-sse-adadelta", CLAE_ACT_LINEAR, CLAE_ACT_SIGMOID, CLAE_LOSS_SSE, CLAE_OPT_ADADELTA, none},
    {"sparse-kl", CLAE_ACT_SIGMOID, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, CLAE_OPT_ADAM, kl},
    {"sparse-l1", CLAE_ACT_RELU, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, CLAE_OPT_ADAM, l1},
    {"sparse-l2", CLAE_ACT_TANH, CLAE_ACT_SIGMOID, CLAE_LOSS_SSE, CLAE_OPT_ADAM, l2},
    {"sparse-h2o", CLAE_ACT_TANH, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, CLAE_OPT_ADADELTA, h2o},
    {"k-sparse", CLAE_ACT_LINEAR, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, CLAE_OPT_ADAM, ksparse},
    {"winner-take-all", CLAE_ACT_RELU, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, CLAE_OPT_ADAM, wta},
    {"denoising-gaussian", CLAE_ACT_RELU, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, CLAE_OPT_ADAM, gauss},
    {"denoising-mask", CLAE_ACT_RELU, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, CLAE_OPT_ADAM, mask},
    {"denoising-saltpepper", CLAE_ACT_RELU, CLAE_ACT_SIGMOID, CLAE_LOSS_SSE, CLAE_OPT_ADAM, saltpepper},
    {"contractive", CLAE_ACT_SIGMOID, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, CLAE_OPT_ADAM, contractive},
    {"denoising-mask+sparse-l2", CLAE_ACT_TANH, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, CLAE_OPT_ADAM, mask_l2},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

static clae_dataset *golden_data(void)
{
    static clae_dataset *ds;
    if (!ds) {
        ck_assert_msg(clae_dataset_load(test_data_path("train-images-idx3-ubyte.gz"), &ds) == CLAE_OK, "%s",
                      clae_last_error());
        clae_dataset_truncate(ds, (size_t)STEPS * BATCH);
    }
    return ds;
}

/* Trains the case for STEPS steps on consecutive rows and writes the hex
 * SHA-256 of every layer's W then b, in layer order, as little-endian floats. */
static void train_digest(clae_runtime *rt, const golden_case *gc, char hex[65])
{
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "784,128,32"), CLAE_OK);
    clae_model_config_set_activations(&c, gc->hidden, gc->output);
    c.loss = gc->loss;
    c.optimizer = gc->opt;
    c.lr = gc->opt == CLAE_OPT_SGD || gc->opt == CLAE_OPT_MOMENTUM || gc->opt == CLAE_OPT_NESTEROV ? 0.01f : 1e-3f;
    c.batch = BATCH;
    c.seed = 7;
    gc->set(&c);
    clae_model *m = NULL;
    ck_assert_msg(clae_model_create(rt, &c, &m) == CLAE_OK, "%s: %s", gc->name, clae_last_error());
    const clae_dataset *ds = golden_data();
    ck_assert(clae_model_fit_feature_stats(m, ds) == CLAE_OK);
    uint32_t ids[BATCH];
    for (int s = 0; s < STEPS; s++) {
        for (int r = 0; r < BATCH; r++) ids[r] = (uint32_t)(s * BATCH + r);
        float loss;
        ck_assert_msg(clae_model_train_step_rows(m, ds->x + (size_t)s * BATCH * ds->cols, ids, BATCH, &loss) == CLAE_OK,
                      "%s step %d: %s", gc->name, s, clae_last_error());
    }
    struct sha256_ctx h;
    sha256_init(&h);
    for (int l = 0; l < c.n_layers; l++) {
        size_t nw = (size_t)c.sizes[l + 1] * (size_t)c.sizes[l], nb = (size_t)c.sizes[l + 1];
        float *w = malloc((nw + nb) * sizeof *w);
        ck_assert_ptr_nonnull(w);
        ck_assert(clae_model_get_layer(m, l, w, w + nw) == CLAE_OK);
        for (size_t i = 0; i < nw + nb; i++) {
            uint32_t u;
            memcpy(&u, &w[i], 4);
            uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
            sha256_update(&h, 4, le);
        }
        free(w);
    }
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&h, sizeof d, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    clae_model_destroy(m);
}

/* "cpu-ref|glibc-V" (libm's expf/tanhf decide the reference's last bits), or
 * the OpenCL device's name and driver, with spaces made '_'. */
static void device_key(clae_runtime *rt, char *key, size_t cap)
{
    clae_device_info info;
    ck_assert(clae_runtime_device(rt, &info) == CLAE_OK);
    if (info.type == CLAE_DEVICE_CPU_REF) snprintf(key, cap, "cpu-ref|glibc-%s", gnu_get_libc_version());
    else snprintf(key, cap, "%s|%s", info.name, info.driver_version);
    for (char *p = key; *p; p++)
        if (*p == ' ') *p = '_';
}

/* The recorded digest of (key, case), or NULL. */
static const char *recorded(const char *key, const char *name)
{
    static char line[1024], digest[65];
    FILE *f = fopen(GOLDEN_FILE, "r");
    ck_assert_msg(f != NULL, "%s: cannot open (the suite runs from the repository root)", GOLDEN_FILE);
    const char *found = NULL;
    while (!found && fgets(line, sizeof line, f)) {
        char k[512], n[128];
        if (line[0] == '#' || sscanf(line, "%511s %127s %64s", k, n, digest) != 3) continue;
        if (!strcmp(k, key) && !strcmp(n, name)) found = digest;
    }
    fclose(f);
    return found;
}

START_TEST(weights_after_20_steps_unchanged)
{
    clae_runtime *rt = test_rt(_i);
    char key[512];
    device_key(rt, key, sizeof key);
    /* CLAE_GOLDEN_RECORD=FILE appends this device's digests instead of checking them. */
    const char *record = getenv("CLAE_GOLDEN_RECORD");
    FILE *out = record && *record ? fopen(record, "a") : NULL;
    int checked = 0;
    for (int k = 0; k < N_CASES; k++) {
        char hex[65];
        train_digest(rt, &cases[k], hex);
        if (out) {
            fprintf(out, "%s %s %s\n", key, cases[k].name, hex);
            continue;
        }
        const char *want = recorded(key, cases[k].name);
        if (!want) continue;
        ck_assert_msg(!strcmp(want, hex), "%s on %s: weights after %d steps changed (digest %s, recorded %s)",
                      cases[k].name, key, STEPS, hex, want);
        checked++;
    }
    if (out) fclose(out);
    /* A device (or libm) the file has not seen is skipped, saying so; one it
     * has seen must have every case. */
    if (!out && checked == 0) fprintf(stderr, "golden: no digests recorded for %s: not checked\n", key);
    if (!out && checked) ck_assert_int_eq(checked, N_CASES);
}
END_TEST

Suite *suite_golden(void)
{
    Suite *s = suite_create("golden");
    TCase *t = tcase_create("golden");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, weights_after_20_steps_unchanged, 0, 2);
    suite_add_tcase(s, t);
    return s;
}
