/* select.cl — top-k masks of k-sparse (Makhzani & Frey 2013, along rows) and winner-take-all (Makhzani
 * & Frey 2015, down columns), and the gradient mask. Same selection as the reference, element by element. */

/* Does value a at index i come before value b at index j? Value descending, index ascending on
 * ties, NaN after every number (NaNs among themselves by index): a strict total order, so the
 * selected set is unique and both paths find the same one. */
int clae_ranks_before(float a, ulong i, float b, ulong j)
{
    if (isnan(a)) return isnan(b) && i < j;
    if (isnan(b)) return 1;
    return a > b || (a == b && i < j);
}

/* M[r,c] = 1 if fewer than k elements of row r come before A[r,c], else 0: its rank decides, so
 * every element is one independent work-item (no sort, no atomics) and the count stops at k. */
__kernel void topk_rows_mask(__global const float *A, ulong aoff, __global float *M, ulong moff, ulong rows,
                             ulong cols, ulong k)
{
    ulong c = get_global_id(0), r = get_global_id(1);
    if (c >= cols || r >= rows) return;
    __global const float *row = A + aoff + r * cols;
    float v = row[c];
    ulong ahead = 0;
    for (ulong j = 0; j < cols && ahead < k; j++) ahead += clae_ranks_before(row[j], j, v, c);
    M[moff + r * cols + c] = ahead < k ? 1.0f : 0.0f;
}

/* The same down column c: M[r,c] = 1 if fewer than m rows of column c come before A[r,c].
 * Work-items on neighbouring columns read neighbouring floats of each row. */
__kernel void topk_cols_mask(__global const float *A, ulong aoff, __global float *M, ulong moff, ulong rows,
                             ulong cols, ulong m)
{
    ulong c = get_global_id(0), r = get_global_id(1);
    if (c >= cols || r >= rows) return;
    float v = A[aoff + r * cols + c];
    ulong ahead = 0;
    for (ulong j = 0; j < rows && ahead < m; j++) ahead += clae_ranks_before(A[aoff + j * cols + c], j, v, r);
    M[moff + r * cols + c] = ahead < m ? 1.0f : 0.0f;
}

/* A = A ⊙ M for a 0/1 mask, written as a select so an unselected ±inf or NaN becomes 0 (inf·0 is
 * NaN). A separate launch: the mask kernels read whole rows/columns of A while deciding. */
__kernel void topk_apply(__global float *A, ulong aoff, __global const float *M, ulong moff, ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    if (M[moff + i] == 0.0f) A[aoff + i] = 0.0f;
}

/* G = G ⊙ M: the gradient flows only through the selected entries. */
__kernel void mul_mask(__global float *G, ulong goff, __global const float *M, ulong moff, ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    G[goff + i] = G[goff + i] * M[moff + i];
}
