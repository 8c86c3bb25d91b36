/* test_parallel.c — data-parallel training: a batch split across replica models (threads) or shards (simulated
 * processes) trains the single model's weights within float rounding, the parts stay bit-identical, refusals, stops. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/model_internal.h"
#include "test_util.h"

#define ROWS 69 /* at batch 16: 5 steps per epoch, 8 + 8 rows, the last of 5 rows split unevenly, 2 + 3 */
#define COLS 20
#define BATCH 16
#define EPOCHS 3

static float data_x[ROWS * COLS];

static clae_dataset make_data(size_t rows)
{
    test_fill_uniform(data_x, ROWS * COLS, 23, 0.0f, 1.0f);
    clae_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.rows = rows;
    ds.cols = COLS;
    ds.x = data_x;
    snprintf(ds.path, sizeof ds.path, "%s", "parallel-data");
    return ds;
}

/* Second runtimes of each kind, so two parts never share one (kept for the binary, as test_rt_* are). */
static clae_runtime *second_rt(int cl)
{
    static clae_runtime *rt[2];
    if (!rt[cl]) {
        clae_status s = clae_runtime_open(cl ? test_device() : "cpu-ref", &rt[cl]);
        ck_assert_msg(s == CLAE_OK, "%s", clae_last_error());
    }
    return rt[cl];
}

typedef struct variant {
    clae_optimizer opt;
    int noise, l2;
} variant;

static void config(clae_model_config *c, const variant *v)
{
    clae_model_config_default(c);
    ck_assert_int_eq(clae_model_config_set_layers(c, "20,8,4"), CLAE_OK);
    c->batch = BATCH;
    c->seed = 7;
    c->optimizer = v->opt;
    if (v->opt == CLAE_OPT_SGD) c->lr = 0.5f;
    if (v->noise) {
        c->noise = CLAE_NOISE_MASK;
        c->noise_level = 0.25f;
    }
    if (v->l2) {
        c->sparsity = CLAE_SPARSITY_L2;
        c->sparsity_lambda = 1e-2f;
    }
}

static clae_model *new_model(clae_runtime *rt, const clae_model_config *c)
{
    clae_model *m = NULL;
    ck_assert_msg(clae_model_create(rt, c, &m) == CLAE_OK, "%s", clae_last_error());
    return m;
}

/* Every layer's W and b, concatenated (n floats). */
static float *weights(clae_model *m, size_t *n)
{
    clae_model_config c;
    clae_model_get_config(m, &c);
    size_t total = 0;
    for (int l = 0; l < c.n_layers; l++) total += (size_t)c.sizes[l] * (size_t)c.sizes[l + 1] + (size_t)c.sizes[l + 1];
    float *w = malloc(total * sizeof *w), *p = w;
    for (int l = 0; l < c.n_layers; l++) {
        size_t nw = (size_t)c.sizes[l] * (size_t)c.sizes[l + 1];
        ck_assert_int_eq(clae_model_get_layer(m, l, p, p + nw), CLAE_OK);
        p += nw + (size_t)c.sizes[l + 1];
    }
    *n = total;
    return w;
}

/* The largest |a − b| / (atol + rtol·|b|), and the largest absolute difference: <= 1 passes. */
static double worst_ratio(const float *a, const float *b, size_t n, double atol, double rtol, double *maxabs)
{
    double worst = 0.0;
    *maxabs = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > *maxabs) *maxabs = d;
        double r = d / (atol + rtol * fabs((double)b[i]));
        if (!(r <= worst)) worst = r;
    }
    return worst;
}

/* Only float rounding differs with the split (the parts' gradient sums, then their weighted sum): measured at most
 * 1.2e-7 absolute over 3 epochs, every pair of devices and variant alike. Weighting the uneven 2 + 3 split of
 * the last batch by 1/2 each instead of 2/5 and 3/5 moves weights by 1.7e-3 (adam) to 0.15 (sgd). */
#define ATOL 1e-6
#define RTOL 1e-5

static void assert_close(clae_model *got, clae_model *ref, const char *what)
{
    size_t n, n2;
    float *a = weights(got, &n), *b = weights(ref, &n2);
    ck_assert_uint_eq(n, n2);
    double maxabs, w = worst_ratio(a, b, n, ATOL, RTOL, &maxabs);
    printf("parallel: %-44s max |dw| %.3g (ratio to tolerance %.3g)\n", what, maxabs, w);
    ck_assert_msg(w <= 1.0, "%s: weights differ by %.3g (ratio %.3g)", what, maxabs, w);
    free(a);
    free(b);
}

