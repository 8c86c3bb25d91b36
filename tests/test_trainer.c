/* test_trainer.c — clae_model_train, the one training loop: the same weights as a hand loop over the same
 * batches in every batch order, exact stop and resume, divergence named by its step, checkpoint cadence. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/model_internal.h"
#include "test_util.h"

#define ROWS 70 /* at batch 16: 5 steps per epoch, the last of 6 rows */
#define COLS 20
#define BATCH 16
#define SPE 5

static float data_x[ROWS * COLS];

static clae_dataset make_data(void)
{
    test_fill_uniform(data_x, ROWS * COLS, 11, 0.0f, 1.0f);
    clae_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.rows = ROWS;
    ds.cols = COLS;
    ds.x = data_x;
    snprintf(ds.path, sizeof ds.path, "%s", "trainer-data");
    return ds;
}

/* Masking noise keyed by the row ids: a wrong id anywhere changes the weights. */
static void small_config(clae_model_config *c)
{
    clae_model_config_default(c);
    ck_assert_int_eq(clae_model_config_set_layers(c, "20,8,4"), CLAE_OK);
    c->batch = BATCH;
    c->noise = CLAE_NOISE_MASK;
    c->noise_level = 0.2f;
}

static clae_model *new_model(int p, const clae_model_config *c)
{
    clae_model *m = NULL;
    ck_assert_msg(clae_model_create(test_rt(p), c, &m) == CLAE_OK, "%s", clae_last_error());
    return m;
}

/* Every layer's W and b: bit-identical (tol 0) or within tol. */
static void assert_weights(clae_model *a, clae_model *b, double tol, const char *what)
{
    clae_model_config c;
    clae_model_get_config(a, &c);
    for (int l = 0; l < c.n_layers; l++) {
        size_t nw = (size_t)c.sizes[l] * (size_t)c.sizes[l + 1], nb = (size_t)c.sizes[l + 1];
        float *wa = malloc((nw + nb) * sizeof *wa), *wb = malloc((nw + nb) * sizeof *wb);
        ck_assert_int_eq(clae_model_get_layer(a, l, wa, wa + nw), CLAE_OK);
        ck_assert_int_eq(clae_model_get_layer(b, l, wb, wb + nw), CLAE_OK);
        if (tol == 0.0)
            ck_assert_msg(memcmp(wa, wb, (nw + nb) * sizeof *wa) == 0, "%s: layer %d differs", what, l);
        else
            ck_assert_allclose(wb, wa, nw + nb, tol, tol);
        free(wa);
        free(wb);
    }
}

/* What the trainer promises, written out: epoch e's rows in the order's
 * sequence, batch by batch, each with its data-set row ids. */
static void hand_loop(clae_model *m, const clae_dataset *ds, clae_batch_order order, int epochs, uint64_t seed)
{
    size_t perm[ROWS], idx[BATCH];
    uint32_t ids[BATCH];
    float xb[BATCH * COLS];
    uint64_t t = 0;
    for (int e = 0; e < epochs; e++) {
        if (order == CLAE_BATCHES_SHUFFLED) clae_shuffle_order(ROWS, seed, (uint32_t)e, perm);
        else
            for (size_t k = 0; k < ROWS; k++) perm[k] = k;
        for (size_t s = 0; s < SPE; s++, t++) {
            size_t n = order == CLAE_BATCHES_WRAP ? BATCH : (ROWS - s * BATCH < BATCH ? ROWS - s * BATCH : BATCH);
            for (size_t k = 0; k < n; k++) {
                idx[k] = order == CLAE_BATCHES_WRAP ? (size_t)((t * BATCH + k) % ROWS) : perm[s * BATCH + k];
                ids[k] = (uint32_t)idx[k];
            }
            ck_assert_int_eq(clae_dataset_gather(ds, idx, n, xb), CLAE_OK);
            float loss;
            ck_assert_msg(clae_model_train_step_rows(m, xb, ids, n, &loss) == CLAE_OK, "%s", clae_last_error());
        }
    }
}

