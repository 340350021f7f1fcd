// Int8 "same" convolution as packed-panel GEMM: AVX-512 VNNI (vpdpbusd) with a portable fallback.
// Both produce bit-identical results (integer accumulation, one fused multiply-add per output);
// see spkv_int8.h for the data layout and Tests/SVKernelsTests for the naive Swift twin.
#include "spkv_int8.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define ZERO_POINT 128

size_t spkv_q8_packed_bytes(int k, int frames) {
    return (size_t)spkv_q8_k4(k) * (size_t)spkv_q8_tp(frames);
}

static inline uint8_t quantise(float x, float inv_scale) {
    float v = x * inv_scale;
    v = v > -128.0f ? v : -128.0f;          // clamping before rounding equals clamping after it (integer
    v = v < 127.0f ? v : 127.0f;            // bounds); a NaN ends at -128, as in the vector path
    return (uint8_t)((int)nearbyintf(v) + ZERO_POINT);   // round half to even (default rounding mode)
}

static inline int mirror(int i, int frames) {
    if (i < 0) i = -i;
    if (i >= frames) i = 2 * (frames - 1) - i;
    return i;
}

/// One K row of the panel, columns [from, to): the scalar path (edges, and everything without AVX-512).
static void pack_row_scalar(const float *x, int frames, int kernel, int dilation, int reflect, float inv_scale,
                            int row, int from, int to, uint8_t *packed, int tp) {
    const int c = row / kernel, j = row % kernel, shift = j * dilation - dilation * (kernel - 1) / 2;
    const float *src = x + (size_t)c * frames;
    uint8_t *dst = packed + (size_t)(row >> 2) * tp * 4 + (row & 3);
    for (int t = from; t < to; t++) {
        int i = t + shift;
        if (i < 0 || i >= frames) {
            if (!reflect) { dst[(size_t)t * 4] = ZERO_POINT; continue; }
            i = mirror(i, frames);
        }
        dst[(size_t)t * 4] = quantise(src[i], inv_scale);
    }
}

/// Columns [lo, hi) where row `row` reads inside the input (no padding).
static void interior(int row, int frames, int kernel, int dilation, int *lo, int *hi) {
    const int shift = (row % kernel) * dilation - dilation * (kernel - 1) / 2;
    *lo = shift < 0 ? -shift : 0;
    *hi = frames - (shift > 0 ? shift : 0);
    if (*lo > frames) *lo = frames;
    if (*hi < *lo) *hi = *lo;
}

static void pack_portable(const float *x, int channels, int frames, int kernel, int dilation, int reflect,
                          float inv_scale, uint8_t *packed) {
    const int k = channels * kernel, tp = spkv_q8_tp(frames);
    memset(packed, ZERO_POINT, spkv_q8_packed_bytes(k, frames));
    for (int row = 0; row < k; row++)
        pack_row_scalar(x, frames, kernel, dilation, reflect, inv_scale, row, 0, frames, packed, tp);
}

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni,fma")))

/// 16 floats -> 16 quantised bytes (q + 128): clamp in float (the same as clamping after rounding,
/// the bounds being integers), round half to even (MXCSR default), narrow.
VNNI static inline __m128i quantise16(const float *src, __m512 inv, __m512 low, __m512 high) {
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(src), inv);
    v = _mm512_min_ps(_mm512_max_ps(v, low), high);
    return _mm_xor_si128(_mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)), _mm_set1_epi8((char)0x80));
}

/// 16 columns of 4 rows of bytes -> the 64 bytes [t][4] of a panel (VNNI's 4 consecutive K values per lane).
VNNI static inline void store_interleaved(const __m128i q[4], uint8_t *dst) {
    const __m128i a0 = _mm_unpacklo_epi8(q[0], q[1]), a1 = _mm_unpackhi_epi8(q[0], q[1]);
    const __m128i b0 = _mm_unpacklo_epi8(q[2], q[3]), b1 = _mm_unpackhi_epi8(q[2], q[3]);
    _mm_storeu_si128((__m128i *)dst, _mm_unpacklo_epi16(a0, b0));
    _mm_storeu_si128((__m128i *)(dst + 16), _mm_unpackhi_epi16(a0, b0));
    _mm_storeu_si128((__m128i *)(dst + 32), _mm_unpacklo_epi16(a1, b1));
    _mm_storeu_si128((__m128i *)(dst + 48), _mm_unpackhi_epi16(a1, b1));
}