static void assert_same(clae_model *a, clae_model *b, const char *what)
{
    size_t n, n2;
    float *x = weights(a, &n), *y = weights(b, &n2);
    ck_assert_uint_eq(n, n2);
    ck_assert_msg(memcmp(x, y, n * sizeof *x) == 0, "%s: not bit-identical", what);
    free(x);
    free(y);
}

/* Pairs of runtimes {m's, the replica's}: 0 cpu-ref + cpu-ref, 1 PoCL + cpu-ref, 2 PoCL + PoCL. */
static void pair(int k, clae_runtime **a, clae_runtime **b)
{
    *a = k == 0 ? test_rt_ref() : test_rt_cl();
    *b = k == 2 ? second_rt(1) : k == 1 ? test_rt_ref() : second_rt(0);
}

static const variant variants[] = {
    {CLAE_OPT_ADAM, 0, 0}, {CLAE_OPT_ADAM, 1, 1}, {CLAE_OPT_SGD, 1, 0}, {CLAE_OPT_SGD, 0, 1},
};
#define N_VARIANTS (int)(sizeof variants / sizeof variants[0])

/* _i: pair i / N_VARIANTS, variant i % N_VARIANTS. */
START_TEST(test_replicas_equal_single)
{
    const int k = _i / N_VARIANTS;
    const variant *v = &variants[_i % N_VARIANTS];
    clae_runtime *ra, *rb;
    pair(k, &ra, &rb);
    clae_model_config c;
    config(&c, v);
    clae_dataset ds = make_data(ROWS);
    clae_model *single = new_model(ra, &c), *m = new_model(ra, &c), *rep = new_model(rb, &c);
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.epochs = EPOCHS;
    clae_train_report r1, r2;
    ck_assert_msg(clae_model_train(single, &ds, &o, &r1) == CLAE_OK, "%s", clae_last_error());
    o.replicas = &rep;
    o.n_replicas = 1;
    ck_assert_msg(clae_model_train(m, &ds, &o, &r2) == CLAE_OK, "%s", clae_last_error());
    char what[96];
    snprintf(what, sizeof what, "%s %s%s%s vs single", k == 0 ? "ref+ref" : k == 1 ? "pocl+ref" : "pocl+pocl",
             v->opt == CLAE_OPT_ADAM ? "adam" : "sgd", v->noise ? " mask" : "", v->l2 ? " l2" : "");
    assert_close(m, single, what);
    ck_assert_uint_eq(clae_model_steps(m), clae_model_steps(single));
    ck_assert_uint_eq(clae_model_steps(rep), clae_model_steps(single));
    const double dl = fabs(r2.epoch_loss - r1.epoch_loss), dp = fabs((double)r2.penalty - (double)r1.penalty);
    printf("parallel: %-44s epoch loss %.9g vs %.9g (|d| %.3g), penalty |d| %.3g\n", what, r2.epoch_loss,
           r1.epoch_loss, dl, dp);
    ck_assert_msg(dl <= 1e-6 + 1e-5 * fabs(r1.epoch_loss), "epoch loss %.9g vs %.9g", r2.epoch_loss, r1.epoch_loss);
    ck_assert_msg(dp <= 1e-7 + 1e-4 * fabs((double)r1.penalty), "penalty %g vs %g", (double)r2.penalty,
                  (double)r1.penalty);
    if (v->l2) ck_assert_msg(r1.penalty > 0.0f, "the l2 penalty is part of the loss");
    /* The replica took the same summed gradient and the same update: on devices of one kind, the same bits. */
    if (k != 1) assert_same(m, rep, "replica");
    else assert_close(rep, m, "pocl+ref replica vs model");
    clae_model_destroy(single);
    clae_model_destroy(m);
    clae_model_destroy(rep);
}
END_TEST

/* Three parts (m and two replicas) on cpu-ref: 16 rows split 5 + 5 + 6, the last batch 2 + 2 + 2. */
START_TEST(test_three_parts)
{
    variant v = {CLAE_OPT_ADAM, 1, 0};
    clae_model_config c;
    config(&c, &v);
    clae_dataset ds = make_data(ROWS);
    clae_runtime *rt3 = NULL;
    ck_assert_int_eq(clae_runtime_open("cpu-ref", &rt3), CLAE_OK);
    clae_model *single = new_model(test_rt_ref(), &c), *m = new_model(test_rt_ref(), &c);
    clae_model *reps[2] = {new_model(second_rt(0), &c), new_model(rt3, &c)};
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.epochs = EPOCHS;
    ck_assert_int_eq(clae_model_train(single, &ds, &o, NULL), CLAE_OK);
    o.replicas = reps;
    o.n_replicas = 2;
    ck_assert_msg(clae_model_train(m, &ds, &o, NULL) == CLAE_OK, "%s", clae_last_error());
    assert_close(m, single, "ref x3 adam mask vs single");
    assert_same(m, reps[0], "replica 1");
    assert_same(m, reps[1], "replica 2");
    clae_model_destroy(single);
    clae_model_destroy(m);
    clae_model_destroy(reps[0]);
    clae_model_destroy(reps[1]);
    clae_runtime_close(rt3);
}
END_TEST

