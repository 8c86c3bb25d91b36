/* layer.h — a net as a sequence of layers: each layer kind and each regularizer is a table of functions
 * (parse its spec arguments, infer its width, declare its tensors, forward, backward, penalty). */
#ifndef CLAE_LAYER_H
#define CLAE_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "ops/ops.h"

/* Returns a failed status at once (the layers' files chain many calls). */
#define TRY(expr)                                                                                   \
    do {                                                                                            \
        clae_status s_ = (expr);                                                                    \
        if (s_ != CLAE_OK) return s_;                                                               \
    } while (0)

#define CLAE_MAX_NET (2 * CLAE_MAX_LAYERS + 8) /* layers of one net, dense or not */
#define CLAE_MAX_REGS 4                        /* regularizers attached to one layer */
#define CLAE_MAX_PARAMS (2 * CLAE_MAX_LAYERS + 8) /* the weight layers', and an adversary's net */
#define CLAE_TENSOR_NAME 48
#define CLAE_LABEL 64

/* What a layer or regularizer does to the units it touches, so that combinations that cannot work are
 * refused in one place (clae_arch_check) rather than by each kind knowing the others. */
enum {
    CLAE_CLAIM_SELECT = 1u << 0,   /* decides which units are active (k-sparse, winner-take-all) */
    CLAE_CLAIM_SPARSITY = 1u << 1, /* pushes the units' activity toward a target (KL, L1, L2, h2o) */
    CLAE_CLAIM_JACOBIAN = 1u << 2, /* penalizes the layer's Jacobian, so needs it smooth (contractive) */
};

/* A trainable tensor: value, gradient and optimizer state. A layer may use another layer's weight
 * transposed (tied weights); the gradient is then the sum over its users, formed as the backward pass
 * meets them, and the update runs after the last of them (the lowest net index). */
typedef struct clae_param {
    char name[CLAE_TENSOR_NAME]; /* as the model file names it: "layers.0.weight" */
    size_t rows, cols;           /* rows·cols floats (a bias has rows 1) */
    clae_buf value, grad, s1, s2;
    int first_user, last_user;   /* net indices of its users: the backward pass meets last_user last */
} clae_param;

/* The tensors of one pass through the net. val[k] is layer k's input and val[k+1] its output; in the
 * training pass grad[k] = ∂L/∂val[k]. A layer that works in place shares its input's buffers. */
typedef struct clae_net_pass {
    int training;
    clae_buf val[CLAE_MAX_NET + 1];
    clae_buf grad[CLAE_MAX_NET + 1];
} clae_net_pass;

typedef struct clae_net clae_net;
typedef struct clae_layer clae_layer;
typedef struct clae_reg clae_reg;

/* A regularizer attached to a layer's output A (spelled "+name:args" after the layer). */
typedef struct clae_reg_kind {
    const char *name;
    unsigned claims;
    /* Why its math mixes the rows of a batch (NULL: each row's share is its own), so data-parallel training,
     * which splits a batch and sums the parts' gradients, would train another model (clae_model_train). */
    const char *couples_rows;
    /* Reads the arguments after "name:" (n of them); messages name the label. */
    clae_status (*parse)(clae_reg *r, char **args, int n);
    /* The arguments as parse reads them back ("1e-4", "0.05:3"). */
    void (*format)(const clae_reg *r, char *buf, size_t cap);
    /* Refuses a layer it cannot serve (e.g. KL on units not bounded by 1). */
    clae_status (*check)(const clae_reg *r, const clae_layer *L, int is_output);
    /* Declares its tensors (clae_net_declare). */
    clae_status (*declare)(clae_net *net, clae_layer *L, clae_reg *r);
    /* Training forward, after the layer's activation. */
    clae_status (*forward)(clae_net *net, clae_layer *L, clae_reg *r, clae_net_pass *p, size_t rows);
    /* Adds the penalty of the last training forward (host read) to *penalty. */
    clae_status (*penalty)(clae_net *net, clae_layer *L, clae_reg *r, double *penalty);
    /* Backward, on ∂L/∂A before f' (sparsity), on ∂L/∂Z before dW (contractive), after dW. */
    clae_status (*grad_act)(clae_net *net, clae_layer *L, clae_reg *r, clae_buf G, size_t rows);
    clae_status (*grad_z)(clae_net *net, clae_layer *L, clae_reg *r, clae_buf G, size_t rows);
    clae_status (*grad_w)(clae_net *net, clae_layer *L, clae_reg *r, size_t rows);
    /* Around the layer's bias update (before = 1: the gradient is final; 0: just after). */
    clae_status (*around_update)(clae_net *net, clae_layer *L, clae_reg *r, const clae_opt_hyper *h, int before);
    void (*describe)(const clae_reg *r, char *buf, size_t cap);
} clae_reg_kind;

