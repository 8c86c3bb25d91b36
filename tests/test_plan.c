/* test_plan.c — the buffer planner: an independent overlap checker over real model plans, plan on/off
 * giving bit-identical training, the memory target against the lower bound, and clean failure when too big. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_internal.h"
#include "plan/plan.h"
#include "test_util.h"

/* ---- the independent checker -------------------------------------------------
 * It knows nothing of how the planner places tensors: it only reads the
 * published entries and proves that no two tensors live at the same time
 * share a byte, that every offset is aligned, and that all fits in the peak. */

typedef struct checked_plan {
    clae_plan_summary s;
    clae_plan_entry *e;
} checked_plan;

static checked_plan read_plan(clae_model *m)
{
    checked_plan c;
    ck_assert_int_eq(clae_model_plan_summary(m, &c.s), CLAE_OK);
    c.e = calloc((size_t)c.s.n_tensors, sizeof *c.e);
    for (int i = 0; i < c.s.n_tensors; i++) ck_assert_int_eq(clae_model_plan_entry(m, i, &c.e[i]), CLAE_OK);
    return c;
}

/* Returns a message describing the first violation, or NULL if the plan is sound. */
static const char *check_plan(const checked_plan *c, char *msg, size_t cap)
{
    const clae_plan_summary *s = &c->s;
    for (int i = 0; i < s->n_tensors; i++) {
        const clae_plan_entry *a = &c->e[i];
        if (!a->bytes) continue;
        if (a->first < 0 || a->last >= s->n_steps || a->first > a->last) {
            snprintf(msg, cap, "%s: lifetime [%d,%d] outside 0..%d", a->name, a->first, a->last, s->n_steps - 1);
            return msg;
        }
        if (a->offset % s->align_bytes) {
            snprintf(msg, cap, "%s: offset %llu not a multiple of %llu", a->name, (unsigned long long)a->offset,
                     (unsigned long long)s->align_bytes);
            return msg;
        }
        if (a->offset + a->bytes > s->peak_bytes) {
            snprintf(msg, cap, "%s: ends at %llu past the peak %llu", a->name,
                     (unsigned long long)(a->offset + a->bytes), (unsigned long long)s->peak_bytes);
            return msg;
        }
        for (int j = i + 1; j < s->n_tensors; j++) {
            const clae_plan_entry *b = &c->e[j];
            if (!b->bytes) continue;
            int live_together = a->first <= b->last && b->first <= a->last;
            /* Unplanned, every tensor owns its region whatever the lifetimes. */
            if (!live_together && s->planned) continue;
            int share_bytes = a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes;
            if (share_bytes) {
                snprintf(msg, cap, "%s [%llu,+%llu) live %d..%d overlaps %s [%llu,+%llu) live %d..%d", a->name,
                         (unsigned long long)a->offset, (unsigned long long)a->bytes, a->first, a->last, b->name,
                         (unsigned long long)b->offset, (unsigned long long)b->bytes, b->first, b->last);
                return msg;
            }
        }
    }
    if (s->lower_bound_bytes > s->peak_bytes) {
        snprintf(msg, cap, "lower bound %llu above the peak %llu", (unsigned long long)s->lower_bound_bytes,
                 (unsigned long long)s->peak_bytes);
        return msg;
    }
    return NULL;
}

const char *test_check_model_plan(clae_model *m, char *msg, size_t cap)
{
    checked_plan c = read_plan(m);
    const char *bad = check_plan(&c, msg, cap);
    free(c.e);
    return bad;
}

/* The checker itself must be able to fail: two live tensors on the same bytes. */
START_TEST(test_checker_catches_overlap)
{
    clae_plan_entry e[2] = {{"a", 256, 0, 0, 3, 0}, {"b", 256, 128, 2, 5, 0}};
    checked_plan c = {{1, 2, 6, 64, 512, 512, 2, 512, 0}, e};
    char msg[256];
    ck_assert_ptr_nonnull(check_plan(&c, msg, sizeof msg));
    e[1].first = 4; /* no longer live together: sharing is fine */
    ck_assert_ptr_null(check_plan(&c, msg, sizeof msg));
    e[1].offset = 100; /* misaligned */
    ck_assert_ptr_nonnull(check_plan(&c, msg, sizeof msg));
}
END_TEST

/* The planner alone, on random lifetimes: sound, within the bounds, and
 * unplanned placement never shares. */
