/*
 * spkv.h: the C API of spkv, speaker verification (libspkv.so).
 *
 * One header, opaque handles, status codes and message strings; no Swift type crosses it.
 * Build and install:  tools/c-api/install.sh PREFIX   (PREFIX/include/spkv.h, PREFIX/lib/libspkv.so)
 * Link:               cc app.c -IPREFIX/include -LPREFIX/lib -lspkv -Wl,-rpath,PREFIX/lib
 *
 * Conventions
 * - Every function that can fail returns an spkv_status; SPKV_OK (0) is success. On failure the calling thread's
 *   message (spkv_last_error) says what failed and why, naming the file or argument; outputs are left untouched
 *   and no handle is created.
 * - Audio is mono float samples in [-1, 1]. PCM at any rate from 1,000 to 768,000 Hz is resampled to the model's
 *   rate; files are read with libsndfile (WAV, FLAC, Ogg …; several channels are averaged).
 * - Embeddings are float arrays of spkv_model_info.embedding_size values; pass the array's capacity, a smaller
 *   one is SPKV_ERROR_BUFFER_TOO_SMALL.
 * - Thread safety: a model and a profile are immutable once made, and may be used by any number of threads at
 *   once (every call makes its own scratch memory). A session belongs to one thread at a time: its functions must
 *   not run concurrently with each other. spkv_last_error is per thread. Freeing a handle while another thread
 *   uses it is undefined; free functions accept NULL.
 */
#ifndef SPKV_H
#define SPKV_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header; spkv_api_version() returns the library's, which must be equal. */
#define SPKV_API_VERSION 1

typedef enum spkv_status {
    SPKV_OK = 0,
    SPKV_ERROR_INVALID_ARGUMENT = 1,  /* a NULL pointer, a size or value out of range, an empty name */
    SPKV_ERROR_MODEL = 2,             /* model file missing, corrupt, of another version, or inconsistent */
    SPKV_ERROR_AUDIO = 3,             /* audio unreadable, truncated, non-finite, digital silence, too short */
    SPKV_ERROR_PROFILE = 4,           /* profile unreadable, corrupt, unwritable, or made with another model */
    SPKV_ERROR_TOO_LITTLE_SPEECH = 5, /* enrollment or a session's verdict heard too little speech */
    SPKV_ERROR_NOT_CALIBRATED = 6,    /* a decision needs a threshold and the model outputs no LLR */
    SPKV_ERROR_BUFFER_TOO_SMALL = 7,  /* an output array's capacity is below the embedding size */
    SPKV_ERROR_STATE = 8              /* a session used after spkv_session_finish */
} spkv_status;

typedef struct spkv_model spkv_model;
typedef struct spkv_profile spkv_profile;
typedef struct spkv_session spkv_session;

/* ---- Library ---------------------------------------------------------------------------------------------- */

/* SPKV_API_VERSION of the library. Thread-safe. */
int spkv_api_version(void);
/* The library's version string, e.g. "0.1.0" (static storage). Thread-safe. */
const char *spkv_version(void);
/* The status's name, e.g. "SPKV_ERROR_AUDIO" (static storage; "unknown status" otherwise). Thread-safe. */
const char *spkv_status_name(spkv_status status);
/* The message of the calling thread's last failed call ("" if none). Valid until this thread's next spkv call. */
const char *spkv_last_error(void);

/* ---- Models ----------------------------------------------------------------------------------------------- */

/* Loads and checks a model file (format, version, checksum, tensors). *out is set only on success. */
spkv_status spkv_model_load(const char *path, spkv_model **out);
void spkv_model_free(spkv_model *model);

typedef struct spkv_model_info {
    int sample_rate;           /* Hz the model works at */
    int embedding_size;        /* floats per embedding */
    int outputs_llr;           /* 1: scores are calibrated log-likelihood ratios (linear or MagNetO); 0: cosine */
    int has_magneto;           /* 1: MagNetO magnitude network + offset */
    const char *architecture;  /* "ecapa-tdnn", "campplus" … (valid while the model lives) */
    const char *quantization;  /* "fp32" or "int8" (valid while the model lives) */
    const char *checksum;      /* CRC-32 of the weights, hex (valid while the model lives) */
} spkv_model_info;

spkv_status spkv_model_get_info(const spkv_model *model, spkv_model_info *out);

/* ---- Embeddings and scores -------------------------------------------------------------------------------- */

/* Embeds a whole audio file. For a MagNetO model the embedding is a*x/|x| (magnitude times unit vector). */
spkv_status spkv_embed_file(const spkv_model *model, const char *path, float *embedding, size_t capacity);
/* Embeds count samples at sample_rate. */
spkv_status spkv_embed_pcm(const spkv_model *model, const float *samples, size_t count, int sample_rate,
                           float *embedding, size_t capacity);

typedef struct spkv_score {
    double cosine;   /* cosine similarity of the two embeddings */
    double llr;      /* calibrated log-likelihood ratio when has_llr, else 0 */
    int has_llr;
    double score;    /* llr when has_llr, else cosine: what spkv score writes */
} spkv_score;

