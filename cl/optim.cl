/* optim.cl — one optimizer update per parameter (README, The math: optimizers), state in float32
 * with the parameters' layout. Each expression matches lib/ops/ops_ref.c operation for operation. */

/* SGD: θ ← θ − η·g. */
__kernel void opt_sgd(__global float *theta, ulong toff, __global const float *grad, ulong goff, ulong n,
                      float lr)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    theta[toff + i] = theta[toff + i] - lr * grad[goff + i];
}

/* Classical (Polyak) momentum: v ← μ·v − η·g; θ ← θ + v. */
__kernel void opt_momentum(__global float *theta, ulong toff, __global const float *grad, ulong goff,
                           __global float *v, ulong voff, ulong n, float lr, float mu)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    float vi = mu * v[voff + i] - lr * grad[goff + i];
    v[voff + i] = vi;
    theta[toff + i] = theta[toff + i] + vi;
}

/* Nesterov, re-parameterised (Sutskever et al. 2013): v ← μ·v + g; θ ← θ − η·(g + μ·v). */
__kernel void opt_nesterov(__global float *theta, ulong toff, __global const float *grad, ulong goff,
                           __global float *v, ulong voff, ulong n, float lr, float mu)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    float g = grad[goff + i];
    float vi = mu * v[voff + i] + g;
    v[voff + i] = vi;
    theta[toff + i] = theta[toff + i] - lr * (g + mu * vi);
}

/* Adam: m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; θ ← θ − η·(m/bc1)/(sqrt(v/bc2) + ε).
 * bc1 = 1−β1^t and bc2 = 1−β2^t come from the host (computed there in double). */
__kernel void opt_adam(__global float *theta, ulong toff, __global const float *grad, ulong goff,
                       __global float *m, ulong moff, __global float *v, ulong voff, ulong n, float lr,
                       float beta1, float beta2, float eps, float bc1, float bc2)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    float g = grad[goff + i];
    float mi = beta1 * m[moff + i] + (1.0f - beta1) * g;
    float vi = beta2 * v[voff + i] + (1.0f - beta2) * (g * g);
    m[moff + i] = mi;
    v[voff + i] = vi;
    float mhat = mi / bc1, vhat = vi / bc2;
    theta[toff + i] = theta[toff + i] - lr * mhat / (sqrt(vhat) + eps);
}

/* ADADELTA (Zeiler 2012): Eg2 ← ρ·Eg2 + (1−ρ)·g²; Δθ = −sqrt((Edx2+ε)/(Eg2+ε))·g;
 * Edx2 ← ρ·Edx2 + (1−ρ)·Δθ²; θ ← θ + Δθ. No learning rate. */
__kernel void opt_adadelta(__global float *theta, ulong toff, __global const float *grad, ulong goff,
                           __global float *eg2, ulong eoff, __global float *edx2, ulong doff, ulong n,
                           float rho, float eps)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    float g = grad[goff + i];
    float e = rho * eg2[eoff + i] + (1.0f - rho) * (g * g);
    float r = sqrt((edx2[doff + i] + eps) / (e + eps));
    float dx = -r * g;
    eg2[eoff + i] = e;
    edx2[doff + i] = rho * edx2[doff + i] + (1.0f - rho) * (dx * dx);
    theta[toff + i] = theta[toff + i] + dx;
}
