/* model_internal.h — the dense autoencoder's insides, shared by lib/models/model.c and the variant files.
 * A variant plugs into the step through the hooks of clae_variant; it never edits model.c. */
#ifndef CLAE_MODEL_INTERNAL_H
#define CLAE_MODEL_INTERNAL_H

#include "ops/ops.h"
#include "plan/plan.h"

#define CLAE_MAX_VARIANTS 8

/* One weight layer's tensors: parameters, their gradients and optimizer state. */
typedef struct dense_layer {
    clae_buf W, b;     /* W: out×in (PyTorch layout), b: out */
    clae_buf dW, db;   /* gradients, live only while the layer is back-propagated */
    clae_buf sW1, sW2; /* optimizer state of W (momentum/Adam m/ADADELTA Eg2, Adam v/Edx2) */
    clae_buf sb1, sb2; /* optimizer state of b */
} dense_layer;

/* The per-batch tensors of one pass. The training pass and the inference pass
 * are planned separately so inference-only models need no training memory. */
typedef struct dense_pass {
    clae_buf act[CLAE_MAX_LAYERS + 1]; /* act[0] = input batch, act[l] = output of weight layer l-1 */
    clae_buf input;                    /* what layer 0 reads: act[0], or the corrupted copy */
    clae_buf out_pre;                  /* output pre-activation, kept for the fused bce loss */
    clae_buf row_out;                  /* per-row loss or squared error */
    clae_buf gemm_ws;                  /* the GEMM engine's workspace for this pass */
    cl_mem gemm_ws_mem;                /* gemm_ws as its own sub-buffer (engines take no offset) */
    int training;
} dense_pass;

struct clae_variant;

struct clae_model {
    clae_runtime *rt;
    clae_model_config cfg;
    unsigned flags;
    int M; /* weight layers */
    dense_layer layer[CLAE_MAX_LAYERS];
    clae_buf grad[CLAE_MAX_LAYERS]; /* grad[l] = ∂L/∂Z of weight layer l */
    dense_pass train, infer;
    clae_buf row_ids;               /* the batch rows' indices in the data set (uint32 words) */
    float *row_host;                /* host copy of a row_out */
    float *poison_host;             /* CLAE_PLAN=poison: NaNs as long as the largest transient tensor */
    uint64_t steps;
    int in_step;                    /* 1 inside a training step (state such as EMAs may change) */
    /* Planning. */
    clae_plan plan;
    clae_buf **plan_dst;            /* plan_dst[i] receives tensor i's buffer */
    clae_buf arena;                 /* planned: the one allocation every tensor lives in */
    size_t inference_peak;
    /* Variants in use and their private state. */
    const struct clae_variant *variants[CLAE_MAX_VARIANTS];
    void *variant_state[CLAE_MAX_VARIANTS];
    int n_variants;
    float last_penalty;             /* the regularizers' share of the last reported loss */
    char error[CLAE_ERROR_MAX];
};

/* Schedule positions of one training step followed by one inference pass. */
int clae_pos_load(const clae_model *m, int training);
int clae_pos_forward(const clae_model *m, int training, int l);
int clae_pos_loss(const clae_model *m);
int clae_pos_backward(const clae_model *m, int l);
int clae_pos_output(const clae_model *m); /* inference: reading results / row errors */
int clae_pos_last(const clae_model *m);   /* the last position of the training step */

/* Adds a tensor of n floats to the model's plan; after placement *dst holds
 * its buffer. first/last are schedule positions or CLAE_PLAN_ALWAYS. */
clae_status clae_model_plan_add(clae_model *m, const char *name, clae_buf *dst, size_t n, int first, int last);

/* Extends the lifetime of an already planned tensor (found by its buffer) to
 * at least `until`, for a variant that reads a dense tensor later than the
 * dense step itself does. */
clae_status clae_model_plan_keep(clae_model *m, clae_buf *dst, int until);

static inline size_t clae_width(const clae_model *m, int i) { return (size_t)m->cfg.sizes[i]; }

/* A regularized variant: hooks the dense step calls where the variant's math
 * enters (README, The math: the variants). Every hook may be NULL. `pass` is the training or
 * the inference pass; `training` is 1 during a training step's forward. */
typedef struct clae_variant {
    const char *name;
    /* 1 if cfg asks for this variant. */
    int (*enabled)(const clae_model_config *cfg);
    /* Refuses configurations the variant cannot serve (message names the flag). */
    clae_status (*check)(const clae_model_config *cfg);
    /* Allocates its state (*state) and adds its tensors to the plan. */
    clae_status (*plan)(clae_model *m, void **state);
    /* Frees the state (not the planned buffers). */
    void (*release)(void *state);
    /* Training only: fills pass->input from act[0] (e.g. corruption). */
    clae_status (*make_input)(clae_model *m, void *state, dense_pass *pass, size_t rows);
    /* After act[i] = f(Z) in the forward pass (selection masks, penalty statistics). */
    clae_status (*after_activation)(clae_model *m, void *state, dense_pass *pass, int i, size_t rows, int training);
    /* Adds the variant's penalty for the last training forward to *penalty (host read). A
     * training step calls it after its backward pass has been enqueued, so the tensors it
     * reads must live until clae_pos_last(m). */
    clae_status (*penalty)(clae_model *m, void *state, size_t rows, double *penalty);
    /* Backward: on ∂L/∂A of act[i] (i >= 1), before f' is applied. */
    clae_status (*grad_act)(clae_model *m, void *state, int i, clae_buf G, size_t rows);
    /* Backward: on ∂L/∂Z of weight layer l, before dW and db are formed. */
    clae_status (*grad_z)(clae_model *m, void *state, int l, clae_buf G, size_t rows);
    /* Backward: after dW and db of weight layer l are formed, before the update. */
    clae_status (*grad_w)(clae_model *m, void *state, int l, size_t rows);
    /* Training steps only: around weight layer l's optimizer update h, just before it is
     * enqueued (before = 1; dW and db are final) and just after (before = 0). */
    clae_status (*around_update)(clae_model *m, void *state, int l, const clae_opt_hyper *h, int before);
    /* At creation, once every persistent tensor has been zeroed: sets state whose initial
     * value is not 0 (a checkpoint restored later overwrites it). */
    clae_status (*init_state)(clae_model *m, void *state);
    /* A short description for reports, e.g. "sparse kl rho=0.05 beta=3". */
    void (*describe)(const clae_model_config *cfg, char *buf, size_t cap);
} clae_variant;

/* The code layer's index into act[] and its width, for variants acting on the code. */
static inline int clae_code(const clae_model *m) { return m->cfg.code_layer; }

/* Every variant clae knows, in the order their hooks run (lib/models/variants.c). */
extern const clae_variant *const clae_variant_table[];
extern const int clae_variant_count;

#endif