struct clae_reg {
    const clae_reg_kind *kind;
    clae_sparsity sparsity; /* the sparse kinds' penalty */
    float f[3];             /* the kind's numbers (ρ, β, λ, …) */
    clae_buf t[4];          /* its tensors */
    char label[CLAE_LABEL]; /* how the user spelled it: a spec token or a flag */
};

typedef struct clae_layer_kind {
    const char *name;
    unsigned claims;
    const char *couples_rows; /* as clae_reg_kind's */
    int weights; /* has a weight and bias (dense, conv, convT): counts as a "layers.<i>" layer, may be the output */
    int learns;  /* has trainable parameters of its own kind (the concrete selector): later layers pass gradients */
    /* Reads the arguments after "name:". */
    clae_status (*parse)(clae_layer *L, char **args, int n);
    void (*format)(const clae_layer *L, char *buf, size_t cap);
    /* The output shape (oc, oh, ow) from the input shape (ic, ih, iw) (CLAE_ERR_ARG naming the label when
     * it cannot be). A flat vector of n is n×1×1. */
    clae_status (*shape)(clae_layer *L);
    /* 1 if the output is the input itself in this pass (in place, or a training-only layer at inference). */
    int (*in_place)(const clae_layer *L, int training);
    /* Declares parameters and tensors; the net's value and gradient tensors are the model's. */
    clae_status (*declare)(clae_net *net, clae_layer *L);
    /* At creation, after every persistent tensor was zeroed: values that do not start at 0. */
    clae_status (*init)(clae_net *net, clae_layer *L);
    clae_status (*forward)(clae_net *net, clae_layer *L, clae_net_pass *p, size_t rows);
    /* Training pass: from grad[k+1] to grad[k] (when L->needs_dx) and the parameters' gradients. */
    clae_status (*backward)(clae_net *net, clae_layer *L, size_t rows);
    void (*describe)(const clae_layer *L, char *buf, size_t cap);
    /* Optional: adds the layer's own loss term of the last training forward (host read) to *penalty. */
    clae_status (*penalty)(clae_net *net, clae_layer *L, double *penalty);
    /* Optional, an adversary of the code (the adversarial autoencoder's discriminator, lib/layers/adv.c): phases
     * of a training step that run after the reconstruction phase has updated the layers, on the code in
     * val[index], which the step first recomputes with the updated encoder. discriminate trains the layer's own
     * net to tell prior draws from codes (phase 2). generate writes into grad[index] the gradient of the
     * generator loss with respect to the code, the layer's net held fixed, and sets in *h the optimizer of the
     * encoder's update (phase 3); the step then back-propagates that gradient through the encoder. */
    clae_status (*discriminate)(clae_net *net, clae_layer *L, size_t rows);
    clae_status (*generate)(clae_net *net, clae_layer *L, size_t rows, clae_opt_hyper *h);
} clae_layer_kind;

