#ifndef SPKV_F32_H
#define SPKV_F32_H

#include <stddef.h>

/// fp32 convolution as an indirect GEMM on AVX-512 (CAM++'s fp32 path): no im2col copy and no packing of
/// the activations. Output row m, column t:
///     y[m][t] = bias[m] + sum_k w[m][k] * rows[k][t]      (then max(., 0) when relu)
/// where rows[k] points at column 0 of the input row that K index k reads (a channel of the input at the
/// tap's offset), readable for spkv_f32_tp(frames) floats (the kernel reads whole vectors of 16; columns
/// past `frames` only feed outputs it does not store). The sum runs in k order with fused multiply-adds.
///
/// Weights are packed once, at load: row blocks of SPKV_F32_MR rows, each k a run of SPKV_F32_MR floats
/// (zero for rows past m).

#define SPKV_F32_MR 6

static inline int spkv_f32_tp(int frames) { return (frames + 15) & ~15; }

/// Floats of the packed weights of an m x k matrix.
size_t spkv_f32_packed_count(int m, int k);
/// Packs row-major w (m x k, row stride ldw) into `packed` (spkv_f32_packed_count floats).
void spkv_f32_pack_weights(const float *w, int m, int k, int ldw, float *packed);

/// Columns [from, to) of y (m rows, row stride ldy) as above (`from` a multiple of 16, so that threads may
/// split the columns; rows[k] readable up to column spkv_f32_tp(to) - 1). bias may be NULL (0). Needs
/// spkv_f32_available().
void spkv_f32_gemm_indirect(const float *packed, int m, int k, const float *const *rows, int from, int to,
                            const float *bias, int relu, float *y, int ldy);

/// Whether this CPU runs the kernel (AVX-512 F); without it callers use OpenBLAS.
int spkv_f32_available(void);

#endif