/* ---- shards: two simulated processes, the reduce an allreduce by barrier and shared sum ---------------------- */

typedef struct allreduce {
    pthread_barrier_t bar;
    float *slot[2];
    size_t cap;
    int calls[2];
} allreduce;

typedef struct shard {
    allreduce *ar;
    int index;
    clae_model *m;
    const clae_dataset *ds;
    clae_status st;
    char err[CLAE_ERROR_MAX];
    clae_train_report r;
} shard;

/* What MPI_Allreduce(MPI_SUM) on two processes does: both contribute, both get slot 0 + slot 1 in float. */
static clae_status sum_two(float *values, size_t n, void *user)
{
    shard *s = user;
    allreduce *ar = s->ar;
    if (n > ar->cap) return CLAE_ERR_ARG;
    memcpy(ar->slot[s->index], values, n * sizeof *values);
    ar->calls[s->index]++;
    pthread_barrier_wait(&ar->bar);
    for (size_t i = 0; i < n; i++) values[i] = ar->slot[0][i] + ar->slot[1][i];
    pthread_barrier_wait(&ar->bar);
    return CLAE_OK;
}

static void *shard_main(void *arg)
{
    shard *s = arg;
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.epochs = EPOCHS;
    o.shard_index = s->index;
    o.shard_count = 2;
    o.reduce = sum_two;
    o.reduce_user = s;
    s->st = clae_model_train(s->m, s->ds, &o, &s->r);
    snprintf(s->err, sizeof s->err, "%s", clae_last_error());
    return NULL;
}

START_TEST(test_shards_equal_single)
{
    const variant *v = &variants[_i];
    clae_model_config c;
    config(&c, v);
    clae_dataset ds = make_data(ROWS);
    clae_model *single = new_model(test_rt_ref(), &c);
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.epochs = EPOCHS;
    clae_train_report r1;
    ck_assert_int_eq(clae_model_train(single, &ds, &o, &r1), CLAE_OK);
    allreduce ar;
    ar.cap = 1 << 16;
    ar.slot[0] = malloc(ar.cap * sizeof(float));
    ar.slot[1] = malloc(ar.cap * sizeof(float));
    ar.calls[0] = ar.calls[1] = 0;
    pthread_barrier_init(&ar.bar, NULL, 2);
    shard sh[2] = {{&ar, 0, new_model(test_rt_ref(), &c), &ds, CLAE_OK, "", {0}},
                   {&ar, 1, new_model(second_rt(0), &c), &ds, CLAE_OK, "", {0}}};
    /* Shard 1 starts from other weights: the start makes them shard 0's. */
    float W[8 * 20], b[8];
    ck_assert_int_eq(clae_model_get_layer(sh[1].m, 0, W, b), CLAE_OK);
    for (int i = 0; i < 8 * 20; i++) W[i] = -W[i];
    ck_assert_int_eq(clae_model_set_layer(sh[1].m, 0, W, b), CLAE_OK);
    pthread_t t[2];
    for (int k = 0; k < 2; k++) ck_assert_int_eq(pthread_create(&t[k], NULL, shard_main, &sh[k]), 0);
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < 2; k++) ck_assert_msg(sh[k].st == CLAE_OK, "shard %d: %s", k, sh[k].err);
    ck_assert_int_eq(ar.calls[0], ar.calls[1]);
    char what[96];
    snprintf(what, sizeof what, "2 shards %s%s%s vs single", v->opt == CLAE_OPT_ADAM ? "adam" : "sgd",
             v->noise ? " mask" : "", v->l2 ? " l2" : "");
    assert_close(sh[0].m, single, what);
    assert_same(sh[0].m, sh[1].m, "shards");
    /* Both processes saw the same whole-batch losses. */
    ck_assert(sh[0].r.epoch_loss == sh[1].r.epoch_loss);
    ck_assert_msg(fabs(sh[0].r.epoch_loss - r1.epoch_loss) <= 1e-6 + 1e-5 * fabs(r1.epoch_loss), "loss %.9g vs %.9g",
                  sh[0].r.epoch_loss, r1.epoch_loss);
    pthread_barrier_destroy(&ar.bar);
    free(ar.slot[0]);
    free(ar.slot[1]);
    clae_model_destroy(single);
    clae_model_destroy(sh[0].m);
    clae_model_destroy(sh[1].m);
}
END_TEST

