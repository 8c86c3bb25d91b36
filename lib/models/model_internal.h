/* model_internal.h — a model's insides, shared by the files of lib/models: the net it runs, the tensors it
 * declared, the plan their traced lifetimes gave, and the schedule of positions a step walks through. */
#ifndef CLAE_MODEL_INTERNAL_H
#define CLAE_MODEL_INTERNAL_H

#include "layers/layer.h"
#include "plan/plan.h"

#define CLAE_SPEC_MAX 2048

/* A tensor as declared, before the plan places it. In a dry run its buffer is a placeholder whose `off`
 * range [base, base + n) is its alone, so a traced use maps back to it. */
typedef struct model_tensor {
    char name[CLAE_PLAN_NAME];
    clae_buf *dst;
    size_t n;
    int persistent;
    size_t base;       /* placeholder offset */
    int first, last;   /* traced positions (-1: never used) */
} model_tensor;

/* What a pass adds to the net's values: the per-row loss or error and the GEMM engine's workspace. */
typedef struct model_pass {
    clae_buf row_out;
    clae_buf gemm_ws;
    cl_mem gemm_ws_mem; /* gemm_ws as its own sub-buffer (engines take no offset) */
    size_t ws_bytes;    /* traced: the largest request of the pass's GEMMs */
    int ws_first, ws_last;
} model_pass;

#define CLAE_MODEL_GEMMS 64 /* distinct GEMM shapes a model records (more are not listed) */

struct clae_model {
    clae_runtime *rt;
    clae_model_config cfg; /* the hyperparameters; its layer fields describe the net as far as they can */
    clae_arch arch;
    char spec[CLAE_SPEC_MAX]; /* the canonical spec string */
    unsigned flags;
    int M;                 /* dense layers */
    clae_net net;
    model_pass pass[2];    /* [1] training, [0] inference */
    float *row_host;       /* host copy of a row_out */
    float *poison_host;    /* CLAE_PLAN=poison: NaNs as long as the largest transient tensor */
    /* Declared tensors, then the plan. */
    model_tensor *decl;
    int n_decl, cap_decl;
    clae_plan plan;
    clae_buf **plan_dst;   /* plan_dst[i] receives plan tensor i's buffer */
    clae_buf arena;        /* planned: the one allocation every tensor lives in */
    size_t inference_peak;
    /* The schedule: positions [0, n_train_pos) are a training step, the rest an inference pass. */
    /* A call on the caller's buffers (model_cl.c): the pass loads its rows from here, on the device, instead of
     * from host memory. NULL outside such a call. */
    cl_mem in_mem;
    size_t in_off;         /* in floats */
    clae_trace trace;      /* the dry run's hooks (trace.use finds the model through it) */
    /* The distinct GEMM shapes of a training step and an inference pass, as the dry run met them. */
    struct { int ta, tb, training; size_t M, N, K; } gemm[CLAE_MODEL_GEMMS];
    int n_gemm;
    int tracing;
    int n_pos, n_train_pos, cap_pos;
    char (*pos_names)[CLAE_PLAN_NAME];
    int cursor;            /* the position the running pass is at */
    int pass_start, pass_stop; /* the running pass's positions [start, stop) */
    float last_penalty;    /* the regularizers' share of the last reported loss */
    /* An adversarial autoencoder's generator phase: its own optimizer state for the encoder's parameters, and
     * theirs while it runs (lib/models/model_step.c). */
    clae_buf gen_state;
    clae_buf gen_saved[CLAE_MAX_PARAMS][2];
    char error[CLAE_ERROR_MAX];
};

/* Seconds on the monotonic clock, for the trainers' reports. */
double clae_now_seconds(void);

/* Records a failure on the model and its runtime (the thread's last error is copied) and returns s. */
clae_status clae_model_record(clae_model *m, clae_status s);
/* The public calls' argument checks: 1..batch rows of a non-NULL x; a model with memory, for training when asked. */
clae_status clae_model_check_rows(clae_model *m, const float *x, size_t rows, const char *what);
clae_status clae_model_check_usable(clae_model *m, int training, const char *what);
/* The GEMM engine uses the pass's planned workspace while a public call runs (NULL: taken back). */
void clae_model_lend_workspace(clae_model *m, const model_pass *p);
/* Runs call with pass k's workspace lent, records a failure, and returns its status. */
#define WITH_PASS(m, k, call)                                                                       \
    do {                                                                                            \
        clae_model_lend_workspace((m), &(m)->pass[k]);                                                         \
        clae_status s_call_ = (call);                                                               \
        clae_model_lend_workspace((m), NULL);                                                                  \
        return clae_model_record((m), s_call_);                                                            \
    } while (0)

/* The layer that holds dense layer `ordinal`, or NULL. */
clae_layer *clae_model_dense(clae_model *m, int ordinal);
/* The parameter named `name`, or NULL. */
const clae_param *clae_model_param(const clae_model *m, const char *name);

/* ---- the step (lib/models/model_step.c), walked by the dry run and by every public call ---------- */

/* Starts a pass: the cursor goes to the pass's first position. */
void clae_model_pass_begin(clae_model *m, int training);
/* Enters the next position (named in a dry run); the tensors whose last use was the one left are
 * poisoned under CLAE_PLAN=poison. */