/* _i: runtime (cpu-ref, OpenCL) × batch order. */
START_TEST(test_trainer_equals_hand_loop)
{
    const int p = _i / 3;
    const clae_batch_order order = (clae_batch_order)(_i % 3);
    clae_dataset ds = make_data();
    clae_model_config c;
    small_config(&c);
    clae_model *hand = new_model(p, &c), *tr = new_model(p, &c);
    hand_loop(hand, &ds, order, 2, c.seed);

    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.epochs = 2;
    o.order = order;
    clae_train_report rep;
    ck_assert_msg(clae_model_train(tr, &ds, &o, &rep) == CLAE_OK, "%s", clae_last_error());
    ck_assert_uint_eq(rep.steps, 2 * SPE);
    ck_assert_uint_eq(rep.steps_per_epoch, SPE);
    ck_assert_uint_eq(rep.rows_seen, order == CLAE_BATCHES_WRAP ? 2 * SPE * BATCH : 2 * ROWS);
    ck_assert(rep.position.epoch == 2 && rep.position.step_in_epoch == 0);
    ck_assert_uint_eq(clae_model_steps(tr), 2 * SPE);
    ck_assert(!rep.stopped && !rep.diverged && rep.checkpoint_steps == UINT64_MAX);
    /* The same calls in the same order: bit for bit, on either path. */
    assert_weights(hand, tr, 0.0, p ? "trainer vs hand loop (opencl)" : "trainer vs hand loop (cpu-ref)");
    clae_model_destroy(hand);
    clae_model_destroy(tr);
}
END_TEST

typedef struct stop_at {
    uint64_t n;
    int ends, lasts;
} stop_at;

static int stop_after_n(const clae_train_report *r, void *user)
{
    return r->steps >= ((stop_at *)user)->n;
}

static int count_epoch_end(const clae_train_report *r, void *user)
{
    stop_at *s = user;
    s->ends++;
    s->lasts += r->last;
    return 0;
}

/* A stop callback stops after exactly N steps, mid-epoch; resuming from the
 * checkpoint the stop wrote gives the weights of a run never stopped. */
START_TEST(test_stop_and_resume)
{
    const int p = _i;
    clae_dataset ds = make_data();
    clae_model_config c;
    small_config(&c);
    clae_model *whole = new_model(p, &c), *first = new_model(p, &c);
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.epochs = 3;
    ck_assert_msg(clae_model_train(whole, &ds, &o, NULL) == CLAE_OK, "%s", clae_last_error());

    const char *ck = test_tmp_path("stop.ckpt");
    stop_at s = {7, 0, 0};
    o.checkpoint_path = ck;
    o.on_step = stop_after_n;
    o.on_epoch_end = count_epoch_end;
    o.user = &s;
    clae_train_report rep;
    ck_assert_msg(clae_model_train(first, &ds, &o, &rep) == CLAE_OK, "%s", clae_last_error());
    ck_assert_uint_eq(rep.steps, 7);
    ck_assert_uint_eq(clae_model_steps(first), 7);
    ck_assert(rep.stopped);
    ck_assert(rep.position.epoch == 1 && rep.position.step_in_epoch == 2);
    /* Epoch 1 ended, then the stopped epoch 2 ended as the last. */
    ck_assert_int_eq(s.ends, 2);
    ck_assert_int_eq(s.lasts, 1);
    ck_assert_uint_eq(rep.checkpoint_steps, 7);
    /* max_steps stops at the same place. */
    clae_model *capped = new_model(p, &c);
    clae_trainer_options co;
    clae_trainer_options_default(&co);
    co.epochs = 3;
    co.max_steps = 7;
    clae_train_report crep;
    ck_assert_msg(clae_model_train(capped, &ds, &co, &crep) == CLAE_OK, "%s", clae_last_error());
    ck_assert_uint_eq(crep.steps, 7);
    ck_assert(!crep.stopped && crep.position.epoch == 1 && crep.position.step_in_epoch == 2);
    assert_weights(first, capped, 0.0, "max_steps vs stop callback");
    clae_model_destroy(capped);
    clae_model_destroy(first);

    clae_model *resumed = NULL;
    clae_train_position back;
    ck_assert_msg(clae_model_load(test_rt(p), ck, 0, 0, &resumed, NULL) == CLAE_OK, "%s", clae_last_error());
    ck_assert_msg(clae_model_restore_checkpoint(resumed, ck, &back) == CLAE_OK, "%s", clae_last_error());
    ck_assert(back.epoch == rep.position.epoch && back.step_in_epoch == rep.position.step_in_epoch);
    clae_trainer_options_default(&o);
    o.epochs = 3;
    o.start = back;
    ck_assert_msg(clae_model_train(resumed, &ds, &o, &rep) == CLAE_OK, "%s", clae_last_error());
    ck_assert_uint_eq(rep.steps, 3 * SPE - 7);
    ck_assert_uint_eq(clae_model_steps(resumed), 3 * SPE);
    assert_weights(whole, resumed, 0.0, p ? "resumed (opencl)" : "resumed (cpu-ref)");

    /* max_steps counts the resumed steps too: a model at 15 trains nothing more. */
    o.max_steps = 15;
    o.start.epoch = 0;
    o.start.step_in_epoch = 0;
    ck_assert_msg(clae_model_train(resumed, &ds, &o, &rep) == CLAE_OK, "%s", clae_last_error());
    ck_assert_uint_eq(rep.steps, 0);
    clae_model_destroy(whole);
    clae_model_destroy(resumed);
}
END_TEST