START_TEST(test_planner_random_lifetimes)
{
    for (uint32_t trial = 0; trial < 50; trial++) {
        clae_plan p;
        ck_assert_int_eq(clae_plan_init(&p, 20, 64), CLAE_OK);
        float r[4 * 40];
        test_fill_uniform(r, sizeof r / sizeof r[0], 1000 + trial, 0.0f, 1.0f);
        for (int i = 0; i < 40; i++) {
            int first = (int)(r[4 * i] * 20), len = (int)(r[4 * i + 1] * 8);
            int persistent = r[4 * i + 3] < 0.1f;
            size_t bytes = 4 + (size_t)(r[4 * i + 2] * 10000);
            char name[16];
            snprintf(name, sizeof name, "t%d", i);
            ck_assert_int_ge(clae_plan_add(&p, name, bytes, persistent ? CLAE_PLAN_ALWAYS : first, first + len), 0);
        }
        for (int planned = 1; planned >= 0; planned--) {
            ck_assert_int_eq(clae_plan_place(&p, planned), CLAE_OK);
            clae_plan_entry e[40];
            for (int i = 0; i < p.n; i++) {
                snprintf(e[i].name, sizeof e[i].name, "%s", p.tensors[i].name);
                e[i].bytes = p.tensors[i].bytes;
                e[i].offset = p.tensors[i].offset;
                e[i].first = p.tensors[i].first;
                e[i].last = p.tensors[i].last;
            }
            checked_plan c = {{planned, p.n, p.n_steps, p.align, p.peak_bytes, p.lower_bound_bytes, 0,
                               p.unplanned_bytes, 0},
                              e};
            char msg[512];
            const char *bad = check_plan(&c, msg, sizeof msg);
            ck_assert_msg(bad == NULL, "trial %u planned %d: %s", trial, planned, bad);
            ck_assert_uint_le(p.peak_bytes, p.unplanned_bytes);
        }
        clae_plan_free(&p);
    }
}
END_TEST

typedef struct plan_case {
    const char *layers;
    int batch;
    clae_optimizer opt;
    clae_loss loss;
} plan_case;

static const plan_case plan_cases[] = {
    {"20,10", 1, CLAE_OPT_SGD, CLAE_LOSS_SSE},
    {"33,17,5", 7, CLAE_OPT_MOMENTUM, CLAE_LOSS_BCE},
    {"784,256,64", 256, CLAE_OPT_ADAM, CLAE_LOSS_BCE},
    {"784,256,64,256,784", 1000, CLAE_OPT_ADADELTA, CLAE_LOSS_SSE},
    {"784,1000,500,250,30", 256, CLAE_OPT_ADAM, CLAE_LOSS_BCE},
    {"784,1000,500,250,30", 1024, CLAE_OPT_NESTEROV, CLAE_LOSS_SSE},
};

static void config_for(const plan_case *pc, clae_model_config *c)
{
    clae_model_config_default(c);
    ck_assert_int_eq(clae_model_config_set_layers(c, pc->layers), CLAE_OK);
    c->batch = pc->batch;
    c->optimizer = pc->opt;
    c->loss = pc->loss;
}

/* Every dense model plan, training and inference-only, planned and not, on
 * both paths, passes the independent checker. */
START_TEST(test_dense_plans_never_overlap)
{
    const plan_case *pc = &plan_cases[_i];
    clae_model_config c;
    config_for(pc, &c);
    static const unsigned flag_sets[] = {0, CLAE_MODEL_INFERENCE, CLAE_MODEL_UNPLANNED};
    for (int p = 0; p < 2; p++) {
        for (size_t f = 0; f < sizeof flag_sets / sizeof flag_sets[0]; f++) {
            clae_model *m;
            ck_assert_msg(clae_model_create_ex(test_rt(p), &c, flag_sets[f] | CLAE_MODEL_PLAN_ONLY, &m) == CLAE_OK,
                          "%s", clae_last_error());
            checked_plan cp = read_plan(m);
            char msg[512];
            const char *bad = check_plan(&cp, msg, sizeof msg);
            ck_assert_msg(bad == NULL, "%s batch %d path %d flags %u: %s", pc->layers, pc->batch, p, flag_sets[f], bad);
            ck_assert_int_eq(cp.s.planned, !(flag_sets[f] & CLAE_MODEL_UNPLANNED));
            if (cp.s.planned) ck_assert_uint_lt(cp.s.peak_bytes, cp.s.unplanned_bytes);
            if (flag_sets[f] == 0) ck_assert_uint_lt(cp.s.inference_peak_bytes, cp.s.peak_bytes);
            free(cp.e);
            clae_model_destroy(m);
        }
    }
}
END_TEST