clae_status clae_model_enter(clae_model *m, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Ends a pass: the last position's dead tensors are poisoned. */
clae_status clae_model_pass_end(clae_model *m);

/* One training step on rows of x (row ids key the noise; NULL: the step's own numbering), with the
 * loss read back when loss is non-NULL. */
clae_status clae_model_run_step(clae_model *m, const float *x, const uint32_t *row_ids, size_t rows, float *loss);
/* Forward and loss only, nothing updated. */
clae_status clae_model_run_loss(clae_model *m, const float *x, size_t rows, float *loss);
/* Forward and backward without updates; the gradients of dense layer l to the host. */
clae_status clae_model_run_gradients(clae_model *m, const float *x, size_t rows, int l, float *dW, float *db);
/* Forward and backward without updates; the gradient of parameter P to the host. */
clae_status clae_model_run_param_gradient(clae_model *m, const float *x, size_t rows, const clae_param *P, float *out);
/* A whole training step with nothing updated, P's gradient of phase `phase` to out (the other phases' probes
 * stay quiet) and, for the reconstruction phase, its loss into *loss (may be NULL); the other phases' losses are
 * in the adversary's figures. */
clae_status clae_model_run_phase_gradient(clae_model *m, const float *x, size_t rows, clae_phase phase, const clae_param *P,
                                          float *out, float *loss);
/* The net's adversary of the code (an adv layer), or NULL. */
clae_layer *clae_model_adversary(clae_model *m);
/* Floats of optimizer state the generator phase keeps for the parameters used only before layer k (from their
 * shapes and the optimizer: it is declared before any tensor has a buffer). */
size_t clae_model_gen_state_size(const clae_model *m, int k);
/* The inference pass over one chunk of rows through the layers [0, upto]. */
clae_status clae_model_run_infer(clae_model *m, const float *x, size_t rows, int upto);
/* The inference pass from the code on: codes (rows × the code's width) in place of the encoder's. */
clae_status clae_model_run_decode(clae_model *m, const float *codes, size_t rows);
/* At the inference pass's output position of a stochastic net, per row of the draw just run: log p(x|z)
 * (the decoder's likelihood) into logp and log N(z; 0, I) − log N(z; μ, σ²) into logratio (both may be NULL
 * in a dry run). */
clae_status clae_model_infer_loglik(clae_model *m, size_t rows, double *logp, double *logratio);
/* The inference pass's output position: per-row errors (err may be NULL) and the reconstruction (out
 * may be NULL) of the chunk just run. */
clae_status clae_model_infer_output(clae_model *m, size_t rows, float *err, float *out);

/* ---- model files (lib/models/model_io.c) -------------------------------------------------------- */

/* CLAE_OK when every persistent tensor (the parameters and the optimizer's state) is finite; otherwise
 * CLAE_ERR_NUMERIC naming the first tensor, index and value, followed by `when` (e.g. "after step 12"). */
clae_status clae_model_check_finite(clae_model *m, const char *when);

/* ---- data-parallel training (lib/models/parallel.c) ------------------------------------------------------ */

/* The split of clae_model_train's batches (clae_trainer_options' shards and replicas). */
typedef struct clae_parallel clae_parallel;
/* Checks o's split against m (the refusals, CLAE_ERR_ARG), installs the gradient reduction in m (and the
 * replicas), makes their persistent tensors m's (shard 0's) and starts the replicas' threads. *out = NULL when o
 * asks for no split (nothing is done); otherwise free with clae_parallel_close. */
clae_status clae_parallel_open(clae_model *m, const clae_trainer_options *o, size_t rows, size_t cols, size_t batch,
                               clae_parallel **out);
/* One global batch of n rows (x: n × cols, ids its data-set rows): this process's parts' steps, the loss of the
 * whole batch into *loss (not checked for being finite: the caller decides on the same number everywhere). A
 * replica's failure stops every part and returns its status and message. */
clae_status clae_parallel_step(clae_parallel *P, const float *x, const uint32_t *ids, size_t n, float *loss);
/* The regularizers' share of the last step's whole-batch loss. */
float clae_parallel_penalty(const clae_parallel *P);
/* Stops and joins the threads and takes the reduction out of the models (NULL: nothing). */
void clae_parallel_close(clae_parallel *P);
/* Takes m's gradient reduction out and frees its staging (clae_model_destroy, clae_parallel_close). */
void clae_model_reduce_release(clae_model *m);
/* Tests only: part `part` fails as a device would at its reduction `bucket` (0 = the first) of the step taken
 * after `steps` steps; part -1 turns it off. Not thread-safe: set it between trainings. */
void clae_parallel_inject_failure(int part, uint64_t steps, int bucket);

/* ---- architectures from configurations (lib/models/arch_config.c) ------------------------------ */

/* The net a configuration's --layers and variant fields describe; tied: decoder layers use the encoder's
 * weights transposed. Checked (clae_arch_check), messages naming the flags. */
clae_status clae_arch_from_config(const clae_model_config *cfg, int tied, clae_arch *a);
/* Writes what a's net can say in a configuration's layer and variant fields into cfg. */
void clae_arch_to_config(const clae_arch *a, clae_model_config *cfg);

#endif
