/* Compiles spkv.h as C on its own (it must need no other header than the C library's), so the Swift
 * implementation (SpkvCAPI) and C callers see the same types. The functions are defined in SpkvCAPI. */
#include "spkv.h"
