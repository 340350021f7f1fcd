// Counts heap allocations per thread, for the "no allocation on the audio path" measurements of
// tests and benchmarks. Defining malloc & co. in the executable interposes them over libc's (ELF
// symbol resolution prefers the executable); each wrapper bumps two counters and forwards to the
// glibc entry points that exist for exactly this purpose (__libc_malloc etc.). The thread-local
// counter uses static TLS (no allocation, usable before any other code runs on the thread).
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdatomic.h>
#include "spkv_allocation_probe.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static __thread unsigned long thread_count __attribute__((tls_model("initial-exec")));
static atomic_ulong process_count;

static inline void count(void) {
    thread_count++;
    atomic_fetch_add_explicit(&process_count, 1, memory_order_relaxed);
}

void *malloc(size_t size) { count(); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { count(); return __libc_realloc(p, size); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    count();
    void *p = __libc_memalign(alignment, size);
    if (p == NULL && size != 0) return ENOMEM;
    *out = p;
    return 0;
}

unsigned long spkv_thread_allocations(void) { return thread_count; }
unsigned long spkv_process_allocations(void) { return atomic_load_explicit(&process_count, memory_order_relaxed); }