/* Memory target of issue 3: the 784-1000-500-250-30 deep AE, mirrored,
 * Adam, at batch 256 and 1024: planned peak within 10% of the lower bound
 * (the most bytes live at any one position of the step). */
START_TEST(test_memory_target_deep_ae)
{
    static const int batches[] = {256, 1024};
    for (int p = 0; p < 2; p++) {
        for (int k = 0; k < 2; k++) {
            clae_model_config c;
            clae_model_config_default(&c);
            ck_assert_int_eq(clae_model_config_set_layers(&c, "784,1000,500,250,30"), CLAE_OK);
            c.batch = batches[k];
            clae_model *m;
            ck_assert_int_eq(clae_model_create_ex(test_rt(p), &c, CLAE_MODEL_PLAN_ONLY, &m), CLAE_OK);
            clae_plan_summary s;
            ck_assert_int_eq(clae_model_plan_summary(m, &s), CLAE_OK);
            double ratio = (double)s.peak_bytes / (double)s.lower_bound_bytes;
            fprintf(stderr,
                    "plan 784-1000-500-250-30 adam batch %d on %s: peak %.2f MiB, lower bound %.2f MiB (at %s), "
                    "unplanned %.2f MiB, peak/bound %.3f, inference-only %.2f MiB\n",
                    c.batch, p ? "opencl" : "cpu-ref", s.peak_bytes / 1048576.0, s.lower_bound_bytes / 1048576.0,
                    clae_model_plan_step_name(m, s.lower_bound_step), s.unplanned_bytes / 1048576.0, ratio,
                    s.inference_peak_bytes / 1048576.0);
            ck_assert_msg(ratio <= 1.10, "peak %llu is %.3f× the lower bound %llu", (unsigned long long)s.peak_bytes,
                          ratio, (unsigned long long)s.lower_bound_bytes);
            clae_model_destroy(m);
        }
    }
}
END_TEST

/* 20 steps with the plan on and with every tensor apart give bit-identical weights. */
START_TEST(test_plan_on_off_bit_identical)
{
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "65,33,9"), CLAE_OK);
    c.batch = 40;
    size_t D = 65, B = 40;
    float *x = malloc(B * D * sizeof *x);
    for (int p = 0; p < 2; p++) {
        float *w[2][4];
        for (int mode = 0; mode < 2; mode++) {
            clae_model *m;
            ck_assert_int_eq(clae_model_create_ex(test_rt(p), &c, mode ? CLAE_MODEL_UNPLANNED : 0, &m), CLAE_OK);
            clae_plan_summary s;
            clae_model_plan_summary(m, &s);
            ck_assert_int_eq(s.planned, !mode);
            for (int step = 0; step < 20; step++) {
                test_fill_uniform(x, B * D, 40 + (uint32_t)step, 0.0f, 1.0f);
                float L;
                /* A short last batch now and then, as at the end of an epoch. */
                ck_assert_int_eq(clae_model_train_step(m, x, step % 7 == 6 ? 13 : B, &L), CLAE_OK);
            }
            for (int l = 0; l < c.n_layers; l++) {
                size_t n = (size_t)c.sizes[l] * (size_t)c.sizes[l + 1];
                w[mode][l] = malloc((n + (size_t)c.sizes[l + 1]) * sizeof(float));
                ck_assert_int_eq(clae_model_get_layer(m, l, w[mode][l], w[mode][l] + n), CLAE_OK);
            }
            clae_model_destroy(m);
        }
        for (int l = 0; l < c.n_layers; l++) {
            size_t n = (size_t)c.sizes[l] * (size_t)c.sizes[l + 1] + (size_t)c.sizes[l + 1];
            ck_assert_msg(memcmp(w[0][l], w[1][l], n * sizeof(float)) == 0, "path %d layer %d differs with the plan off",
                          p, l);
            free(w[0][l]);
            free(w[1][l]);
        }
    }
    free(x);
}
END_TEST

/* An inference-only model uses the smaller plan, gives the training model's
 * outputs for the same weights, and refuses to train. */
