#pragma once
#include <alsa/asoundlib.h>

// snd_lib_error_set_handler needs a C variadic callback, which Swift cannot write; this helper lets
// Swift silence alsa-lib's own "ALSA lib ..." lines (they are reported through our errors instead).
static void spkv_alsa_silent_handler(const char *file, int line, const char *function,
                                     int err, const char *fmt, ...) {
    (void)file; (void)line; (void)function; (void)err; (void)fmt;
}
static inline void spkv_alsa_silence_errors(int silence) {
    snd_lib_error_set_handler(silence ? spkv_alsa_silent_handler : NULL);
}