/// Each group of 4 K rows, 16 columns at a time: four rows quantised and interleaved into the
/// 64 bytes [t][4] of the panel; columns where a row of the group reads padding use the scalar path.
VNNI static void pack_avx512(const float *x, int channels, int frames, int kernel, int dilation, int reflect,
                             float inv_scale, uint8_t *packed) {
    const int k = channels * kernel, k4 = spkv_q8_k4(k), tp = spkv_q8_tp(frames);
    const __m512 inv = _mm512_set1_ps(inv_scale), low = _mm512_set1_ps(-128.0f), high = _mm512_set1_ps(127.0f);
    const __m128i zero_point = _mm_set1_epi8((char)ZERO_POINT);
    for (int g = 0; g < k4 / 4; g++) {
        uint8_t *panel = packed + (size_t)g * tp * 4;
        const float *src[4];
        int lo = 0, hi = frames;
        for (int r = 0; r < 4; r++) {
            const int row = 4 * g + r;
            if (row >= k) { src[r] = NULL; continue; }
            int rlo, rhi;
            interior(row, frames, kernel, dilation, &rlo, &rhi);
            if (rlo > lo) lo = rlo;
            if (rhi < hi) hi = rhi;
            const int shift = (row % kernel) * dilation - dilation * (kernel - 1) / 2;
            src[r] = x + (size_t)(row / kernel) * frames + shift;   // src[r][t] is row r at column t
        }
        if (hi < lo) hi = lo;
        int t = lo;
        for (; t + 16 <= hi; t += 16) {
            __m128i q[4];
            for (int r = 0; r < 4; r++) q[r] = src[r] ? quantise16(src[r] + t, inv, low, high) : zero_point;
            store_interleaved(q, panel + (size_t)t * 4);
        }
        // Edges and the remainder, row by row; the panel's padding columns hold the zero point.
        for (int r = 0; r < 4; r++) {
            const int row = 4 * g + r;
            uint8_t *dst = panel + r;
            if (row >= k) {
                for (int c = 0; c < tp; c++) dst[(size_t)c * 4] = ZERO_POINT;
                continue;
            }
            pack_row_scalar(x, frames, kernel, dilation, reflect, inv_scale, row, 0, lo, packed, tp);
            pack_row_scalar(x, frames, kernel, dilation, reflect, inv_scale, row, t, frames, packed, tp);
            for (int c = frames; c < tp; c++) dst[(size_t)c * 4] = ZERO_POINT;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Channel-interleaved activations (the indirect GEMM's input).

/// The stored byte of v with zero point zp (128: signed int8 + 128; 0: unsigned): clamping before
/// rounding equals clamping after it (integer bounds); a NaN ends at the low bound, as in the vector path.
static inline uint8_t quantise_zp(float x, float inv_scale, int zp) {
    float v = x * inv_scale;
    v = v > (float)-zp ? v : (float)-zp;
    v = v < (float)(255 - zp) ? v : (float)(255 - zp);
    return (uint8_t)((int)nearbyintf(v) + zp);
}

/// The value quantised for channel c at data column t: affine map, then ReLU (NaN -> 0).
static inline float prepared(const float *x, int c, int channel_stride, int t, int frame_step,
                             const float *a, const float *b, int relu) {
    float v = x[(size_t)c * channel_stride + (size_t)t * frame_step];
    if (a) v = fmaf(a[c], v, b[c]);
    if (relu) v = v > 0 ? v : 0.0f;
    return v;
}

/// Group g's columns [from, to) of data, channel by channel (the scalar path).
static void interleave_scalar(const float *x, int channels, int channel_stride, int frame_step, const float *a,
                              const float *b, int relu, float inv_scale, int zp, int margin, int width, int g,
                              int from, int to, uint8_t *out) {
    for (int i = 0; i < 4; i++) {
        const int c = 4 * g + i;
        uint8_t *dst = out + ((size_t)g * width + margin) * 4 + i;
        for (int t = from; t < to; t++)
            dst[(size_t)t * 4] = c < channels
                ? quantise_zp(prepared(x, c, channel_stride, t, frame_step, a, b, relu), inv_scale, zp) : (uint8_t)zp;
    }
}

/// The zero-point columns of group g outside the data.
static void interleave_margins(int frames, int zp, int margin, int width, int g, uint8_t *out) {
    uint8_t *run = out + (size_t)g * width * 4;
    memset(run, zp, (size_t)margin * 4);
    if (margin + frames < width) memset(run + (size_t)(margin + frames) * 4, zp, (size_t)(width - margin - frames) * 4);
}

static void interleave_portable(const float *x, int channels, int channel_stride, int frames, int frame_step,
                                const float *a, const float *b, int relu, float inv_scale, int zp, int margin,
                                int width, uint8_t *out) {
    for (int g = 0; g < (channels + 3) / 4; g++) {
        interleave_margins(frames, zp, margin, width, g, out);
        interleave_scalar(x, channels, channel_stride, frame_step, a, b, relu, inv_scale, zp, margin, width, g, 0,
                          frames, out);
    }
}

VNNI static void interleave_avx512(const float *x, int channels, int channel_stride, int frames, int frame_step,
                                   const float *a, const float *b, int relu, float inv_scale, int zp, int margin,
                                   int width, uint8_t *out) {
    const __m512 inv = _mm512_set1_ps(inv_scale), low = _mm512_set1_ps((float)-zp), high = _mm512_set1_ps((float)(255 - zp));
    const __m512 zero = _mm512_setzero_ps();
    const __m512i offset = _mm512_set1_epi32(zp);
    const __m128i zero_point = _mm_set1_epi8((char)zp);
    // Strided columns (a stride-2 convolution's phases) take the scalar path.
    const int vector_end = frame_step == 1 ? frames - frames % 16 : 0;
    for (int g = 0; g < (channels + 3) / 4; g++) {
        interleave_margins(frames, zp, margin, width, g, out);
        uint8_t *run = out + ((size_t)g * width + margin) * 4;
        for (int t = 0; t < vector_end; t += 16) {
            __m128i q[4];
            for (int i = 0; i < 4; i++) {
                const int c = 4 * g + i;
                if (c >= channels) { q[i] = zero_point; continue; }
                __m512 v = _mm512_loadu_ps(x + (size_t)c * channel_stride + t);
                if (a) v = _mm512_fmadd_ps(_mm512_set1_ps(a[c]), v, _mm512_set1_ps(b[c]));
                if (relu) v = _mm512_max_ps(v, zero);   // NaN -> 0 (the second operand), as the scalar path
                v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, inv), low), high);
                q[i] = _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), offset));
            }
            store_interleaved(q, run + (size_t)t * 4);
        }
        interleave_scalar(x, channels, channel_stride, frame_step, a, b, relu, inv_scale, zp, margin, width, g,
                          vector_end, frames, out);
    }
}