struct clae_layer {
    const clae_layer_kind *kind;
    int index;              /* in the net */
    size_t in, out;         /* widths (flat: ic·ih·iw and oc·oh·ow) */
    size_t ic, ih, iw;      /* input shape, per sample (NCHW without the N) */
    size_t oc, oh, ow;      /* output shape */
    char label[CLAE_LABEL]; /* a spec token or a flag, for messages */
    /* dense */
    clae_activation act;
    int ordinal;            /* its "layers.<i>" index among the net's weight layers */
    int tie;                /* -1, or the ordinal of the dense layer whose weight it uses transposed */
    int pool;               /* unpool: the net index of the max-pool it mirrors */
    clae_param *W, *b;
    clae_param *W2, *b2;    /* a second head (gauss: the log-variance's), or NULL */
    int is_output;          /* the net's last layer: the loss seeds ∂L/∂Z, f' is fused into it */
    clae_buf out_pre;       /* output layer, training with bce: the pre-activation the fused loss reads */
    /* the other kinds' arguments */
    int iarg[4];
    float farg[4];
    clae_buf t[8];
    int needs_dx;           /* some layer before this one has parameters */
    int first_param;        /* a kind with a net of its own (adv): the index of its first parameter in net->param */
    clae_reg reg[CLAE_MAX_REGS];
    int n_reg;
};

/* What the layers share during a step: the runtime, the passes, the parameters and the step's state. The
 * model (lib/models/model.c) owns it and decides when tensors live; the layers only declare and use them. */
struct clae_net {
    clae_runtime *rt;
    int n;
    clae_layer layer[CLAE_MAX_NET];
    int n_params;
    clae_param param[CLAE_MAX_PARAMS];
    clae_net_pass train, infer;
    int training_model;     /* 0: inference only, no training tensors */
    size_t batch;           /* the largest batch a pass sees */
    uint64_t seed;
    clae_init init;
    uint64_t steps;         /* training steps taken */
    int in_step;            /* inside a real training step (running statistics may move) */
    clae_buf row_ids;       /* the batch rows' data-set indices (uint32 words), training */
    clae_opt_hyper hyper;   /* the step's optimizer, with bias corrections for step steps+1 */
    int update;             /* backward applies each parameter's update after its last user */
    const clae_param *probe_W, *probe_b; /* gradients backward copies to the host where complete */
    float *probe_dW, *probe_db;
    clae_phase phase, probe_phase; /* the phase of the step running, and the one whose gradients are probed */
    int backward_top;       /* the layer the running backward pass started from (n − 1, or the code's end) */
    int loss_is_bce;        /* the output layer keeps its pre-activation for the fused loss */
    int stochastic;         /* the net has a gauss layer: inference can draw codes too (log-likelihoods) */
    uint32_t draws, draw;   /* inference: draw `draw` of `draws` per row (0 draws: the deterministic code) */
    clae_buf infer_row_ids; /* stochastic inference: the chunk's rows, keying the draws */
    size_t infer_first;     /* the chunk's first row within the call */
    /* Data-parallel training (lib/models/parallel.c): when reduce is set, a training step hands each bucket of
     * final gradients (the parameters one layer updates) to it through reduce_stage, scaled by reduce_weight,
     * and updates from what comes back (clae_net_reduce). NULL: nothing is read, nothing changes. */
    clae_gradient_reduce_fn reduce;
    void *reduce_user;
    float reduce_weight;
    clae_host_staging reduce_stage;
    /* Set by the model: adds a tensor of n floats; *dst receives its buffer once placed. */
    clae_status (*declare)(void *owner, const char *name, clae_buf *dst, size_t n, int persistent);
    void *owner;
};

