/* parallel.c — data-parallel training steps for clae_model_train: a batch split into parts, across processes
 * (shards, through the caller's reduce) or across replica models on threads of this process, gradients summed. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_internal.h"
#include "runtime/error.h"

/* ---- the model's side: the hook, its staging, the refusals ---------------------------------------------- */

/* The largest bucket a step reduces: the parameters one layer updates are those whose last user it is. */
static size_t bucket_max(const clae_model *m)
{
    size_t best = 0;
    for (int k = 0; k < m->net.n; k++) {
        size_t sum = 0;
        for (int i = 0; i < m->net.n_params; i++)
            if (m->net.param[i].last_user == k) sum += m->net.param[i].grad.n;
        if (sum > best) best = sum;
    }
    return best;
}

static clae_status set_reduce(clae_model *m, clae_gradient_reduce_fn fn, void *user)
{
    clae_net *net = &m->net;
    if (!fn) {
        clae_host_staging_free(&net->reduce_stage);
        net->reduce = NULL;
        net->reduce_user = NULL;
        net->reduce_weight = 1.0f;
        return CLAE_OK;
    }
    const size_t need = bucket_max(m) + 2; /* + the step's loss and penalty */
    if (net->reduce_stage.n < need) {
        clae_host_staging_free(&net->reduce_stage);
        TRY(clae_host_staging_alloc(m->rt, need, &net->reduce_stage));
    }
    net->reduce = fn;
    net->reduce_user = user;
    return CLAE_OK;
}

void clae_model_reduce_release(clae_model *m)
{
    if (m) (void)set_reduce(m, NULL, NULL);
}

/* A split batch trains the same model only where every row's share of the loss is its own. */
static clae_status check_rows_independent(const clae_model *m, const char *who)
{
    for (int k = 0; k < m->net.n; k++) {
        const clae_layer *L = &m->net.layer[k];
        if (L->kind->couples_rows)
            return clae_fail(CLAE_ERR_ARG, "clae_model_train: data-parallel training (%s) refuses layer %d (%s): %s, "
                                           "so the parts of a split batch would train another model", who, k,
                             L->label[0] ? L->label : L->kind->name, L->kind->couples_rows);
        for (int r = 0; r < L->n_reg; r++)
            if (L->reg[r].kind->couples_rows)
                return clae_fail(CLAE_ERR_ARG, "clae_model_train: data-parallel training (%s) refuses the %s "
                                               "regularizer on layer %d (%s): %s, so the parts of a split batch "
                                               "would train another model", who, L->reg[r].kind->name, k,
                                 L->reg[r].label[0] ? L->reg[r].label : L->reg[r].kind->name,
                                 L->reg[r].kind->couples_rows);
    }
    return CLAE_OK;
}

/* The replicas must run m's step: the same net and the same training fields. */
static clae_status check_same_model(const clae_model *m, const clae_model *r, int i)
{
    const clae_model_config *a = &m->cfg, *b = &r->cfg;
    const char *field = strcmp(m->spec, r->spec) ? "spec"
                        : a->loss != b->loss ? "loss"
                        : a->optimizer != b->optimizer ? "optimizer"
                        : a->init != b->init ? "init"
                        : a->batch != b->batch ? "batch"
                        : a->seed != b->seed ? "seed"
                        : memcmp(&a->lr, &b->lr, sizeof a->lr) || memcmp(&a->momentum, &b->momentum, sizeof a->momentum)
                                || memcmp(&a->beta1, &b->beta1, sizeof a->beta1)
                                || memcmp(&a->beta2, &b->beta2, sizeof a->beta2) || memcmp(&a->eps, &b->eps, sizeof a->eps)
                                || memcmp(&a->rho, &b->rho, sizeof a->rho)
                                || memcmp(&a->adadelta_eps, &b->adadelta_eps, sizeof a->adadelta_eps)
                            ? "optimizer rates"
                        : m->n_decl != r->n_decl ? "tensors"
                                                 : NULL;
    if (field)
        return clae_fail(CLAE_ERR_ARG, "clae_model_train: replica %d differs from the model in its %s: replicas must "
                                       "be made with the model's configuration", i, field);
    return CLAE_OK;
}