/* A learning rate far too large: CLAE_ERR_NUMERIC naming the step, no end
 * file, the last periodic checkpoint kept. _i 0: the trainer's divergence
 * bound; 1: no bound, so the step's own non-finite loss. */
START_TEST(test_divergence_is_numeric)
{
    clae_dataset ds = make_data();
    clae_model_config c;
    small_config(&c);
    c.optimizer = CLAE_OPT_SGD;
    c.loss = CLAE_LOSS_SSE;
    clae_model_config_set_activations(&c, CLAE_ACT_RELU, CLAE_ACT_LINEAR);
    c.lr = _i == 0 ? 50.0f : 1e30f;
    clae_model *m = new_model(0, &c);
    const char *ck = test_tmp_path("div.ckpt"), *out = test_tmp_path("div.st");
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.epochs = 20;
    o.checkpoint_path = ck;
    o.checkpoint_every = 1;
    o.model_path = out;
    if (_i == 1) o.diverge_factor = 0.0;
    clae_train_report rep;
    clae_status st = clae_model_train(m, &ds, &o, &rep);
    const char *msg = clae_last_error();
    ck_assert_msg(st == CLAE_ERR_NUMERIC, "got %s: %s", clae_status_string(st), msg);
    ck_assert(rep.diverged);
    ck_assert_msg(strstr(msg, "step") != NULL, "no step named in: %s", msg);
    if (_i == 0) {
        char want[64];
        snprintf(want, sizeof want, "at step %llu/%d of epoch %llu", (unsigned long long)rep.step_in_epoch + 1, SPE,
                 (unsigned long long)rep.epoch + 1);
        ck_assert_contains(msg, want);
        ck_assert_contains(msg, "diverged");
    } else {
        ck_assert_contains(msg, "not finite");
    }
    /* The failing step was applied, not counted; every good one was checkpointed. */
    ck_assert_uint_eq(clae_model_steps(m), rep.steps + 1);
    ck_assert_uint_ge(rep.steps, 1);
    ck_assert_uint_eq(rep.checkpoint_steps, rep.steps);
    ck_assert_msg(access(out, F_OK) != 0, "a diverged run wrote its model file");
    ck_assert_msg(access(ck, F_OK) == 0, "the last good checkpoint is gone");
    clae_model_destroy(m);
}
END_TEST

/* After step 2 every weight into hidden unit 0 becomes -inf: on data > 0 its relu passes 0 forward and 0
 * backward, so the loss stays finite while the weights are not. */