// ---------------------------------------------------------------------------------------------
// Portable kernel.

static void gemm_portable(const int8_t *w, const int32_t *compensation, int m, int groups,
                          const uint8_t *const *panels, int frames, const float *scale, const float *bias,
                          int relu, float *y, int ldy) {
    for (int r = 0; r < m; r++) {
        const int8_t *wr = w + (size_t)r * groups * 4;
        float *yr = y + (size_t)r * ldy;
        for (int t = 0; t < frames; t++) {
            int32_t acc = 0;
            for (int g = 0; g < groups; g++) {
                const uint8_t *b = panels[g] + (size_t)t * 4;
                acc += (int32_t)b[0] * wr[4 * g] + (int32_t)b[1] * wr[4 * g + 1]
                     + (int32_t)b[2] * wr[4 * g + 2] + (int32_t)b[3] * wr[4 * g + 3];
            }
            const float v = fmaf((float)(acc - compensation[r]), scale[r], bias ? bias[r] : 0.0f);
            yr[t] = relu ? (v > 0 ? v : 0.0f) : v;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AVX-512 VNNI kernel: a tile of ROWS output rows x NV*16 columns kept in ROWS*NV zmm accumulators;
// per group of 4 K values, NV panel loads and ROWS broadcast weights feed ROWS*NV vpdpbusd.

#define MAX_ROWS 6
#define MAX_NV 4

VNNI static inline __attribute__((always_inline)) void
tile(const int8_t *w, int groups, const int32_t *compensation, const uint8_t *const *panels, int col, int frames,
     const float *scale, const float *bias, int relu, float *y, int ldy, const int ROWS, const int NV) {
    __m512i acc[MAX_ROWS][MAX_NV];
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_si512();
    for (int g = 0; g < groups; g++) {
        const uint8_t *bp = panels[g] + (size_t)col * 4;
        __m512i b[MAX_NV];
        for (int v = 0; v < NV; v++) b[v] = _mm512_loadu_si512((const void *)(bp + 64 * v));
        for (int r = 0; r < ROWS; r++) {
            int32_t quad;
            memcpy(&quad, w + ((size_t)r * groups + g) * 4, 4);
            const __m512i a = _mm512_set1_epi32(quad);
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], b[v], a);
        }
    }
    for (int r = 0; r < ROWS; r++) {
        const __m512i comp = _mm512_set1_epi32(compensation[r]);
        const __m512 s = _mm512_set1_ps(scale[r]), c = _mm512_set1_ps(bias ? bias[r] : 0.0f);
        // max(v, 0) sends a NaN to 0, as the portable path does
        const __m512 floor = relu ? _mm512_setzero_ps() : _mm512_set1_ps(-INFINITY);
        for (int v = 0; v < NV; v++) {
            const int t0 = col + 16 * v;
            if (t0 >= frames) break;
            const int left = frames - t0;
            const __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
            const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][v], comp));
            __m512 v = _mm512_fmadd_ps(f, s, c);
            if (relu) v = _mm512_max_ps(v, floor);
            _mm512_mask_storeu_ps(y + (size_t)r * ldy + t0, mask, v);
        }
    }
}