/* The net's tensor declaration, formatted name (clae_net.declare). */
clae_status clae_net_declare(clae_net *net, clae_buf *dst, size_t n, int persistent, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* A new parameter of rows×cols, used by layer `user`, with its gradient and optimizer state declared. */
clae_status clae_net_param(clae_net *net, int user, size_t rows, size_t cols, const char *name, clae_param **out);
/* A weight layer's W ~ U(−a, a) by the net's init rule for these fans (lib/layers/dense.c). */
clae_status clae_weights_init(clae_net *net, clae_layer *L, double fan_in, double fan_out);
/* The end of a weight layer's backward: the probed gradients to the host, then (in a step) the updates of
 * the parameters whose last user L is, with the regularizers' around_update on either side. */
clae_status clae_weights_finish(clae_net *net, clae_layer *L);
/* In a training step with a reduce hook (clae_net.reduce), the final gradients of the n parameters P (NULL entries
 * skipped) as one bucket: copied into the host staging, scaled by reduce_weight, replaced by the hook (by their
 * sum over the data-parallel parts) and written back, before the caller's updates. CLAE_OK at once without a
 * hook, outside an updating step and in a dry run. */
clae_status clae_net_reduce(clae_net *net, const clae_param *const *P, int n);
/* Copies P's complete gradient to the host when P is a probed parameter (probe_W into probe_dW, probe_b into
 * probe_db) and the running phase is the probed one (clae_model_gradients, clae_model_phase_gradient). */
clae_status clae_param_probe(clae_net *net, const clae_param *P);
/* The limit a of W ~ U(−a, a) for a layer of activation act with these fans, by the net's init rule. */
float clae_init_limit(const clae_net *net, clae_activation act, double fan_in, double fan_out);
int clae_param_updates_here(const clae_param *p, const clae_layer *L);

/* Every layer kind and regularizer (lib/layers/arch.c); NULL when unknown. */
const clae_layer_kind *clae_layer_kind_find(const char *name);
const clae_reg_kind *clae_reg_kind_find(const char *name);

extern const clae_layer_kind clae_layer_dense, clae_layer_noise, clae_layer_topk, clae_layer_wta;
extern const clae_layer_kind clae_layer_conv, clae_layer_convT, clae_layer_maxpool, clae_layer_unpool, clae_layer_upsample,
    clae_layer_flatten, clae_layer_reshape, clae_layer_gauss, clae_layer_concrete,
    clae_layer_mdl, clae_layer_adv;
extern const clae_reg_kind clae_reg_kl, clae_reg_l1, clae_reg_l2, clae_reg_h2o, clae_reg_contractive;

/* ---- architectures (lib/layers/arch.c) ----------------------------------------------------- */

/* A net as the spec string describes it, before any tensor exists. */
typedef struct clae_arch {
    size_t input;         /* flat: c·h·w */
    size_t c, h, w;       /* the input's shape ("1x28x28"; a plain width n is n×1×1) */
    int n;
    clae_layer layer[CLAE_MAX_NET];
    int code; /* net index of the code layer: val[code + 1] is the code */
} clae_arch;

/* Parses "784,dense:256:relu,dense:64:relu@code+l1:1e-4,dense:256:relu,dense:784:sigmoid" (README,
 * The spec string) into a, widths inferred and checked (clae_arch_check). CLAE_ERR_ARG naming the token. */
clae_status clae_arch_parse(const char *spec, clae_arch *a);
/* The canonical spec string of a (parses back to the same architecture). */
void clae_arch_format(const clae_arch *a, char *buf, size_t cap);
/* Widths, ties, the code mark, each kind's and regularizer's checks and the claims table. */
clae_status clae_arch_check(clae_arch *a);
/* The net index of the layer that ends weight layer `ordinal`'s group (itself and the layers after it up to
 * the next weight layer, but not past the code): what encode reads as that layer's output. -1 when there
 * is no such layer. */
int clae_arch_dense_end(const clae_arch *a, int ordinal);
/* Number of weight layers (dense, conv, convT). */
int clae_arch_dense_count(const clae_arch *a);

/* Helpers for the kinds' parsers (lib/layers/arch.c). */
clae_status clae_parse_float(const char *label, const char *what, const char *s, float *out);
clae_status clae_parse_int(const char *label, const char *what, const char *s, long lo, long hi, int *out);
/* v as the shortest decimal that reads back to the same float, never with a "+" exponent (a "+" would
 * start a regularizer in a spec string): 0.05, 1e-05, 10, 1500000. */
void clae_format_float(char *buf, size_t cap, float v);
/* "n" (n×1×1) or "CxHxW". */
clae_status clae_parse_shape(const char *label, const char *what, const char *s, size_t *c, size_t *h, size_t *w);
/* Appends printf-style text at buf + *len, advancing *len; once *len reaches cap nothing more is written (the
 * kinds' format functions build their argument strings with it). */
void clae_appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* "key=value": 1 and *value set when arg starts with key=. */
int clae_arg_key(const char *arg, const char *key, const char **value);

#endif