/* ---- the split -------------------------------------------------------------------------------------------- */

typedef struct worker {
    struct clae_parallel *P;
    clae_model *m;
    int part;
    pthread_t thread;
    int started;
    unsigned parity;     /* which half of the slots its next bucket uses */
    int bucket;          /* buckets reduced in the running step (the failure injection counts them) */
    clae_status st;      /* its part's status, with its message */
    char err[CLAE_ERROR_MAX];
    float loss, penalty; /* the step's, reduced */
} worker;

struct clae_parallel {
    clae_model *m;
    const clae_trainer_options *o;
    size_t cols;
    int parts;       /* replicas: 1 + n_replicas; shards: 1 (this process's only) */
    worker *w;
    /* The replicas' rendezvous: a barrier any thread can break, so one that fails never leaves the others
     * waiting; sticky once broken. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int sync_ready;
    int arrived;
    unsigned long generation;
    int broken;      /* -1, or the part that broke it */
    /* Two halves of parts × cap floats, alternate buckets: a thread can fill the next bucket's half while
     * others still sum this one's, and no thread reaches the half after next before all left this one. */
    float *slots;
    size_t cap;
    /* The step being run. */
    const float *x;
    const uint32_t *ids;
    size_t n;
    int quit;
    float penalty;
};

/* Tests: part `part` fails as a device would at reduction `bucket` of the step after `steps` steps (-1: off). */
static struct {
    int part, bucket;
    uint64_t steps;
} inject = {-1, 0, 0};

void clae_parallel_inject_failure(int part, uint64_t steps, int bucket)
{
    inject.part = part;
    inject.steps = steps;
    inject.bucket = bucket;
}

static void breaks(clae_parallel *P, int part)
{
    pthread_mutex_lock(&P->mu);
    if (P->broken < 0) P->broken = part;
    pthread_cond_broadcast(&P->cv);
    pthread_mutex_unlock(&P->mu);
}

/* 0 once every part arrived; -1 when the barrier is (or gets) broken. */
static int rendezvous(clae_parallel *P)
{
    pthread_mutex_lock(&P->mu);
    int ok = P->broken < 0;
    if (ok) {
        const unsigned long gen = P->generation;
        if (++P->arrived == P->parts) {
            P->arrived = 0;
            P->generation++;
            pthread_cond_broadcast(&P->cv);
        } else {
            while (P->generation == gen && P->broken < 0) pthread_cond_wait(&P->cv, &P->mu);
            ok = P->generation != gen;
        }
    }
    pthread_mutex_unlock(&P->mu);
    return ok ? 0 : -1;
}

/* The replicas' hook: every part's weighted bucket into its slot, then each part sums all of them in part order
 * in double, so all get the same bits. */
static clae_status replicas_reduce(float *values, size_t n, void *user)
{
    worker *w = user;
    clae_parallel *P = w->P;
    if (inject.part == w->part && w->m->net.steps == inject.steps && w->bucket == inject.bucket)
        return clae_fail(CLAE_ERR_OPENCL, "injected failure of part %d at step %llu", w->part,
                         (unsigned long long)inject.steps + 1);
    w->bucket++;
    if (n > P->cap) return clae_fail(CLAE_ERR_ARG, "gradient reduction: a bucket of %zu floats, slots of %zu", n, P->cap);
    float *half = P->slots + (size_t)w->parity * (size_t)P->parts * P->cap;
    memcpy(half + (size_t)w->part * P->cap, values, n * sizeof *values);
    if (rendezvous(P) != 0) return clae_fail(CLAE_ERR_ARG, "stopped: part %d failed", P->broken);
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int d = 0; d < P->parts; d++) s += (double)half[(size_t)d * P->cap + i];
        values[i] = (float)s;
    }
    w->parity ^= 1u;
    return CLAE_OK;
}

