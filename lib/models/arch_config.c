/* arch_config.c — the shorthand: --layers and the variant flags of a configuration expand to a net of layers,
 * and a net says back what a configuration's fields can hold. Messages name the flags the user gave. */
#include <stdio.h>
#include <string.h>

#include "models/model_internal.h"

static clae_layer *add_layer(clae_arch *a, const clae_layer_kind *kind, const char *label)
{
    clae_layer *L = &a->layer[a->n++];
    memset(L, 0, sizeof *L);
    L->kind = kind;
    L->tie = -1;
    snprintf(L->label, sizeof L->label, "%s", label);
    return L;
}

static clae_reg *add_reg(clae_layer *L, const clae_reg_kind *kind, const char *label)
{
    clae_reg *r = &L->reg[L->n_reg++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    snprintf(r->label, sizeof r->label, "%s", label);
    return r;
}

static const clae_reg_kind *sparsity_kind(clae_sparsity s)
{
    return s == CLAE_SPARSITY_KL ? &clae_reg_kl : s == CLAE_SPARSITY_L1 ? &clae_reg_l1
                                                : s == CLAE_SPARSITY_L2 ? &clae_reg_l2
                                                                        : &clae_reg_h2o;
}

clae_status clae_arch_from_config(const clae_model_config *c, int tied, clae_arch *a)
{
    const int M = c->n_layers, code = c->code_layer;
    memset(a, 0, sizeof *a);
    a->input = a->c = (size_t)c->sizes[0];
    a->h = a->w = 1;
    a->code = -1;
    if (c->noise != CLAE_NOISE_NONE) {
        clae_layer *N = add_layer(a, &clae_layer_noise, "--noise");
        N->iarg[0] = (int)c->noise;
        N->farg[0] = c->noise_level;
    }
    for (int l = 0; l < M; l++) {
        char label[CLAE_LABEL];
        snprintf(label, sizeof label, "--layers (dense layer %d, %d -> %d)", l, c->sizes[l], c->sizes[l + 1]);
        clae_layer *D = add_layer(a, &clae_layer_dense, label);
        D->iarg[0] = c->sizes[l + 1];
        D->act = c->activation[l];
        if (tied && l >= code) {
            D->tie = M - 1 - l;
            snprintf(D->label, sizeof D->label, "--tied (dense layer %d uses layer %d's weight)", l, D->tie);
        }
        if (c->sparsity == CLAE_SPARSITY_H2O && l < M - 1) {
            clae_reg *r = add_reg(D, &clae_reg_h2o, "--sparsity h2o");
            r->sparsity = CLAE_SPARSITY_H2O;
            r->f[0] = c->sparsity_rho;
            r->f[1] = c->sparsity_beta;
        } else if (c->sparsity != CLAE_SPARSITY_NONE && c->sparsity != CLAE_SPARSITY_H2O && l == code - 1) {
            char lab[CLAE_LABEL];
            snprintf(lab, sizeof lab, "--sparsity %s", clae_sparsity_name(c->sparsity));
            clae_reg *r = add_reg(D, sparsity_kind(c->sparsity), lab);
            r->sparsity = c->sparsity;
            r->f[0] = c->sparsity == CLAE_SPARSITY_KL ? c->sparsity_rho : c->sparsity_lambda;
            r->f[1] = c->sparsity_beta;
        }
        if (c->contractive > 0.0f && l < code) add_reg(D, &clae_reg_contractive, "--contractive")->f[0] = c->contractive;
        if (l != code - 1) continue;
        if (c->ksparse_k > 0) {
            clae_layer *K = add_layer(a, &clae_layer_topk, "--ksparse");
            K->iarg[0] = c->ksparse_k;
            K->farg[0] = c->ksparse_alpha;
            K->iarg[1] = c->ksparse_k_start;
            K->iarg[2] = c->ksparse_schedule_steps;
        }
        if (c->wta_rate > 0.0f) add_layer(a, &clae_layer_wta, "--wta-rate")->farg[0] = c->wta_rate;
        a->code = a->n - 1;
    }
    return clae_arch_check(a);
}

void clae_arch_to_config(const clae_arch *a, clae_model_config *c)
{
    int M = 0;
    c->sizes[0] = (int)a->input;
    c->sparsity = CLAE_SPARSITY_NONE;
    c->ksparse_k = c->ksparse_k_start = c->ksparse_schedule_steps = 0;
    c->wta_rate = 0.0f;
    c->noise = CLAE_NOISE_NONE;
    c->contractive = 0.0f;
    c->code_layer = 0;
    for (int k = 0; k < a->n; k++) {
        const clae_layer *L = &a->layer[k];
        if (L->kind->weights) {
            /* A weight layer's width is what its group ends with (clae_arch_dense_end): what encode reads. */
            c->activation[M] = L->act;
            c->sizes[M + 1] = (int)a->layer[clae_arch_dense_end(a, M)].out;
            M++;
        } else if (L->kind == &clae_layer_noise) {
            c->noise = (clae_noise)L->iarg[0];
            c->noise_level = L->farg[0];
        } else if (L->kind == &clae_layer_topk) {
            c->ksparse_k = L->iarg[0];
            c->ksparse_alpha = L->farg[0];
            c->ksparse_k_start = L->iarg[1];
            c->ksparse_schedule_steps = L->iarg[2];
        } else if (L->kind == &clae_layer_wta) {
            c->wta_rate = L->farg[0];
        }
        if (k == a->code) c->code_layer = M;
        for (int r = 0; r < L->n_reg; r++) {
            const clae_reg *g = &L->reg[r];
            if (g->kind == &clae_reg_contractive) {
                c->contractive = g->f[0];
            } else if (c->sparsity == CLAE_SPARSITY_NONE) {
                c->sparsity = g->sparsity;
                if (g->sparsity == CLAE_SPARSITY_KL || g->sparsity == CLAE_SPARSITY_H2O) {
                    c->sparsity_rho = g->f[0];
                    c->sparsity_beta = g->f[1];
                } else {
                    c->sparsity_lambda = g->f[0];
                }
            }
        }
    }
    c->n_layers = M;
}