/* Compares two embeddings of this model (size values each) as spkv score does. */
spkv_status spkv_compare(const spkv_model *model, const float *a, const float *b, size_t size, spkv_score *out);

/* ---- Enrollment ------------------------------------------------------------------------------------------- */

/* Enrolls a speaker from count files: the mean of their embeddings. min_speech_seconds: detected speech needed
 * over all of them (negative: the default, 3 s). */
spkv_status spkv_enroll_files(const spkv_model *model, const char *name, const char *const *paths, size_t count,
                              double min_speech_seconds, spkv_profile **out);
/* The same from count clips of PCM at sample_rate: clip i is samples[i], lengths[i] samples long. */
spkv_status spkv_enroll_pcm(const spkv_model *model, const char *name, const float *const *samples,
                            const size_t *lengths, size_t count, int sample_rate, double min_speech_seconds,
                            spkv_profile **out);
/* Reads a profile written by spkv_profile_save or spkv enroll (checked against its CRC). */
spkv_status spkv_profile_load(const char *path, spkv_profile **out);
/* Writes the profile as JSON, atomically (a crash leaves the old file or the new one). */
spkv_status spkv_profile_save(const spkv_profile *profile, const char *path);
/* The profile's speaker name (valid while the profile lives). NULL for a NULL profile. */
const char *spkv_profile_name(const spkv_profile *profile);
/* The number of values of the profile's embedding (0 for a NULL profile). */
size_t spkv_profile_embedding_size(const spkv_profile *profile);
/* The profile's embedding, as spkv_embed_* would give for its speaker. */
spkv_status spkv_profile_embedding(const spkv_profile *profile, float *embedding, size_t capacity);
void spkv_profile_free(spkv_profile *profile);

/* ---- Verification ----------------------------------------------------------------------------------------- */

typedef struct spkv_decision {
    spkv_score score;
    double threshold;  /* what score.score was compared with */
    int accepted;      /* 1: the profile's speaker; 0: not */
} spkv_decision;

/* threshold: a fixed threshold on score.score, or NAN for the Bayes threshold log((1-P)/P) of a calibrated model
 * at target prior P = prior (0 < P < 1; SPKV_ERROR_NOT_CALIBRATED for an uncalibrated model). */
spkv_status spkv_verify_file(const spkv_model *model, const spkv_profile *profile, const char *path,
                             double threshold, double prior, spkv_decision *out);
spkv_status spkv_verify_pcm(const spkv_model *model, const spkv_profile *profile, const float *samples,
                            size_t count, int sample_rate, double threshold, double prior, spkv_decision *out);

/* ---- Streaming -------------------------------------------------------------------------------------------- */

typedef struct spkv_session_settings {
    int sample_rate;               /* rate of the pushed samples (resampled to the model's) */
    double window_seconds;         /* analysis window, re-scored at every refresh (default 3) */
    double refresh_seconds;        /* audio between two refreshes (default 0.25) */
    double min_speech_seconds;     /* speech a window, and the verdict, need (default 1) */
    double max_seconds;            /* audio after which the session takes no more (default 1800) */
    double threshold;              /* fixed threshold, or NAN: Bayes threshold at prior (default NAN) */
    double prior;                  /* target prior (default 0.01) */
    int background;                /* 1: score on a worker thread, push never waits for the encoder (refreshes
                                      that arrive while one is pending replace it); 0: score inside push
                                      (deterministic; default) */
} spkv_session_settings;

/* Fills *settings with the defaults above and sample_rate. */
void spkv_session_settings_init(spkv_session_settings *settings, int sample_rate);

typedef struct spkv_update {
    double time;            /* seconds of audio heard at the end of this window */
    double speech_seconds;  /* speech detected in the window */
    int has_score;          /* 0 when the window had too little speech */
    double score;           /* the window's score (LLR or cosine) */
    int has_smoothed;       /* 0 before the first scored window */
    double smoothed_score;  /* mean of the last 4 window scores */
    int accepted;           /* decision on the smoothed score; -1 while there is none */
} spkv_update;

/* A live session against profile (settings NULL: defaults at the model's rate). The session keeps its own
 * references to the model and the profile: their handles may be freed before it. */
spkv_status spkv_session_new(const spkv_model *model, const spkv_profile *profile,
                             const spkv_session_settings *settings, spkv_session **out);
/* Takes count samples. *accepted_all (may be NULL) is 0 once the session's max_seconds is reached. */
spkv_status spkv_session_push(spkv_session *session, const float *samples, size_t count, int *accepted_all);
/* Takes the oldest update not yet polled: *has_update is 1 and *out filled, or 0 when there is none. A session
 * keeps at most 4096 unpolled updates; past that the oldest are dropped. */
spkv_status spkv_session_poll(spkv_session *session, spkv_update *out, int *has_update);
/* The verdict on everything heard (scored as spkv_verify_pcm would score the same samples); ends the session:
 * later pushes are SPKV_ERROR_STATE, later polls still return the remaining updates. */
spkv_status spkv_session_finish(spkv_session *session, spkv_decision *out);
void spkv_session_free(spkv_session *session);

#ifdef __cplusplus
}
#endif

#endif /* SPKV_H */