/* One part's step on its rows of the batch, then the step's loss and penalty reduced like a bucket. */
static clae_status part_step(clae_parallel *P, worker *w, int part, int parts, const clae_gradient_reduce_fn fn,
                             void *user)
{
    const size_t lo = (size_t)part * P->n / (size_t)parts, hi = (size_t)(part + 1) * P->n / (size_t)parts;
    clae_model *m = w->m;
    m->net.reduce_weight = (float)((double)(hi - lo) / (double)P->n);
    w->bucket = 0;
    float loss = NAN;
    TRY(clae_model_train_step_rows(m, P->x + lo * P->cols, P->ids + lo, hi - lo, &loss));
    float *v = m->net.reduce_stage.ptr;
    v[0] = m->net.reduce_weight * loss;
    v[1] = m->net.reduce_weight * clae_model_last_penalty(m);
    clae_status s = fn(v, 2, user);
    if (s != CLAE_OK) {
        char why[CLAE_ERROR_MAX];
        snprintf(why, sizeof why, "%s", clae_last_error());
        return clae_fail(s, "reducing the step's loss failed: %s", *why ? why : clae_status_string(s));
    }
    w->loss = v[0];
    w->penalty = v[1];
    return CLAE_OK;
}

static void record(worker *w, clae_status s)
{
    w->st = s;
    snprintf(w->err, sizeof w->err, "%s", clae_last_error());
}

static void *replica_thread(void *arg)
{
    worker *w = arg;
    clae_parallel *P = w->P;
    for (;;) {
        if (rendezvous(P) != 0 || P->quit) break;
        clae_status s = part_step(P, w, w->part, P->parts, replicas_reduce, w);
        if (s != CLAE_OK) {
            record(w, s);
            breaks(P, w->part);
            break;
        }
        if (rendezvous(P) != 0) break;
    }
    return NULL;
}

/* Every persistent tensor of m (weights, optimizer state, the noise's statistics) into the replicas, or, across
 * processes, shard 0's into every shard through the reduce (the others add zeros). */
static clae_status broadcast(clae_parallel *P)
{
    clae_model *m = P->m;
    const clae_trainer_options *o = P->o;
    size_t most = 0;
    for (int i = 0; i < m->n_decl; i++)
        if (m->decl[i].persistent && m->decl[i].dst->n > most) most = m->decl[i].dst->n;
    float *h = malloc((most ? most : 1) * sizeof *h);
    if (!h) return clae_fail(CLAE_ERR_NOMEM, "clae_model_train: out of host memory for %zu floats", most);
    clae_status s = CLAE_OK;
    for (int i = 0; s == CLAE_OK && i < m->n_decl; i++) {
        const model_tensor *t = &m->decl[i];
        const size_t n = t->dst->n;
        if (!t->persistent || !n) continue;
        s = clae_buf_read(m->rt, *t->dst, 0, h, n);
        if (s != CLAE_OK) break;
        if (o->n_replicas) {
            for (int r = 0; s == CLAE_OK && r < o->n_replicas; r++) {
                clae_model *R = o->replicas[r];
                if (R->decl[i].dst->n != n || R->decl[i].persistent != 1 || strcmp(R->decl[i].name, t->name))
                    s = clae_fail(CLAE_ERR_ARG, "clae_model_train: replica %d has no tensor %s like the model's", r + 1,
                                  t->name);
                else s = clae_buf_write(R->rt, *R->decl[i].dst, 0, h, n);
            }
            continue;
        }
        if (o->shard_index != 0) memset(h, 0, n * sizeof *h);
        s = o->reduce(h, n, o->reduce_user);
        if (s != CLAE_OK) {
            char why[CLAE_ERROR_MAX];
            snprintf(why, sizeof why, "%s", clae_last_error());
            s = clae_fail(s, "clae_model_train: sharing shard 0's %s failed: %s", t->name,
                          *why ? why : clae_status_string(s));
            break;
        }
        s = clae_buf_write(m->rt, *t->dst, 0, h, n);
    }
    free(h);
    for (int r = 0; s == CLAE_OK && r < o->n_replicas; r++) o->replicas[r]->net.steps = m->net.steps;
    return s;
}