static int poison_unit0(const clae_train_report *r, void *user)
{
    if (r->steps != 2) return 0;
    clae_model *m = user;
    float w[8 * COLS];
    ck_assert_int_eq(clae_model_tensor_get(m, "layers.0.weight", w, 8 * COLS), CLAE_OK);
    for (int j = 0; j < COLS; j++) w[j] = -INFINITY;
    /* clae_model_tensor_set refuses non-finite values, so straight into the tensor's buffer. */
    for (int i = 0; i < m->plan.n; i++)
        if (strcmp(m->plan.tensors[i].name, "layers.0.weight") == 0)
            ck_assert_int_eq(clae_buf_write(m->rt, *m->plan_dst[i], 0, w, 8 * COLS), CLAE_OK);
    return 0;
}

/* A non-finite weight under a finite loss still stops training naming the step, writes no model, and keeps the
 * last good checkpoint. _i 0: periodic checkpoints, which refuse the weights; 1: none, so the epoch's check. */
START_TEST(test_nonfinite_weight_stops)
{
    clae_dataset ds = make_data();
    for (size_t k = 0; k < ROWS * COLS; k++) data_x[k] = 0.1f + 0.9f * data_x[k];
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "20,8"), CLAE_OK);
    c.batch = BATCH;
    c.optimizer = CLAE_OPT_SGD;
    c.loss = CLAE_LOSS_SSE;
    clae_model_config_set_activations(&c, CLAE_ACT_RELU, CLAE_ACT_LINEAR);
    clae_model *m = new_model(0, &c);
    const char *ck = test_tmp_path("nf.ckpt"), *out = test_tmp_path("nf.st");
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.epochs = 3;
    o.checkpoint_path = ck;
    o.checkpoint_every = _i == 0 ? 1 : 0;
    o.model_path = out;
    o.on_step = poison_unit0;
    o.user = m;
    clae_train_report rep;
    clae_status st = clae_model_train(m, &ds, &o, &rep);
    const char *msg = clae_last_error();
    ck_assert_msg(st == CLAE_ERR_NUMERIC, "got %s: %s", clae_status_string(st), msg);
    ck_assert(rep.diverged);
    ck_assert_msg(isfinite(rep.loss), "the loss %g was to stay finite", (double)rep.loss);
    ck_assert_contains(msg, "layers.0.weight");
    char want[96];
    if (_i == 0) snprintf(want, sizeof want, "after step 2/%d of epoch 1", SPE);
    else snprintf(want, sizeof want, "after step %d/%d of epoch 1", SPE, SPE);
    ck_assert_contains(msg, want);
    ck_assert_msg(access(out, F_OK) != 0, "a model with -inf weights was written");
    if (_i == 0) {
        ck_assert_uint_eq(rep.checkpoint_steps, 1); /* on_step poisons before step 2's checkpoint */
        clae_model *back = NULL;
        clae_train_position pos;
        ck_assert_msg(clae_model_load(test_rt_ref(), ck, 0, 0, &back, NULL) == CLAE_OK, "%s", clae_last_error());
        ck_assert_int_eq(clae_model_restore_checkpoint(back, ck, &pos), CLAE_OK);
        ck_assert_uint_eq(clae_model_steps(back), 1);
        clae_model_destroy(back);
    } else {
        ck_assert_msg(access(ck, F_OK) != 0, "a checkpoint with -inf weights was written");
    }
    clae_model_destroy(m);
}
END_TEST

typedef struct ck_watch {
    const char *ck, *out;
    long file_steps[32]; /* the checkpoint's step count seen by on_step after step k (-1: none) */
    int n, out_at_last;
} ck_watch;

static long file_steps(const char *path)
{
    if (access(path, F_OK) != 0) return -1;
    clae_model *m = NULL;
    ck_assert_msg(clae_model_load(test_rt_ref(), path, 0, 0, &m, NULL) == CLAE_OK, "%s", clae_last_error());
    long s = (long)clae_model_steps(m);
    clae_model_destroy(m);
    return s;
}

static int watch_step(const clae_train_report *r, void *user)
{
    ck_watch *w = user;
    ck_assert_int_lt(w->n, 32);
    w->file_steps[w->n++] = file_steps(w->ck);
    ck_assert_uint_eq(r->steps, (uint64_t)w->n);
    return 0;
}

