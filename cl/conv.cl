/* conv.cl — the image kernels of the convolutional autoencoder (Masci et al. 2011) over NCHW tensors: im2col and
 * col2im around the GEMMs, NCHW <-> pixel-row reshapes, max-pool, unpool, upsample and the per-channel bias. */

/* The geometry of lib/ops/ops_conv.h: C×H×W images, F filters of C×K×K, stride S, padding P, Ho×Wo outputs.
 * The column matrix has one row per output pixel r = (s·Ho + oy)·Wo + ox and one column per filter tap
 * j = (c·K + u)·K + v, so the forward GEMM multiplies it by W's rows as they are stored (F × C·K·K).
 *
 * Work-items run along dimension 0 over the fastest-varying index of what they write, so a work-group's
 * stores are consecutive floats (coalesced on GPUs, whole cache lines on CPUs). Index arithmetic is
 * split so that divisions either depend on dimension 1 only (one value per work-group of size (WG, 1))
 * or are done once per work-item ahead of a loop, never once per float copied. */

/* col[r, j] = X[s, c, oy·S − P + u, ox·S − P + v], 0 in the padding. Item (j, s·Ho + oy) fills column j
 * of the Wo rows of output row oy of sample s. */
__kernel void conv_im2col(__global const float *X, ulong xoff, __global float *col, ulong coff, ulong C, ulong H,
                          ulong W, ulong K, ulong S, ulong P, ulong Ho, ulong Wo, ulong rows)
{
    ulong j = get_global_id(0), sy = get_global_id(1);
    ulong KK = K * K, CKK = C * KK;
    if (j >= CKK || sy >= rows) return;
    ulong s = sy / Ho, oy = sy - s * Ho;
    ulong c = j / KK, t = j - c * KK;
    ulong u = t / K, v = t - u * K;
    __global float *out = col + coff + sy * Wo * CKK + j;
    /* y and x in padded coordinates (shifted by P) so they stay unsigned. */
    ulong yp = oy * S + u;
    if (yp < P || yp - P >= H) {
        for (ulong ox = 0; ox < Wo; ox++) out[ox * CKK] = 0.0f;
        return;
    }
    __global const float *in = X + xoff + ((s * C + c) * H + (yp - P)) * W;
    ulong xp = v;
    for (ulong ox = 0; ox < Wo; ox++, xp += S) out[ox * CKK] = (xp < P || xp - P >= W) ? 0.0f : in[xp - P];
}

/* dX[s, c, y, x] = Σ over the taps (u, v) whose output pixel oy = (y + P − u)/S, ox = (x + P − v)/S is
 * whole and inside of col[(s·Ho + oy)·Wo + ox, (c·K + u)·K + v] — col already holds Σ_f W·dY per tap, so
 * this gather sums at most ⌈K/S⌉² terms, u ascending then v ascending, with no atomics. Item (y·W + x, s·C + c):
 * whole planes along dimension 0, so small widths still fill a work-group. */
__kernel void conv_col2im(__global const float *col, ulong coff, __global float *dX, ulong xoff, ulong C, ulong H,
                          ulong W, ulong K, ulong S, ulong P, ulong Ho, ulong Wo, ulong planes)
{
    ulong i = get_global_id(0), sc = get_global_id(1);
    if (i >= H * W || sc >= planes) return;
    ulong y = i / W, x = i - y * W;
    ulong s = sc / C, c = sc - s * C;
    ulong CKK = C * K * K;
    /* The first tap u0 = (y + P) mod S lands on a whole oy; each later one is S further and one oy lower. */
    ulong ty = y + P, tx = x + P;
    ulong u0 = ty % S, oy0 = ty / S;
    ulong v0 = tx % S, ox0 = tx / S;
    __global const float *base = col + coff + s * Ho * Wo * CKK + c * K * K;
    clae_sum acc = {0, 0};
    ulong oy = oy0;
    for (ulong u = u0; u < K && u <= ty; u += S, oy--) {
        if (oy >= Ho) continue;
        ulong ox = ox0;
        for (ulong v = v0; v < K && v <= tx; v += S, ox--) {
            if (ox >= Wo) continue;
            clae_sum_add(&acc, (acc_t)base[(oy * Wo + ox) * CKK + u * K + v]);
        }
    }
    dX[xoff + sc * H * W + i] = (float)acc.s;
}

/* Y[s, f, p] = tmp[s·HoWo + p, f] (+ b[f] when has_bias): the GEMM's pixel rows back to NCHW.
 * Item (p, s·F + f). */
__kernel void conv_rows_to_nchw(__global const float *tmp, ulong toff, __global float *Y, ulong yoff,
                                __global const float *b, ulong boff, int has_bias, ulong F, ulong HoWo, ulong planes)
{
    ulong p = get_global_id(0), sf = get_global_id(1);
    if (p >= HoWo || sf >= planes) return;
    ulong s = sf / F, f = sf - s * F;
    float v = tmp[toff + (s * HoWo + p) * F + f];
    Y[yoff + sf * HoWo + p] = has_bias ? v + b[boff + f] : v;
}

/* tmp[s·HoWo + p, f] = dY[s, f, p]: the output gradient as pixel rows for the backward GEMMs.
 * Item (p, s·F + f), reading dY's planes along their rows. */
__kernel void conv_nchw_to_rows(__global const float *dY, ulong yoff, __global float *tmp, ulong toff, ulong F,
                                ulong HoWo, ulong planes)
{
    ulong p = get_global_id(0), sf = get_global_id(1);
    if (p >= HoWo || sf >= planes) return;
    ulong s = sf / F, f = sf - s * F;
    tmp[toff + (s * HoWo + p) * F + f] = dY[yoff + sf * HoWo + p];
}