/* ---- refusals -------------------------------------------------------------------------------------------- */

static clae_status never_called(float *values, size_t n, void *user)
{
    (void)values;
    (void)n;
    (void)user;
    return CLAE_ERR_ARG;
}

/* A net the split cannot serve, named by its spec, and the word the message must contain. */
static void expect_refused(const char *spec, clae_loss loss, const char *word)
{
    clae_dataset ds = make_data(ROWS);
    clae_model *m = test_model_arch(test_rt_ref(), spec, loss, BATCH, 7, 0.0f, 0);
    clae_model *rep = test_model_arch(second_rt(0), spec, loss, BATCH, 7, 0.0f, 0);
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.replicas = &rep;
    o.n_replicas = 1;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), word);
    clae_trainer_options_default(&o);
    o.shard_count = 2;
    o.reduce = never_called;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), word);
    ck_assert_uint_eq(clae_model_steps(m), 0);
    clae_model_destroy(m);
    clae_model_destroy(rep);
}

START_TEST(test_refusals)
{
    expect_refused("20,dense:8:sigmoid,dense:4:sigmoid@code+kl,dense:8:sigmoid,dense:20:sigmoid", CLAE_LOSS_BCE,
                   "KL penalty is on the batch's mean");
    expect_refused("20,dense:8:tanh,dense:4:tanh@code+h2o,dense:8:tanh,dense:20:sigmoid", CLAE_LOSS_BCE, "h2o");
    expect_refused("20,dense:8:tanh,dense:4:linear,adv:5@code,dense:8:tanh,dense:20:sigmoid", CLAE_LOSS_BCE,
                   "discriminator");
    /* wta from the configuration's field. */
    variant v = {CLAE_OPT_ADAM, 0, 0};
    clae_model_config c;
    config(&c, &v);
    c.wta_rate = 0.5f;
    clae_dataset ds = make_data(ROWS);
    clae_model *m = new_model(test_rt_ref(), &c), *rep = new_model(second_rt(0), &c);
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.replicas = &rep;
    o.n_replicas = 1;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "winner-take-all");
    clae_model_destroy(m);
    clae_model_destroy(rep);
}
END_TEST

START_TEST(test_bad_splits)
{
    variant v = {CLAE_OPT_ADAM, 0, 0};
    clae_model_config c, other;
    config(&c, &v);
    clae_model *m = new_model(test_rt_ref(), &c), *rep = new_model(second_rt(0), &c);
    clae_trainer_options o;
    /* 65 rows at batch 16: the last batch has 1 row, which 2 parts cannot share. */
    clae_dataset ds = make_data(65);
    clae_trainer_options_default(&o);
    o.replicas = &rep;
    o.n_replicas = 1;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "a batch of 1 rows cannot be split into 2 parts");
    /* The wrapping order has full batches only. */
    o.order = CLAE_BATCHES_WRAP;
    o.max_steps = 1;
    ck_assert_msg(clae_model_train(m, &ds, &o, NULL) == CLAE_OK, "%s", clae_last_error());
    ds = make_data(ROWS);
    clae_trainer_options_default(&o);
    o.shard_count = 17;
    o.shard_index = 3;
    o.reduce = never_called;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "cannot be split into 17 parts");
    o.shard_index = 17;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "shard 17 of 17");
    clae_trainer_options_default(&o);
    o.shard_count = 2;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "without a reduce");
    o.reduce = never_called;
    o.replicas = &rep;
    o.n_replicas = 1;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "not supported");
    /* Replicas: another configuration, the model itself, a shared runtime. */
    clae_trainer_options_default(&o);
    o.n_replicas = 1;
    other = c;
    other.lr = 2e-3f;
    clae_model *diff = new_model(second_rt(0), &other), *same_rt = new_model(test_rt_ref(), &c);
    o.replicas = &diff;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "optimizer rates");
    o.replicas = &m;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "the model itself");
    o.replicas = &same_rt;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "runtime");
    ck_assert_uint_eq(clae_model_steps(m), 1);
    clae_model_destroy(m);
    clae_model_destroy(rep);
    clae_model_destroy(diff);
    clae_model_destroy(same_rt);
}
END_TEST