#define TILE(R, V) case (R) * 8 + (V): \
    tile(w, groups, compensation, panels, col, frames, scale, bias, relu, y, ldy, R, V); break;

VNNI static void tile_dispatch(int rows, int nv, const int8_t *w, int groups, const int32_t *compensation,
                               const uint8_t *const *panels, int col, int frames, const float *scale,
                               const float *bias, int relu, float *y, int ldy) {
    switch (rows * 8 + nv) {
        TILE(1, 1) TILE(1, 2) TILE(1, 3) TILE(1, 4)
        TILE(2, 1) TILE(2, 2) TILE(2, 3) TILE(2, 4)
        TILE(3, 1) TILE(3, 2) TILE(3, 3) TILE(3, 4)
        TILE(4, 1) TILE(4, 2) TILE(4, 3) TILE(4, 4)
        TILE(5, 1) TILE(5, 2) TILE(5, 3) TILE(5, 4)
        TILE(6, 1) TILE(6, 2) TILE(6, 3) TILE(6, 4)
        default: break;
    }
}

VNNI static void gemm_vnni(const int8_t *w, const int32_t *compensation, int m, int groups,
                           const uint8_t *const *panels, int frames, const float *scale, const float *bias,
                           int relu, float *y, int ldy) {
    // Column blocks of 64 outer, row blocks inner: one panel block (groups x 64 bytes) serves all rows.
    for (int col = 0; col < frames; col += 16 * MAX_NV) {
        const int nv = (frames - col + 15) / 16 < MAX_NV ? (frames - col + 15) / 16 : MAX_NV;
        for (int r = 0; r < m; r += MAX_ROWS) {
            const int rows = m - r < MAX_ROWS ? m - r : MAX_ROWS;
            tile_dispatch(rows, nv, w + (size_t)r * groups * 4, groups, compensation + r, panels, col, frames,
                          scale + r, bias ? bias + r : NULL, relu, y + (size_t)r * ldy, ldy);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dispatch.

static int best = -1;
// A per-thread override (tests comparing the kernels), so threads running at the same time never
// see each other's choice.
static _Thread_local int forced = -1;

static int supported(int kernel) {
    if (kernel == 0) return 1;
    __builtin_cpu_init();
    return kernel == 1 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vnni");
}

int spkv_q8_best_kernel(void) {
    if (best < 0) best = supported(1) ? 1 : 0;
    return best;
}

int spkv_q8_kernel(void) { return forced >= 0 ? forced : spkv_q8_best_kernel(); }

int spkv_q8_set_kernel(int kernel) {
    const int previous = spkv_q8_kernel();
    if (kernel >= 0 && supported(kernel)) forced = kernel;
    return previous;
}

void spkv_q8_pack(const float *x, int channels, int frames, int kernel, int dilation, int reflect,
                  float inv_scale, uint8_t *packed) {
    if (spkv_q8_kernel() == 1) pack_avx512(x, channels, frames, kernel, dilation, reflect, inv_scale, packed);
    else pack_portable(x, channels, frames, kernel, dilation, reflect, inv_scale, packed);
}

void spkv_q8_interleave(const float *x, int channels, int channel_stride, int frames, int frame_step,
                        const float *affine_scale, const float *affine_shift, int relu, float inv_scale,
                        int zero_point, int margin, int width, uint8_t *out) {
    if (spkv_q8_kernel() == 1)
        interleave_avx512(x, channels, channel_stride, frames, frame_step, affine_scale, affine_shift, relu, inv_scale,
                          zero_point, margin, width, out);
    else
        interleave_portable(x, channels, channel_stride, frames, frame_step, affine_scale, affine_shift, relu, inv_scale,
                            zero_point, margin, width, out);
}

void spkv_q8_gemm_indirect(const int8_t *w, const int32_t *compensation, int m, int groups,
                           const uint8_t *const *panels, int frames, const float *scale, const float *bias,
                           int relu, float *y, int ldy) {
    if (spkv_q8_kernel() == 1) gemm_vnni(w, compensation, m, groups, panels, frames, scale, bias, relu, y, ldy);
    else gemm_portable(w, compensation, m, groups, panels, frames, scale, bias, relu, y, ldy);
}

void spkv_q8_gemm(const int8_t *w, const int32_t *compensation, int m, int k, const uint8_t *packed,
                  int frames, const float *scale, const float *bias, float *y, int ldy) {
    // The packed panels are consecutive runs of tp columns: one pointer per group of 4 K rows.
    const int groups = spkv_q8_k4(k) / 4, tp = spkv_q8_tp(frames);
    const uint8_t *panels[groups > 0 ? groups : 1];
    for (int g = 0; g < groups; g++) panels[g] = packed + (size_t)g * tp * 4;
    spkv_q8_gemm_indirect(w, compensation, m, groups, panels, frames, scale, bias, 0, y, ldy);
}
