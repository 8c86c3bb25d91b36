/* ops_conv.h — the image ops of convolutional autoencoders (Masci et al. 2011) over NCHW tensors: convolution
 * forward and backward (im2col + GEMM on OpenCL, direct loops on the reference), max-pool, unpool, upsample. */
#ifndef CLAE_OPS_CONV_H
#define CLAE_OPS_CONV_H

#include "ops/ops.h"

/* A 2-D convolution of one sample's C×H×W image by F filters of C×K×K, stride S, zero padding P:
 * Ho = (H + 2P − K)/S + 1, Wo likewise (floor). */
typedef struct clae_conv_geom {
    size_t C, H, W;
    size_t F, K, S, P;
    size_t Ho, Wo;
} clae_conv_geom;

/* Fills g; CLAE_ERR_ARG when a size is 0, S is 0, P >= K or the kernel does not fit the padded image. */
clae_status clae_conv_geom_make(size_t C, size_t H, size_t W, size_t F, size_t K, size_t S, size_t P, clae_conv_geom *g);

/* The bodies of one path; callers use the clae_op_* entries below (lib/ops/ops_conv.c), which check every
 * argument once. n is the number of samples; images are NCHW, row-major. The contracts:
 *
 * conv_forward: Y[n,f,oy,ox] = b[f] + Σ_{c,u,v} W[f, (c·K + u)·K + v] · X[n, c, oy·S − P + u, ox·S − P + v],
 *   the X term 0 outside the image. W is F × C·K·K (PyTorch's F×C×K×K flattened), b F floats or empty (no bias).
 * conv_backward, each output optional (empty buffer: not formed):
 *   dW[f, (c·K+u)·K+v] = Σ_{n,oy,ox} dY[n,f,oy,ox] · X[n, c, oy·S−P+u, ox·S−P+v]   (overwritten),
 *   db[f] = Σ_{n,oy,ox} dY[n,f,oy,ox]                                             (overwritten),
 *   dX[n,c,y,x] = Σ over (f,u,v,oy,ox) with oy·S−P+u = y, ox·S−P+v = x of W[f,(c·K+u)·K+v]·dY[n,f,oy,ox]
 *   (overwritten; formed as a gather, each dX element summing its own terms in a fixed order).
 *   The transposed convolution is this pair read backwards: its forward is conv_backward's dX, its
 *   backward conv_forward and conv_backward's dW (README, The math: convolution).
 * OpenCL works through im2col and the GEMM engine, in this order, with the scratch of clae_op_conv_scratch:
 *   forward:  col = im2col(X) as (n·Ho·Wo) × (C·K·K) rows, one per output pixel;
 *             tmp = gemm(0, 1, M = n·Ho·Wo, N = F, K = C·K·K, col, C·K·K, W, C·K·K, tmp, F);
 *             Y = tmp scattered to NCHW, + b.
 *   backward: tmp = dY gathered to (n·Ho·Wo) × F rows; when dW: col = im2col(X),
 *             dW = gemm(1, 0, M = F, N = C·K·K, K = n·Ho·Wo, tmp, F, col, C·K·K, dW, C·K·K);
 *             db = channel_sum(dY) (the terms of colsum(tmp), in its order); when dX: col = gemm(0, 0, M = n·Ho·Wo, N = C·K·K, K = F, tmp, F, W, C·K·K,
 *             col, C·K·K) and dX = col2im(col) as a gather.
 *   The reference twins loop directly over the formulas (accumulating in double) and need no scratch. */