static clae_status check(clae_model *m, const clae_trainer_options *o, int shards, size_t rows, size_t batch, int parts)
{
    if (shards < 1 || o->shard_index < 0 || o->shard_index >= shards)
        return clae_fail(CLAE_ERR_ARG, "clae_model_train: shard %d of %d; expected 0 <= shard_index < shard_count",
                         o->shard_index, o->shard_count);
    if (o->n_replicas < 0 || (o->n_replicas > 0 && !o->replicas))
        return clae_fail(CLAE_ERR_ARG, "clae_model_train: %d replicas at %p", o->n_replicas, (void *)o->replicas);
    if (shards > 1 && o->n_replicas > 0)
        return clae_fail(CLAE_ERR_ARG, "clae_model_train: replicas within a process and shards across processes "
                                       "together are not supported: use one or the other");
    if (shards > 1 && !o->reduce)
        return clae_fail(CLAE_ERR_ARG, "clae_model_train: shard_count %d without a reduce function", o->shard_count);
    TRY(check_rows_independent(m, shards > 1 ? "shards" : "replicas"));
    /* The smallest batch: a full one with the wrapping order, otherwise also the short last one. */
    size_t least = batch;
    if (o->order != CLAE_BATCHES_WRAP && rows % batch) least = rows % batch;
    if (rows < least) least = rows;
    if (least < (size_t)parts)
        return clae_fail(CLAE_ERR_ARG, "clae_model_train: a batch of %zu rows cannot be split into %d parts (batch %zu, "
                                       "%zu rows)", least, parts, batch, rows);
    for (int r = 0; r < o->n_replicas; r++) {
        clae_model *R = o->replicas[r];
        if (!R) return clae_fail(CLAE_ERR_ARG, "clae_model_train: replica %d is NULL", r + 1);
        if (R == m) return clae_fail(CLAE_ERR_ARG, "clae_model_train: replica %d is the model itself", r + 1);
        TRY(clae_model_check_usable(R, 1, "clae_model_train: replica"));
        TRY(check_same_model(m, R, r + 1));
        if (R->rt == m->rt) return clae_fail(CLAE_ERR_ARG, "clae_model_train: replica %d shares the model's runtime: "
                                                           "each part needs a runtime (device) of its own", r + 1);
        for (int q = 0; q < r; q++)
            if (o->replicas[q]->rt == R->rt || o->replicas[q] == R)
                return clae_fail(CLAE_ERR_ARG, "clae_model_train: replicas %d and %d share a runtime", q + 1, r + 1);
    }
    return CLAE_OK;
}

