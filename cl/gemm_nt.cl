/* gemm_nt.cl — the tiled GEMM engine's NT kernels, C = alpha·A·Bᵀ with B read as it lies, for products of a few
 * rows (inference on small batches); the bodies and the epilogue are in gemm.h. */

/* One row of C (batch-1 inference): a row of A against NT1_TN rows of B. */
__kernel void gemm_nt_1(GEMM_NT_ARGS) GEMM_NT_BODY(1, CLAE_GEMM_NT1_TN)

/* Up to eight rows of C share each B load. */
__kernel void gemm_nt_8(GEMM_NT_ARGS) GEMM_NT_BODY(8, CLAE_GEMM_NT8_TN)
