#pragma once
#include <alsa/asoundlib.h>
#include <stdarg.h>
#include <stdio.h>

// snd_lib_error_set_handler needs a C variadic callback, which Swift cannot write. These helpers either
// silence alsa-lib's own "ALSA lib ..." stderr lines, or format each one and pass it to a plain C
// callback that Swift can provide (spkv routes them into its own error messages).
static void spkv_alsa_silent_handler(const char *file, int line, const char *function,
                                     int err, const char *fmt, ...) {
    (void)file; (void)line; (void)function; (void)err; (void)fmt;
}
static inline void spkv_alsa_silence_errors(int silence) {
    snd_lib_error_set_handler(silence ? spkv_alsa_silent_handler : NULL);
}

typedef void (*spkv_alsa_log_fn)(const char *message);
static spkv_alsa_log_fn spkv_alsa_log_target = 0;

static void spkv_alsa_log_handler(const char *file, int line, const char *function,
                                  int err, const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char message[800];
    snprintf(message, sizeof message, "%s:%d (%s) %s%s%s", file, line, function, text,
             err ? ": " : "", err ? snd_strerror(err) : "");
    if (spkv_alsa_log_target) spkv_alsa_log_target(message);
}

/// Sends every alsa-lib message, formatted, to `target` (NULL: silence them).
static inline void spkv_alsa_route_errors(spkv_alsa_log_fn target) {
    spkv_alsa_log_target = target;
    snd_lib_error_set_handler(target ? spkv_alsa_log_handler : spkv_alsa_silent_handler);
}