START_TEST(test_inference_only_model)
{
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "40,20,6"), CLAE_OK);
    c.batch = 16;
    size_t D = 40, rows = 35;
    float *x = malloc(rows * D * sizeof *x), *r0 = malloc(rows * D * sizeof *r0), *r1 = malloc(rows * D * sizeof *r1);
    test_fill_uniform(x, rows * D, 5, 0.0f, 1.0f);
    for (int p = 0; p < 2; p++) {
        clae_model *full, *inf;
        ck_assert_int_eq(clae_model_create(test_rt(p), &c, &full), CLAE_OK);
        ck_assert_int_eq(clae_model_create_ex(test_rt(p), &c, CLAE_MODEL_INFERENCE, &inf), CLAE_OK);
        clae_plan_summary sf, si;
        clae_model_plan_summary(full, &sf);
        clae_model_plan_summary(inf, &si);
        ck_assert_uint_lt(si.peak_bytes, sf.peak_bytes);
        ck_assert_uint_eq(si.peak_bytes, sf.inference_peak_bytes);
        float L;
        for (int s = 0; s < 3; s++) ck_assert_int_eq(clae_model_train_step(full, x, 16, &L), CLAE_OK);
        for (int l = 0; l < c.n_layers; l++) {
            size_t n = (size_t)c.sizes[l] * (size_t)c.sizes[l + 1];
            float *wb = malloc((n + (size_t)c.sizes[l + 1]) * sizeof *wb);
            ck_assert_int_eq(clae_model_get_layer(full, l, wb, wb + n), CLAE_OK);
            ck_assert_int_eq(clae_model_set_layer(inf, l, wb, wb + n), CLAE_OK);
            free(wb);
        }
        ck_assert_int_eq(clae_model_reconstruct(full, x, rows, r0), CLAE_OK);
        ck_assert_int_eq(clae_model_reconstruct(inf, x, rows, r1), CLAE_OK);
        ck_assert(memcmp(r0, r1, rows * D * sizeof *r0) == 0);
        ck_assert_int_eq(clae_model_train_step(inf, x, 16, &L), CLAE_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(clae_model_error(inf), "inference only"));
        clae_model_destroy(full);
        clae_model_destroy(inf);
    }
    free(x);
    free(r0);
    free(r1);
}
END_TEST

/* A plan larger than the device fails at creation with the bytes needed and available. */
START_TEST(test_plan_too_big_fails_cleanly)
{
    clae_model_config c;
    clae_model_config_default(&c);
    c.batch = 200000000; /* ≈ 1.8 TB of activations */
    for (int p = 0; p < 2; p++) {
        clae_model *m = (clae_model *)&c; /* must be reset to NULL */
        ck_assert_int_eq(clae_model_create(test_rt(p), &c, &m), CLAE_ERR_DEVICE_MEM);
        ck_assert_ptr_null(m);
        const char *msg = clae_last_error();
        ck_assert_msg(strstr(msg, "model needs") && strstr(msg, "bytes") && strstr(msg, "lower the batch"), "%s", msg);
        clae_device_info d;
        clae_runtime_device(test_rt(p), &d);
        ck_assert_msg(strstr(msg, d.name) != NULL, "%s", msg);
        /* The runtime still works afterwards. */
        c.batch = 4;
        ck_assert_int_eq(clae_model_create(test_rt(p), &c, &m), CLAE_OK);
        clae_model_destroy(m);
        c.batch = 200000000;
    }
}
END_TEST


/* Two threads planning models at once (each on its own runtime) must not
 * share anything: the placement keeps no global state. */
static void *plan_in_thread(void *arg)
{
    clae_runtime *rt = NULL;
    int *ok = arg;
    *ok = 0;
    if (clae_runtime_open("cpu-ref", &rt) != CLAE_OK) return NULL;
    clae_model_config c;
    clae_model_config_default(&c);
    clae_model_config_set_layers(&c, "784,1000,500,250,30");
    int good = 1;
    uint64_t first_peak = 0;
    for (int k = 0; k < 40 && good; k++) {
        clae_model *m = NULL;
        good = clae_model_create_ex(rt, &c, CLAE_MODEL_PLAN_ONLY, &m) == CLAE_OK;
        clae_plan_summary s;
        if (good) good = clae_model_plan_summary(m, &s) == CLAE_OK && (k == 0 || s.peak_bytes == first_peak);
        if (good && k == 0) first_peak = s.peak_bytes;
        clae_model_destroy(m);
    }
    clae_runtime_close(rt);
    *ok = good;
    return NULL;
}

