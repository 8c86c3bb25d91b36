/* trainer.c — the one training loop (clae_model_train): batch order, the steps, divergence, periodic and
 * end checkpoints, and the callbacks through which programs show progress, test and stop. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/model_internal.h"
#include "runtime/error.h"

void clae_trainer_options_default(clae_trainer_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->epochs = 1;
    o->order = CLAE_BATCHES_SHUFFLED;
    /* Training only ever makes the loss smaller; a thousandfold rise (plus a
     * floor for a first loss near 0) is a run gone wrong, not noise. */
    o->diverge_factor = 1e3;
    o->diverge_floor = 1e-3;
    o->shard_count = 1;
}

double clae_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The position after `done` steps of epoch e, in the form a checkpoint
 * stores: a finished epoch is the start of the next one. */
static clae_train_position position_after(uint64_t e, uint64_t done, uint64_t steps_per_epoch)
{
    clae_train_position p;
    p.epoch = done >= steps_per_epoch ? e + 1 : e;
    p.step_in_epoch = done >= steps_per_epoch ? 0 : done;
    return p;
}

typedef struct trainer {
    clae_model *m;
    const clae_dataset *ds;
    const clae_trainer_options *o;
    clae_train_report *r;
    size_t batch;
    int saved; /* the end files hold the current weights */
} trainer;

/* The end files, once: the checkpoint unless the last periodic one already
 * holds these steps, then the model file. */
static clae_status write_end(trainer *t, clae_train_position p)
{
    if (t->saved) return CLAE_OK;
    const uint64_t steps = clae_model_steps(t->m);
    if (t->o->checkpoint_path && t->r->checkpoint_steps != steps) {
        clae_status st = clae_model_save_checkpoint(t->m, t->o->checkpoint_path, &p, t->o->scaling);
        if (st != CLAE_OK) return st;
        t->r->checkpoint_steps = steps;
    }
    if (t->o->model_path) {
        clae_status st = clae_model_save(t->m, t->o->model_path, t->o->scaling);
        if (st != CLAE_OK) return st;
    }
    t->saved = 1;
    return CLAE_OK;
}

static clae_status check_options(clae_model *m, const clae_dataset *ds, const clae_trainer_options *o,
                                 size_t batch, uint64_t steps_per_epoch)
{
    clae_status st = clae_model_check_data(m, ds);
    if (st != CLAE_OK) return st;
    if (ds->rows == 0) return clae_fail(CLAE_ERR_ARG, "clae_model_train: %s has no rows to train on", ds->path);
    if (o->order != CLAE_BATCHES_SHUFFLED && o->order != CLAE_BATCHES_IN_ORDER && o->order != CLAE_BATCHES_WRAP)
        return clae_fail(CLAE_ERR_ARG, "clae_model_train: order %d; expected a clae_batch_order", (int)o->order);
    if (o->start.step_in_epoch >= steps_per_epoch)
        return clae_fail(CLAE_ERR_ARG,
                         "clae_model_train: start: step %llu of an epoch, but %zu rows at batch %zu make %llu steps "
                         "per epoch", (unsigned long long)o->start.step_in_epoch, ds->rows, batch,
                         (unsigned long long)steps_per_epoch);
    if (o->epochs == UINT64_MAX && !o->max_steps && !o->on_epoch_begin && !o->on_step && !o->on_epoch_end)
        return clae_fail(CLAE_ERR_ARG, "clae_model_train: epochs unlimited without max_steps or a callback: "
                                       "training would never stop");
    if (o->checkpoint_every && !o->checkpoint_path)
        return clae_fail(CLAE_ERR_ARG, "clae_model_train: checkpoint_every %llu without a checkpoint_path",
                         (unsigned long long)o->checkpoint_every);
    if (!(o->diverge_factor >= 0.0) || !(o->diverge_floor >= 0.0))
        return clae_fail(CLAE_ERR_ARG, "clae_model_train: diverge_factor %g, diverge_floor %g; expected >= 0",
                         o->diverge_factor, o->diverge_floor);
    return CLAE_OK;
}