static int watch_epoch_end(const clae_train_report *r, void *user)
{
    ck_watch *w = user;
    if (r->last) w->out_at_last = access(w->out, F_OK) == 0;
    return 0;
}

/* checkpoint_every 3 over 2 epochs of 5 steps: files after steps 3, 6 and 9,
 * each written after that step's on_step, then the end one after step 10. */
START_TEST(test_checkpoint_every)
{
    clae_dataset ds = make_data();
    clae_model_config c;
    small_config(&c);
    clae_model *m = new_model(0, &c);
    ck_watch w;
    memset(&w, 0, sizeof w);
    w.ck = test_tmp_path("every.ckpt");
    w.out = test_tmp_path("every.st");
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.epochs = 2;
    o.checkpoint_path = w.ck;
    o.checkpoint_every = 3;
    o.model_path = w.out;
    o.on_step = watch_step;
    o.on_epoch_end = watch_epoch_end;
    o.user = &w;
    clae_train_report rep;
    ck_assert_msg(clae_model_train(m, &ds, &o, &rep) == CLAE_OK, "%s", clae_last_error());
    const long want[10] = {-1, -1, -1, 3, 3, 3, 6, 6, 6, 9};
    ck_assert_int_eq(w.n, 10);
    for (int k = 0; k < 10; k++)
        ck_assert_msg(w.file_steps[k] == want[k], "after step %d the checkpoint held %ld steps, expected %ld", k + 1,
                      w.file_steps[k], want[k]);
    ck_assert_uint_eq(rep.checkpoint_steps, 10);
    ck_assert_int_eq(file_steps(w.ck), 10);
    ck_assert_msg(w.out_at_last, "the model file was not written before the last on_epoch_end");
    clae_model *back = NULL;
    clae_train_position pos;
    ck_assert_int_eq(clae_model_load(test_rt_ref(), w.ck, 0, 0, &back, NULL), CLAE_OK);
    ck_assert_int_eq(clae_model_restore_checkpoint(back, w.ck, &pos), CLAE_OK);
    ck_assert(pos.epoch == 2 && pos.step_in_epoch == 0);
    assert_weights(m, back, 0.0, "end checkpoint");
    clae_model_destroy(back);
    clae_model_destroy(m);
}
END_TEST

START_TEST(test_bad_options)
{
    clae_dataset ds = make_data();
    clae_model_config c;
    small_config(&c);
    clae_model *m = new_model(0, &c);
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    ck_assert_int_eq(clae_model_train(NULL, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_model_train(m, &ds, NULL, NULL), CLAE_ERR_ARG);
    o.start.step_in_epoch = SPE;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "5 steps per epoch");
    clae_trainer_options_default(&o);
    o.epochs = UINT64_MAX;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "never stop");
    clae_trainer_options_default(&o);
    o.checkpoint_every = 2;
    ck_assert_int_eq(clae_model_train(m, &ds, &o, NULL), CLAE_ERR_ARG);
    ck_assert_contains(clae_last_error(), "checkpoint_path");
    clae_dataset narrow = ds;
    narrow.cols = COLS - 1;
    clae_trainer_options_default(&o);
    ck_assert_int_eq(clae_model_train(m, &narrow, &o, NULL), CLAE_ERR_SHAPE);
    ck_assert_uint_eq(clae_model_steps(m), 0);
    clae_model_destroy(m);
}
END_TEST

Suite *suite_trainer(void)
{
    Suite *s = suite_create("trainer");
    TCase *tc = tcase_create("loop");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_trainer_equals_hand_loop, 0, 6);
    tcase_add_test(tc, test_bad_options);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_add_checked_fixture(tc, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_stop_and_resume, 0, 2);
    tcase_add_loop_test(tc, test_divergence_is_numeric, 0, 2);
    tcase_add_loop_test(tc, test_nonfinite_weight_stops, 0, 2);
    tcase_add_test(tc, test_checkpoint_every);
    suite_add_tcase(s, tc);
    return s;
}
