#ifndef SPKV_INT8_H
#define SPKV_INT8_H

#include <stddef.h>
#include <stdint.h>

/// Int8 convolution kernels (u8 activations x s8 weights -> s32), for the quantized ECAPA-TDNN.
///
/// Activations are quantised per tensor: q = clamp(round_half_even(x * inv_scale), -128, 127),
/// stored as q + 128 (unsigned, zero point 128) in "VNNI panels": the im2col matrix K x T
/// (K = channels * kernel, row c*kernel + j = channel c shifted by j*dilation - pad) is stored as
/// K4/4 groups of Tp columns of 4 consecutive K values (K4 = K rounded up to 4, Tp = T rounded up
/// to 16; padding holds the zero point). Weights are int8, rows of K4 bytes (zero padded), with
/// compensation[m] = 128 * sum_k w[m][k] so that sum (q + 128) w - compensation = sum q w exactly.
/// The output is y[m][t] = fma((float)(acc - compensation[m]), scale[m], bias[m]).

/// Rounds up to the panel sizes.
static inline int spkv_q8_k4(int k) { return (k + 3) & ~3; }
static inline int spkv_q8_tp(int frames) { return (frames + 15) & ~15; }

/// Bytes of the packed panel for K = channels*kernel rows and `frames` columns.
size_t spkv_q8_packed_bytes(int k, int frames);

/// Quantises x (channels x frames, row-major) into im2col VNNI panels for a `kernel`-tap "same"
/// convolution with `dilation`; edges are mirrored (reflect != 0, PyTorch reflect) or zero.
void spkv_q8_pack(const float *x, int channels, int frames, int kernel, int dilation, int reflect,
                  float inv_scale, uint8_t *packed);

/// y (m x frames, row stride ldy) = dequantised W (m x K4 int8) . packed panels (+ bias, may be NULL).
void spkv_q8_gemm(const int8_t *w, const int32_t *compensation, int m, int k, const uint8_t *packed,
                  int frames, const float *scale, const float *bias, float *y, int ldy);

/// Channel-interleaved activations, the layout the indirect GEMM reads (no im2col): channels in
/// groups of 4, each group a run of `width` columns of 4 bytes, out[(g*width + col)*4 + i] = the stored
/// byte of channel 4g+i at data column t = col - margin (`zero_point` outside [margin, margin + frames)
/// and for channels >= `channels`). The value read is v = x[c*channel_stride + t*frame_step]; with
/// `affine_scale` non-NULL, v = affine_scale[c]*v + affine_shift[c] (fmaf); with `relu`, v = max(v, 0)
/// (a NaN becomes 0); the stored byte is clamp(round_half_even(v * inv_scale), -zero_point,
/// 255 - zero_point) + zero_point: zero_point 128 is signed int8 (q in [-128, 127]), 0 is unsigned
/// (q in [0, 255], for inputs that are never negative). A NaN that reaches the clamp stores 0.
/// `out` holds ceil(channels/4) * width * 4 bytes.
void spkv_q8_interleave(const float *x, int channels, int channel_stride, int frames, int frame_step,
                        const float *affine_scale, const float *affine_shift, int relu, float inv_scale,
                        int zero_point, int margin, int width, uint8_t *out);

/// Indirect GEMM: y[m][t] = fma((float)(acc - compensation[m]), scale[m], bias[m]) (then max(., 0)
/// when `relu`), acc = sum over groups g and i < 4 of panels[g][4t + i] * w[m][4g + i], for t < frames
/// (compensation[m] = zero_point * sum_k w[m][k] removes the stored bytes' offset exactly).
/// Each panels[g] is one 4-channel run of an interleaved tensor, already offset to the column the
/// convolution tap reads for output column 0, and must be readable for spkv_q8_tp(frames) columns.
/// w: m rows of 4*groups int8. bias may be NULL (0).
void spkv_q8_gemm_indirect(const int8_t *w, const int32_t *compensation, int m, int groups,
                           const uint8_t *const *panels, int frames, const float *scale, const float *bias,
                           int relu, float *y, int ldy);

/// The best implementation this CPU runs: 0 portable C, 1 AVX-512 VNNI.
int spkv_q8_best_kernel(void);
/// Which implementation spkv_q8_gemm and spkv_q8_pack use on the calling thread.
int spkv_q8_kernel(void);
/// Forces one on the calling thread (tests compare both); returns the previous choice. An
/// unsupported choice is ignored.
int spkv_q8_set_kernel(int kernel);

#endif