clae_status clae_model_train(clae_model *m, const clae_dataset *train, const clae_trainer_options *o,
                             clae_train_report *out)
{
    clae_train_report local;
    clae_train_report *r = out ? out : &local;
    memset(r, 0, sizeof *r);
    r->checkpoint_steps = UINT64_MAX;
    r->epoch_loss = NAN;
    r->epoch_disc_loss = r->epoch_disc_accuracy = r->epoch_gen_loss = r->epoch_fooled = NAN;
    if (!m || !train || !o)
        return clae_fail(CLAE_ERR_ARG, "clae_model_train: %s is NULL", !m ? "model" : !train ? "train" : "options");
    clae_model_config cfg;
    clae_model_get_config(m, &cfg);
    const size_t rows = train->rows, cols = train->cols, batch = (size_t)cfg.batch;
    const uint64_t spe = batch ? ((uint64_t)rows + batch - 1) / batch : 0;
    r->steps_per_epoch = spe;
    r->epoch = o->start.epoch;
    r->step_in_epoch = o->start.step_in_epoch;
    r->position = o->start;
    clae_status st = check_options(m, train, o, batch, spe);
    if (st != CLAE_OK) return st;

    clae_parallel *par = NULL; /* the batch split across shards or replicas, or NULL */
    size_t *order = NULL, *idx = malloc(batch * sizeof *idx);
    uint32_t *ids = malloc(batch * sizeof *ids);
    float *xb = malloc(batch * cols * sizeof *xb);
    if (o->order != CLAE_BATCHES_WRAP) order = malloc(rows * sizeof *order);
    if (!idx || !ids || !xb || (o->order != CLAE_BATCHES_WRAP && !order)) {
        st = clae_fail(CLAE_ERR_NOMEM, "clae_model_train: out of host memory for %zu rows of %zu", rows, cols);
        goto done;
    }

    st = clae_parallel_open(m, o, rows, cols, batch, &par);
    if (st != CLAE_OK) goto done;
    trainer t = {m, train, o, r, batch, 0};
    /* An adversarial autoencoder's figures, averaged over each epoch's steps. */
    clae_adversary_stats adv;
    const int adversarial = clae_model_adversary(m) != NULL;
    int stop = o->start.epoch >= o->epochs || (o->max_steps && clae_model_steps(m) >= o->max_steps);
    double first_loss = NAN; /* this call's first loss: the yardstick of divergence */
    for (uint64_t e = o->start.epoch; !stop && e < o->epochs; e++) {
        const double te = clae_now_seconds();
        if (o->order == CLAE_BATCHES_SHUFFLED)
            clae_shuffle_order(rows, cfg.seed, (uint32_t)e, order);
        else if (o->order == CLAE_BATCHES_IN_ORDER)
            for (size_t k = 0; k < rows; k++) order[k] = k;
        uint64_t s = e == o->start.epoch ? o->start.step_in_epoch : 0;
        double loss_sum = 0.0, adv_sum[4] = {0, 0, 0, 0};
        const double train_before = r->train_seconds;
        r->epoch = e;
        r->step_in_epoch = s;
        r->position.epoch = e;
        r->position.step_in_epoch = s;
        r->epoch_rows = 0;
        r->epoch_loss = NAN;
        r->epoch_disc_loss = r->epoch_disc_accuracy = r->epoch_gen_loss = r->epoch_fooled = NAN;
        r->epoch_seconds = 0.0;
        if (o->on_epoch_begin && o->on_epoch_begin(r, o->user) != 0) {
            r->stopped = 1;
            stop = 1;
            break;
        }
        while (s < spe) {
            size_t n;
            if (o->order == CLAE_BATCHES_WRAP) {
                const uint64_t first = ((e * spe + s) * batch) % rows;
                n = batch;
                for (size_t k = 0; k < n; k++) idx[k] = (size_t)((first + k) % rows);
            } else {
                n = rows - s * batch < batch ? rows - s * batch : batch;
                memcpy(idx, order + s * batch, n * sizeof *idx);
            }
            /* The rows' data-set indices key the noise of denoising variants. */
            for (size_t k = 0; k < n; k++) ids[k] = (uint32_t)idx[k];
            st = clae_dataset_gather(train, idx, n, xb);
            if (st != CLAE_OK) goto done;
            float loss = 0.0f;
            const double t0 = clae_now_seconds();
            /* A non-finite loss comes back as CLAE_ERR_NUMERIC naming the step. */
            st = par ? clae_parallel_step(par, xb, ids, n, &loss) : clae_model_train_step_rows(m, xb, ids, n, &loss);
            const double dt = clae_now_seconds() - t0;
            if (st != CLAE_OK) {
                r->diverged = st == CLAE_ERR_NUMERIC;
                goto done;
            }
            t.saved = 0;
            if (isnan(first_loss)) first_loss = fabs((double)loss);
            if (!isfinite(loss)) {
                st = clae_fail(CLAE_ERR_NUMERIC,
                               "the loss became %s at step %llu/%llu of epoch %llu (step %llu in all): training "
                               "stopped", isnan(loss) ? "NaN" : "infinite", (unsigned long long)s + 1,
                               (unsigned long long)spe, (unsigned long long)e + 1,
                               (unsigned long long)clae_model_steps(m));
                r->diverged = 1;
                goto done;
            }
            if (o->diverge_factor > 0.0 && fabs((double)loss) > o->diverge_factor * first_loss + o->diverge_floor) {
                st = clae_fail(CLAE_ERR_NUMERIC,
                               "the loss diverged at step %llu/%llu of epoch %llu: %.6g, over %g times the first "
                               "step's %.6g: training stopped", (unsigned long long)s + 1, (unsigned long long)spe,
                               (unsigned long long)e + 1, (double)loss, o->diverge_factor, first_loss);
                r->diverged = 1;
                goto done;
            }
            loss_sum += (double)loss * (double)n;
            s++;
            r->steps++;
            r->step_in_epoch = s;
            r->rows = n;
            r->x = xb;
            r->row_ids = ids;
            r->loss = loss;
            r->penalty = par ? clae_parallel_penalty(par) : clae_model_last_penalty(m);
            r->step_seconds = dt;
            r->epoch_rows += n;
            r->epoch_loss = loss_sum / (double)r->epoch_rows;
            if (adversarial) {
                st = clae_model_adversary_stats(m, &adv);
                if (st != CLAE_OK) goto done;
                const float v[4] = {adv.disc_loss, adv.disc_accuracy, adv.gen_loss, adv.fooled};
                for (int k = 0; k < 4; k++) adv_sum[k] += (double)v[k] * (double)n;
                r->epoch_disc_loss = adv_sum[0] / (double)r->epoch_rows;
                r->epoch_disc_accuracy = adv_sum[1] / (double)r->epoch_rows;
                r->epoch_gen_loss = adv_sum[2] / (double)r->epoch_rows;
                r->epoch_fooled = adv_sum[3] / (double)r->epoch_rows;
            }
            r->rows_seen += n;
            r->epoch_seconds = clae_now_seconds() - te;
            r->train_seconds = train_before + r->epoch_seconds;
            r->position = position_after(e, s, spe);
            if (o->on_step && o->on_step(r, o->user) != 0) {
                r->stopped = 1;
                stop = 1;
            }
            r->x = NULL;
            r->row_ids = NULL;
            const uint64_t done_steps = clae_model_steps(m);
            if (o->checkpoint_every && done_steps % o->checkpoint_every == 0) {
                st = clae_model_save_checkpoint(m, o->checkpoint_path, &r->position, o->scaling);
                if (st == CLAE_ERR_NUMERIC) {
                    /* The save refused non-finite weights; the loss was still finite. */
                    clae_fail_append(" (after step %llu/%llu of epoch %llu, step %llu in all)",
                                     (unsigned long long)s, (unsigned long long)spe, (unsigned long long)e + 1,
                                     (unsigned long long)done_steps);
                    r->diverged = 1;
                }
                if (st != CLAE_OK) goto done;
                r->checkpoint_steps = done_steps;
            }
            if (o->max_steps && done_steps >= o->max_steps) stop = 1;
            if (stop) break;
        }
        r->epoch_seconds = clae_now_seconds() - te;
        r->train_seconds = train_before + r->epoch_seconds;
        r->position = position_after(e, s, spe);
        /* Written before the last epoch's on_epoch_end (which may test for
         * long), so an abrupt end of the program then loses nothing. */
        r->last = stop || (s >= spe && e + 1 >= o->epochs);
        /* A weight can turn non-finite while the loss stays finite (a relu unit driven to -inf passes 0), so
         * each epoch's weights are checked too: the run stops here, naming the step, and nothing is written. */
        if (!t.saved) {
            char when[128];
            snprintf(when, sizeof when, "after step %llu/%llu of epoch %llu (step %llu in all)",
                     (unsigned long long)s, (unsigned long long)spe, (unsigned long long)e + 1,
                     (unsigned long long)clae_model_steps(m));
            st = clae_model_check_finite(m, when);
            if (st != CLAE_OK) {
                r->diverged = st == CLAE_ERR_NUMERIC;
                goto done;
            }
        }
        if (r->last && (st = write_end(&t, r->position)) != CLAE_OK) goto done;
        if (o->on_epoch_end && o->on_epoch_end(r, o->user) != 0) {
            r->stopped = 1;
            stop = 1;
        }
    }
    /* A stop from on_epoch_end, or nothing to train at all (the position is
     * then the start). */
    st = write_end(&t, r->position);
done:
    clae_parallel_close(par);
    r->x = NULL;
    r->row_ids = NULL;
    free(order);
    free(idx);
    free(ids);
    free(xb);
    return st;
}
