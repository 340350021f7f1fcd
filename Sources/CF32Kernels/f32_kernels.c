// fp32 indirect GEMM on AVX-512 F: a tile of MR output rows x NV*16 columns in MR*NV zmm accumulators;
// per K index, NV vector loads from that K row's pointer and MR broadcast weights feed MR*NV FMAs.
// See spkv_f32.h for the contract and Tests/SVKernelsTests/F32IndirectTests.swift for its twin.
#include "spkv_f32.h"
#include <immintrin.h>
#include <string.h>

#define MR SPKV_F32_MR
#define MAX_NV 4
#define AVX512 __attribute__((target("avx512f,fma")))

size_t spkv_f32_packed_count(int m, int k) { return (size_t)((m + MR - 1) / MR) * MR * (size_t)k; }

void spkv_f32_pack_weights(const float *w, int m, int k, int ldw, float *packed) {
    for (int b = 0; b < (m + MR - 1) / MR; b++)
        for (int j = 0; j < k; j++)
            for (int r = 0; r < MR; r++) {
                const int row = b * MR + r;
                packed[((size_t)b * k + j) * MR + r] = row < m ? w[(size_t)row * ldw + j] : 0.0f;
            }
}

AVX512 static inline __attribute__((always_inline)) void
tile(const float *wb, int k, const float *const *rows, int col, int frames, int valid_rows, const float *bias,
     int relu, float *y, int ldy, const int NV) {
    __m512 acc[MR][MAX_NV];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int j = 0; j < k; j++) {
        const float *bp = rows[j] + col;
        __m512 b[MAX_NV];
        for (int v = 0; v < NV; v++) b[v] = _mm512_loadu_ps(bp + 16 * v);
        const float *a = wb + (size_t)j * MR;
        for (int r = 0; r < MR; r++) {
            const __m512 ar = _mm512_set1_ps(a[r]);
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(ar, b[v], acc[r][v]);
        }
    }
    for (int r = 0; r < valid_rows; r++) {
        const __m512 c = _mm512_set1_ps(bias ? bias[r] : 0.0f);
        for (int v = 0; v < NV; v++) {
            const int t0 = col + 16 * v;
            if (t0 >= frames) break;
            const int left = frames - t0;
            const __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
            __m512 out = _mm512_add_ps(acc[r][v], c);
            if (relu) out = _mm512_max_ps(out, _mm512_setzero_ps());
            _mm512_mask_storeu_ps(y + (size_t)r * ldy + t0, mask, out);
        }
    }
}

AVX512 void spkv_f32_gemm_indirect(const float *packed, int m, int k, const float *const *rows, int from, int frames,
                                   const float *bias, int relu, float *y, int ldy) {
    // Column blocks of 64 outer, row blocks inner: the K x 64 input block is reused by every row block.
    for (int col = from; col < frames; col += 16 * MAX_NV) {
        const int nv = (frames - col + 15) / 16 < MAX_NV ? (frames - col + 15) / 16 : MAX_NV;
        for (int r = 0; r < m; r += MR) {
            const int valid = m - r < MR ? m - r : MR;
            const float *wb = packed + (size_t)(r / MR) * MR * k;
            const float *b = bias ? bias + r : NULL;
            float *yr = y + (size_t)r * ldy;
            switch (nv) {
                case 1: tile(wb, k, rows, col, frames, valid, b, relu, yr, ldy, 1); break;
                case 2: tile(wb, k, rows, col, frames, valid, b, relu, yr, ldy, 2); break;
                case 3: tile(wb, k, rows, col, frames, valid, b, relu, yr, ldy, 3); break;
                default: tile(wb, k, rows, col, frames, valid, b, relu, yr, ldy, 4); break;
            }
        }
    }
}

int spkv_f32_available(void) {
    static int available = -1;
    if (available < 0) {
        __builtin_cpu_init();
        available = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return available;
}