typedef struct clae_conv_ops {
    clae_status (*conv_forward)(clae_runtime *rt, const clae_conv_geom *g, size_t n, clae_buf X, clae_buf W, clae_buf b,
                                clae_buf Y, clae_buf col, clae_buf tmp);
    clae_status (*conv_backward)(clae_runtime *rt, const clae_conv_geom *g, size_t n, clae_buf X, clae_buf W,
                                 clae_buf dY, clae_buf dW, clae_buf db, clae_buf dX, clae_buf col, clae_buf tmp);
    /* Max-pool of K×K windows, stride K, over `planes` (= n·C) planes of H×W, Ho = H/K, Wo = W/K (floor):
     * Y[p,oy,ox] = the window's maximum, idx[p,oy,ox] = y·W + x of its first maximum in row-major window
     * order (stored as a float, exact below 2^24). */
    clae_status (*maxpool_forward)(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf X,
                                   clae_buf Y, clae_buf idx);
    /* big[p,y,x] = small[p, y/K, x/K] where idx there is y·W + x (and the window lies in the pooled area),
     * else 0: max-pool's backward (dX from dY) and unpool's forward. */
    clae_status (*pool_spread)(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf small,
                               clae_buf idx, clae_buf big);
    /* small[p,oy,ox] = big[p, idx[p,oy,ox]]: unpool's backward. */
    clae_status (*pool_pick)(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf big, clae_buf idx,
                             clae_buf small);
    /* Nearest upsample by K of `planes` planes of h×w: big[p,y,x] = small[p, y/K, x/K] (big is hK × wK). */
    clae_status (*upsample_forward)(clae_runtime *rt, size_t planes, size_t h, size_t w, size_t K, clae_buf small,
                                    clae_buf big);
    /* Its backward: small[p,oy,ox] = Σ_{u,v < K} big[p, oy·K + u, ox·K + v]. */
    clae_status (*upsample_backward)(clae_runtime *rt, size_t planes, size_t h, size_t w, size_t K, clae_buf big,
                                     clae_buf small);
    /* Y[n,c,i] += b[c] over n samples of C channels of HW pixels. */
    clae_status (*channel_bias_add)(clae_runtime *rt, size_t n, size_t C, size_t HW, clae_buf Y, clae_buf b);
    /* out[c] = Σ_n Σ_i G[n,c,i], in that order. */
    clae_status (*channel_sum)(clae_runtime *rt, size_t n, size_t C, size_t HW, clae_buf G, clae_buf out);
} clae_conv_ops;

extern const clae_conv_ops clae_conv_ops_ref; /* lib/ops/ops_conv_ref.c */
extern const clae_conv_ops clae_conv_ops_cl;  /* lib/ops/ops_conv_cl.c, kernels in cl/conv.cl */

/* The scratch conv_forward and conv_backward of geometry g over n samples take on rt's path, in floats:
 * col (n·Ho·Wo·C·K·K) and tmp (n·Ho·Wo·F) on OpenCL, 0 and 0 on the reference. */
void clae_op_conv_scratch(const clae_runtime *rt, const clae_conv_geom *g, size_t n, size_t *col, size_t *tmp);

clae_status clae_op_conv_forward(clae_runtime *rt, const clae_conv_geom *g, size_t n, clae_buf X, clae_buf W, clae_buf b,
                                 clae_buf Y, clae_buf col, clae_buf tmp);
clae_status clae_op_conv_backward(clae_runtime *rt, const clae_conv_geom *g, size_t n, clae_buf X, clae_buf W,
                                  clae_buf dY, clae_buf dW, clae_buf db, clae_buf dX, clae_buf col, clae_buf tmp);
clae_status clae_op_maxpool_forward(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf X,
                                    clae_buf Y, clae_buf idx);
clae_status clae_op_pool_spread(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf small,
                                clae_buf idx, clae_buf big);
clae_status clae_op_pool_pick(clae_runtime *rt, size_t planes, size_t H, size_t W, size_t K, clae_buf big, clae_buf idx,
                              clae_buf small);
clae_status clae_op_upsample_forward(clae_runtime *rt, size_t planes, size_t h, size_t w, size_t K, clae_buf small,
                                     clae_buf big);
clae_status clae_op_upsample_backward(clae_runtime *rt, size_t planes, size_t h, size_t w, size_t K, clae_buf big,
                                      clae_buf small);
clae_status clae_op_channel_bias_add(clae_runtime *rt, size_t n, size_t C, size_t HW, clae_buf Y, clae_buf b);
clae_status clae_op_channel_sum(clae_runtime *rt, size_t n, size_t C, size_t HW, clae_buf G, clae_buf out);

#endif