START_TEST(test_planning_is_thread_safe)
{
    pthread_t t[2];
    int ok[2];
    for (int i = 0; i < 2; i++) ck_assert_int_eq(pthread_create(&t[i], NULL, plan_in_thread, &ok[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    ck_assert(ok[0] && ok[1]);
}
END_TEST

/* Sizes that overflow the address space are refused, not wrapped into a bogus plan. */
/* CLAE_PLAN=poison really fills a tensor with NaN after its last planned use
 * (an activation, read back through the model's insides), and a correct plan
 * trains the same weights with it as without. */
static void train_steps_with_plan_env(clae_runtime *rt, const char *env, float *w, size_t nw, int *act1_nan)
{
    /* Restored below, so a suite run under CLAE_PLAN=poison stays poisoned after this test. */
    const char *was = getenv("CLAE_PLAN");
    char saved[32] = "";
    if (was) snprintf(saved, sizeof saved, "%s", was);
    if (env) setenv("CLAE_PLAN", env, 1);
    else unsetenv("CLAE_PLAN");
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "30,12,5"), CLAE_OK);
    c.batch = 16;
    c.noise = CLAE_NOISE_MASK;
    c.noise_level = 0.2f;
    c.sparsity = CLAE_SPARSITY_KL;
    clae_model_config_set_activations(&c, CLAE_ACT_SIGMOID, CLAE_ACT_SIGMOID);
    clae_model *m = NULL;
    clae_status st = clae_model_create(rt, &c, &m);
    if (was) setenv("CLAE_PLAN", saved, 1);
    else unsetenv("CLAE_PLAN");
    ck_assert_msg(st == CLAE_OK, "%s", clae_last_error());
    float x[16 * 30], loss;
    for (int s = 0; s < 5; s++) {
        test_fill_uniform(x, 16 * 30, 40 + (uint32_t)s, 0.0f, 1.0f);
        ck_assert_msg(clae_model_train_step(m, x, 16, &loss) == CLAE_OK, "%s", clae_last_error());
    }
    ck_assert(clae_model_tensor_get(m, "layers.0.weight", w, nw) == CLAE_OK);
    float a[16 * 12];
    ck_assert(clae_buf_read(m->rt, m->net.train.val[1], 0, a, 16 * 12) == CLAE_OK);
    *act1_nan = 1;
    for (int k = 0; k < 16 * 12; k++) *act1_nan &= isnan(a[k]) != 0;
    clae_model_destroy(m);
}

START_TEST(test_poison_mode)
{
    clae_runtime *rt = test_rt(_i);
    float plain[12 * 30], poisoned[12 * 30];
    int nan_plain, nan_poisoned;
    train_steps_with_plan_env(rt, NULL, plain, 12 * 30, &nan_plain);
    train_steps_with_plan_env(rt, "poison", poisoned, 12 * 30, &nan_poisoned);
    ck_assert_msg(!nan_plain, "without poison the last activation is still there");
    ck_assert_msg(nan_poisoned, "CLAE_PLAN=poison left act.1 as it was after its last use");
    ck_assert_msg(memcmp(plain, poisoned, sizeof plain) == 0, "poisoning changed the weights: a read past a lifetime");
}
END_TEST

START_TEST(test_plan_overflow_refused)
{
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "1000000000,1000000000,1000000000"), CLAE_OK);
    c.batch = 1;
    clae_model *m = NULL;
    ck_assert_int_eq(clae_model_create_ex(test_rt_ref(), &c, CLAE_MODEL_PLAN_ONLY, &m), CLAE_ERR_DEVICE_MEM);
    ck_assert_ptr_nonnull(strstr(clae_last_error(), "overflow"));
    ck_assert_ptr_null(m);
}
END_TEST

Suite *suite_plan(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("planner");
    tcase_add_test(tc, test_checker_catches_overlap);
    tcase_add_test(tc, test_planner_random_lifetimes);
    tcase_add_test(tc, test_planning_is_thread_safe);
    tcase_add_test(tc, test_plan_overflow_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("models");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_dense_plans_never_overlap, 0, (int)(sizeof plan_cases / sizeof plan_cases[0]));
    tcase_add_test(tc, test_memory_target_deep_ae);
    tcase_add_test(tc, test_plan_on_off_bit_identical);
    tcase_add_loop_test(tc, test_poison_mode, 0, 2);
    tcase_add_test(tc, test_inference_only_model);
    tcase_add_test(tc, test_plan_too_big_fails_cleanly);
    suite_add_tcase(s, tc);
    return s;
}
