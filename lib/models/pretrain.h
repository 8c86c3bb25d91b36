/* pretrain.h — what greedy pretraining (lib/models/pretrain.c) uses of the RBM layer (lib/models/rbm.c): one RBM's
 * shape, units and schedule, and its CD-1 training on a data set. */
#ifndef CLAE_PRETRAIN_H
#define CLAE_PRETRAIN_H

#include "ops/ops_rbm.h"

#define CLAE_RBM_INIT_STREAM 0x300u /* weight initialisation: Philox stream 9 with layer id 0x300 + the layer */

typedef struct clae_rbm_spec {
    size_t visible, hidden;                   /* units */
    clae_rbm_units visible_units, hidden_units;
    size_t batch;
    uint64_t seed;                            /* the model's seed + the layer: its shuffles, states and weights */
    uint32_t layer;                           /* 0 = the first above the input */
    uint64_t epochs;
    float lr, weight_decay;                   /* ε and wc of the momentum update */
} clae_rbm_spec;

/* After each epoch (1-based) with the mean one-step reconstruction error per element; non-zero stops. */
typedef int (*clae_rbm_epoch_fn)(uint64_t epoch, double mse, void *user);

/* Trains one RBM by CD-1 on the rows of data (rows × visible): W (hidden × visible, an encoder layer's layout), the
 * hidden bias c and the visible bias a come back in the caller's arrays; when hidden_out is non-NULL it receives
 * the hidden means of every row (rows × hidden), the next RBM's data. *stopped is set when on_epoch asked to stop. */
clae_status clae_rbm_train(clae_runtime *rt, const clae_dataset *data, const clae_rbm_spec *s, float *W_out,
                           float *c_out, float *a_out, float *hidden_out, clae_rbm_epoch_fn on_epoch, void *user,
                           int *stopped);

#endif