clae_status clae_parallel_open(clae_model *m, const clae_trainer_options *o, size_t rows, size_t cols, size_t batch,
                               clae_parallel **out)
{
    *out = NULL;
    /* 0 shards is a zeroed options struct's: no split, as the default's 1. */
    const int shards = o->shard_count ? o->shard_count : 1, replicas = o->n_replicas;
    if (shards == 1 && o->shard_index == 0 && replicas == 0) return CLAE_OK;
    const int parts = (shards > 1 ? shards : 1) * (1 + (replicas > 0 ? replicas : 0));
    TRY(check(m, o, shards, rows, batch, parts));
    clae_parallel *P = calloc(1, sizeof *P);
    if (!P) return clae_fail(CLAE_ERR_NOMEM, "clae_model_train: out of host memory");
    P->m = m;
    P->o = o;
    P->cols = cols;
    P->parts = 1 + replicas;
    P->broken = -1;
    P->w = calloc((size_t)P->parts, sizeof *P->w);
    clae_status s = P->w ? CLAE_OK : clae_fail(CLAE_ERR_NOMEM, "clae_model_train: out of host memory");
    for (int d = 0; s == CLAE_OK && d < P->parts; d++) {
        P->w[d].P = P;
        P->w[d].m = d ? o->replicas[d - 1] : m;
        P->w[d].part = d;
        s = set_reduce(P->w[d].m, shards > 1 ? o->reduce : replicas_reduce, shards > 1 ? o->reduce_user : &P->w[d]);
    }
    if (s == CLAE_OK) s = broadcast(P);
    if (s == CLAE_OK && replicas) {
        P->cap = bucket_max(m) + 2;
        P->slots = malloc(2 * (size_t)P->parts * P->cap * sizeof *P->slots);
        if (!P->slots) s = clae_fail(CLAE_ERR_NOMEM, "clae_model_train: out of host memory for the reduction");
        if (s == CLAE_OK && (pthread_mutex_init(&P->mu, NULL) || pthread_cond_init(&P->cv, NULL)))
            s = clae_fail(CLAE_ERR_NOMEM, "clae_model_train: cannot make the replicas' barrier");
        if (s == CLAE_OK) P->sync_ready = 1;
        for (int d = 1; s == CLAE_OK && d < P->parts; d++) {
            if (pthread_create(&P->w[d].thread, NULL, replica_thread, &P->w[d]) != 0) {
                s = clae_fail(CLAE_ERR_NOMEM, "clae_model_train: cannot start the thread of replica %d", d);
                break;
            }
            P->w[d].started = 1;
        }
    }
    if (s != CLAE_OK) {
        clae_parallel_close(P);
        return s;
    }
    *out = P;
    return CLAE_OK;
}

clae_status clae_parallel_step(clae_parallel *P, const float *x, const uint32_t *ids, size_t n, float *loss)
{
    const clae_trainer_options *o = P->o;
    P->x = x;
    P->ids = ids;
    P->n = n;
    worker *w0 = &P->w[0];
    if (P->parts == 1) {
        /* Across processes: this process's part of shard_count. */
        clae_status s = part_step(P, w0, o->shard_index, o->shard_count ? o->shard_count : 1, o->reduce, o->reduce_user);
        if (s != CLAE_OK) return s;
        *loss = w0->loss;
        P->penalty = w0->penalty;
        return CLAE_OK;
    }
    clae_status s = CLAE_OK;
    if (rendezvous(P) != 0) s = CLAE_ERR_ARG;
    if (s == CLAE_OK) s = part_step(P, w0, 0, P->parts, replicas_reduce, w0);
    if (s != CLAE_OK) {
        record(w0, s);
        breaks(P, 0);
    } else if (rendezvous(P) != 0) {
        s = CLAE_ERR_ARG;
    }
    if (s == CLAE_OK) {
        *loss = w0->loss;
        P->penalty = w0->penalty;
        return CLAE_OK;
    }
    /* The part that broke the barrier holds the cause (recorded before it broke it); the others only stopped. */
    pthread_mutex_lock(&P->mu);
    const int b = P->broken;
    pthread_mutex_unlock(&P->mu);
    const worker *c = &P->w[b >= 0 ? b : 0];
    return clae_fail(c->st ? c->st : CLAE_ERR_ARG, "data-parallel step: part %d (%s) failed: %s", b,
                     b > 0 ? "a replica" : "the model", c->err);
}

float clae_parallel_penalty(const clae_parallel *P) { return P->penalty; }

void clae_parallel_close(clae_parallel *P)
{
    if (!P) return;
    if (P->sync_ready) {
        /* Breaking the barrier is the workers' signal to leave: each leaves at its next rendezvous, whether it
         * waits at a step's start or still finishes a part that another part's failure has stopped. */
        P->quit = 1;
        breaks(P, P->parts);
        for (int d = 1; d < P->parts; d++)
            if (P->w[d].started) pthread_join(P->w[d].thread, NULL);
        pthread_cond_destroy(&P->cv);
        pthread_mutex_destroy(&P->mu);
    }
    for (int d = 0; P->w && d < P->parts; d++)
        if (P->w[d].m) clae_model_reduce_release(P->w[d].m);
    free(P->slots);
    free(P->w);
    free(P);
}