/* ---- a part that fails stops them all ---------------------------------------------------------------------- */

typedef struct watched {
    clae_model *m;
    clae_model *rep;
    const clae_dataset *ds;
    clae_status st;
    char err[CLAE_ERROR_MAX];
    volatile int done;
    pthread_mutex_t mu;
} watched;

static void *watched_main(void *arg)
{
    watched *w = arg;
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.epochs = EPOCHS;
    o.replicas = &w->rep;
    o.n_replicas = 1;
    clae_status st = clae_model_train(w->m, w->ds, &o, NULL);
    pthread_mutex_lock(&w->mu);
    w->st = st;
    snprintf(w->err, sizeof w->err, "%s", clae_last_error());
    w->done = 1;
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Trains in a thread and fails the test (instead of hanging it: Check's timeout needs fork) after 30 s. */
static clae_status train_watched(clae_model *m, clae_model *rep, char *err)
{
    clae_dataset ds = make_data(ROWS);
    watched w = {m, rep, &ds, CLAE_OK, "", 0, PTHREAD_MUTEX_INITIALIZER};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, watched_main, &w), 0);
    for (int k = 0; k < 3000; k++) {
        pthread_mutex_lock(&w.mu);
        int done = w.done;
        pthread_mutex_unlock(&w.mu);
        if (done) break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&w.mu);
    int done = w.done;
    pthread_mutex_unlock(&w.mu);
    ck_assert_msg(done, "data-parallel training hung after a part failed");
    pthread_join(t, NULL);
    snprintf(err, CLAE_ERROR_MAX, "%s", w.err);
    return w.st;
}

/* _i: {the replica, the model} fails, at {its first bucket, its second}, of the third step. */
START_TEST(test_failure_stops_all)
{
    const int part = _i / 2 ? 0 : 1, bucket = _i % 2;
    variant v = {CLAE_OPT_ADAM, 1, 0};
    clae_model_config c;
    config(&c, &v);
    clae_model *m = new_model(test_rt_cl(), &c), *rep = new_model(test_rt_ref(), &c);
    char err[CLAE_ERROR_MAX];
    clae_parallel_inject_failure(part, 2, bucket);
    clae_status st = train_watched(m, rep, err);
    clae_parallel_inject_failure(-1, 0, 0);
    ck_assert_int_eq(st, CLAE_ERR_OPENCL);
    ck_assert_contains(err, "injected failure");
    ck_assert_contains(err, part ? "part 1 (a replica)" : "part 0 (the model)");
    /* Nothing is left stuck: the same models train again (the replica made m's copy anew). */
    ck_assert_msg(train_watched(m, rep, err) == CLAE_OK, "%s", err);
    assert_close(rep, m, "after a failure, pocl+ref replica vs model");
    clae_model_destroy(m);
    clae_model_destroy(rep);
}
END_TEST

/* A NaN in one row of the data makes that part's loss NaN, and the whole batch's through the sum: every part
 * stops with CLAE_ERR_NUMERIC, none waits for the others. */
START_TEST(test_nan_stops_all)
{
    variant v = {CLAE_OPT_SGD, 0, 0};
    clae_model_config c;
    config(&c, &v);
    clae_model *m = new_model(test_rt_ref(), &c), *rep = new_model(second_rt(0), &c);
    clae_dataset ds = make_data(ROWS);
    data_x[41 * COLS + 3] = NAN;
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.replicas = &rep;
    o.n_replicas = 1;
    clae_train_report r;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, &r), CLAE_ERR_NUMERIC);
    ck_assert_contains(clae_last_error(), "NaN");
    ck_assert_int_eq(r.diverged, 1);
    clae_model_destroy(m);
    clae_model_destroy(rep);
    make_data(ROWS);
}
END_TEST

Suite *suite_parallel(void)
{
    Suite *s = suite_create("parallel");
    TCase *tc = tcase_create("replicas");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_replicas_equal_single, 0, 3 * N_VARIANTS);
    tcase_add_test(tc, test_three_parts);
    suite_add_tcase(s, tc);
    tc = tcase_create("shards");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_shards_equal_single, 0, N_VARIANTS);
    suite_add_tcase(s, tc);
    tc = tcase_create("refusals");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_bad_splits);
    suite_add_tcase(s, tc);
    tc = tcase_create("failures");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_failure_stops_all, 0, 4);
    tcase_add_test(tc, test_nan_stops_all);
    suite_add_tcase(s, tc);
    return s;
}
