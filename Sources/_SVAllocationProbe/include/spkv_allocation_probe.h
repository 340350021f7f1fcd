#ifndef SPKV_ALLOCATION_PROBE_H
#define SPKV_ALLOCATION_PROBE_H

/// Heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made by the
/// calling thread since it started. Only meaningful in a binary that links this target: it replaces
/// those functions with counting wrappers around glibc's own implementations.
unsigned long spkv_thread_allocations(void);

/// The same count over all threads.
unsigned long spkv_process_allocations(void);

#endif