/* Y[q, oy, ox] = max of the K×K window, idx = y·W + x of its first maximum in row-major window order
 * (a later value replaces it only when strictly greater, as in the reference, so ties keep the first and
 * NaNs behave alike on both paths). Item (ox, q·Ho + oy). */
__kernel void maxpool_fwd(__global const float *X, ulong xoff, __global float *Y, ulong yoff, __global float *idx,
                          ulong ioff, ulong H, ulong W, ulong K, ulong Wo, ulong rows)
{
    ulong ox = get_global_id(0), qo = get_global_id(1);
    if (ox >= Wo || qo >= rows) return;
    ulong Ho = H / K;
    ulong q = qo / Ho, oy = qo - q * Ho;
    __global const float *plane = X + xoff + q * H * W;
    ulong best = oy * K * W + ox * K;
    float m = plane[best];
    for (ulong u = 0; u < K; u++) {
        ulong at = (oy * K + u) * W + ox * K;
        for (ulong v = 0; v < K; v++, at++)
            if (plane[at] > m) {
                m = plane[at];
                best = at;
            }
    }
    Y[yoff + qo * Wo + ox] = m;
    idx[ioff + qo * Wo + ox] = (float)best;
}

/* big[p, y, x] = small[p, y/K, x/K] where idx there is y·W + x, else 0. Item (ox, p·Ho + oy) writes its window's
 * K×K floats (the rows and columns past the last whole window are zeroed by the host first), so the one
 * division is by Ho, per work-item. */
__kernel void pool_spread(__global const float *small, ulong soff, __global const float *idx, ulong ioff,
                          __global float *big, ulong boff, uint H, uint W, uint K, uint rows)
{
    uint ox = get_global_id(0), r = get_global_id(1);
    uint Ho = H / K, Wo = W / K;
    if (ox >= Wo || r >= rows) return;
    uint q = r / Ho, oy = r - q * Ho;
    ulong o = (ulong)r * Wo + ox;
    float v = small[soff + o];
    uint at = (uint)idx[ioff + o];
    __global float *out = big + boff + ((ulong)q * H + oy * K) * W + ox * K;
    for (uint u = 0; u < K; u++)
        for (uint w = 0; w < K; w++) out[u * W + w] = ((oy * K + u) * W + ox * K + w) == at ? v : 0.0f;
}

/* small[q, o] = big[q, idx[q, o]]. Item (o, q). */
__kernel void pool_pick(__global const float *big, ulong boff, __global const float *idx, ulong ioff,
                        __global float *small, ulong soff, ulong HW, ulong ns, ulong planes)
{
    ulong o = get_global_id(0), q = get_global_id(1);
    if (o >= ns || q >= planes) return;
    small[soff + q * ns + o] = big[boff + q * HW + (ulong)idx[ioff + q * ns + o]];
}

/* big[q, y, x] = small[q, y/K, x/K], big being hK × wK. Item (x, q·hK + y). */
__kernel void upsample_fwd(__global const float *small, ulong soff, __global float *big, ulong boff, ulong h, ulong w,
                           ulong K, ulong rows)
{
    ulong x = get_global_id(0), qy = get_global_id(1), Wb = w * K;
    if (x >= Wb || qy >= rows) return;
    ulong Hb = h * K;
    ulong q = qy / Hb, y = qy - q * Hb;
    big[boff + qy * Wb + x] = small[soff + (q * h + y / K) * w + x / K];
}

/* small[q, oy, ox] = Σ_{u, v < K} big[q, oy·K + u, ox·K + v], u then v. Item (ox, q·h + oy). */
__kernel void upsample_bwd(__global const float *big, ulong boff, __global float *small, ulong soff, ulong w, ulong K,
                           ulong rows)
{
    ulong ox = get_global_id(0), qo = get_global_id(1);
    if (ox >= w || qo >= rows) return;
    ulong Wb = w * K;
    /* Row oy·K + u of plane q is row qo·K + u of the stacked planes (each plane is h·K rows). */
    __global const float *win = big + boff + qo * K * Wb + ox * K;
    clae_sum acc = {0, 0};
    for (ulong u = 0; u < K; u++)
        for (ulong v = 0; v < K; v++) clae_sum_add(&acc, (acc_t)win[u * Wb + v]);
    small[soff + qo * w + ox] = (float)acc.s;
}

/* Y[s, c, i] += b[c]. Item (i, s·C + c). */
__kernel void channel_bias_add(__global float *Y, ulong yoff, __global const float *b, ulong boff, ulong C, ulong HW,
                               ulong planes)
{
    ulong i = get_global_id(0), sc = get_global_id(1);
    if (i >= HW || sc >= planes) return;
    Y[yoff + sc * HW + i] += b[boff + sc % C];
}

/* out[c] = Σ_s Σ_i G[s, c, i] in that order, one work-item per channel (deterministic, as colsum). */
__kernel void channel_sum(__global const float *G, ulong goff, __global float *out, ulong ooff, ulong n, ulong C,
                          ulong HW)
{
    ulong c = get_global_id(0);
    if (c >= C) return;
    clae_sum acc = {0, 0};
    for (ulong s = 0; s < n; s++) {
        __global const float *g = G + goff + (s * C + c) * HW;
        for (ulong i = 0; i < HW; i++) clae_sum_add(&acc, (acc_t)g[i]);
    }
    out[ooff + c] = (float)acc.s;
}
