/* elementwise.cl — per-element kernels of the dense layer: bias add, activation forward/backward,
 * and the beta-scaling of C that a GEMM with K = 0 reduces to. */

/* Z[r,c] += b[c]. Dimension 0 runs along columns so neighbouring work-items touch neighbouring
 * floats (coalesced on GPUs). Global sizes are rounded up, hence the bounds check. */
__kernel void bias_add(__global float *Z, ulong zoff, __global const float *b, ulong boff, ulong rows,
                       ulong cols)
{
    ulong c = get_global_id(0), r = get_global_id(1);
    if (c >= cols || r >= rows) return;
    Z[zoff + r * cols + c] += b[boff + c];
}

/* A = f(Z); A may alias Z (each item reads its element before writing it). */
__kernel void act_forward(int f, __global const float *Z, ulong zoff, __global float *A, ulong aoff,
                          ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    float z = Z[zoff + i], a;
    switch (f) {
    case CLAE_ACT_SIGMOID: a = clae_sigmoid(z); break;
    case CLAE_ACT_TANH: a = tanh(z); break;
    case CLAE_ACT_RELU: a = z > 0.0f ? z : 0.0f; break;
    default: a = z; break;
    }
    A[aoff + i] = a;
}

/* G = G ⊙ f'(·) from the cached output A — the backward twin of act_forward. */
__kernel void act_backward(int f, __global const float *A, ulong aoff, __global float *G, ulong goff,
                           ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    G[goff + i] = G[goff + i] * clae_act_deriv(f, A[aoff + i]);
}

/* C[r, c] = beta·C[r, c] for an M×N block with leading dimension ldc; beta = 0 stores zeros
 * without reading C, as BLAS does, so uninitialised memory cannot leak NaNs through. */
__kernel void gemm_scale_c(__global float *C, ulong coff, ulong ldc, ulong M, ulong N, float beta)
{
    ulong c = get_global_id(0), r = get_global_id(1);
    if (c >= N || r >= M) return;
    ulong i = coff + r * ldc + c;
    C[i] = beta == 0.0f ? 0.0f : beta * C[i];
}
