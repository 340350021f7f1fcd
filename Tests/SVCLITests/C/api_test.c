/* Exercises every function of spkv.h, and its error paths, against a real model and real audio.
 * usage: api_test MODEL AUDIO_DIR WORK_DIR
 * Compiled and run by SpkvCAPITests (under AddressSanitizer where the compiler has it); prints one line per
 * check and exits 1 at the first failed check. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include "spkv.h"

static int checks = 0;
#define CHECK(cond, ...) do { checks++; if (!(cond)) { fprintf(stderr, "FAILED line %d: ", __LINE__); \
    fprintf(stderr, __VA_ARGS__); fprintf(stderr, " (last error: %s)\n", spkv_last_error()); exit(1); } } while (0)
/* A call that must fail with `status` and say something containing `words`. */
#define EXPECT_FAIL(call, status, words) do { spkv_status s_ = (call); \
    CHECK(s_ == (status), "%s returned %s, expected %s", #call, spkv_status_name(s_), spkv_status_name(status)); \
    CHECK(strstr(spkv_last_error(), (words)) != NULL, "%s: message '%s' lacks '%s'", #call, spkv_last_error(), (words)); } while (0)
#define OK(call) do { spkv_status s_ = (call); CHECK(s_ == SPKV_OK, "%s returned %s", #call, spkv_status_name(s_)); } while (0)

static char path_buf[4096];
static const char *join(const char *dir, const char *name) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
    return path_buf;
}

/* A tone burst pattern: not speech, but energy the VAD accepts; deterministic. */
static float *synth(size_t n, int rate, double hz) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(0.3 * sin(2 * M_PI * hz * (double)i / rate) * (0.6 + 0.4 * sin(2 * M_PI * 3.0 * (double)i / rate)));
    return x;
}

struct thread_job { const spkv_model *model; const char *path; float *out; size_t size; spkv_status status; };
static void *embed_in_thread(void *arg) {
    struct thread_job *job = arg;
    job->status = spkv_embed_file(job->model, job->path, job->out, job->size);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: api_test MODEL AUDIO_DIR WORK_DIR\n"); return 2; }
    const char *model_path = argv[1], *audio = argv[2], *work = argv[3];

    /* Library. */
    CHECK(spkv_api_version() == SPKV_API_VERSION, "api version %d", spkv_api_version());
    CHECK(strlen(spkv_version()) > 0, "empty version");
    CHECK(strcmp(spkv_status_name(SPKV_ERROR_AUDIO), "SPKV_ERROR_AUDIO") == 0, "status name");
    CHECK(strcmp(spkv_status_name((spkv_status)99), "unknown status") == 0, "unknown status name");
    CHECK(strcmp(spkv_last_error(), "") == 0, "a fresh thread has no error");

    /* Models: bad paths and files, then the real one. */
    spkv_model *model = NULL;
    EXPECT_FAIL(spkv_model_load(NULL, &model), SPKV_ERROR_INVALID_ARGUMENT, "path is NULL");
    EXPECT_FAIL(spkv_model_load(model_path, NULL), SPKV_ERROR_INVALID_ARGUMENT, "out is NULL");
    EXPECT_FAIL(spkv_model_load(join(work, "missing.safetensors"), &model), SPKV_ERROR_MODEL, "missing.safetensors");
    FILE *f = fopen(join(work, "corrupt.safetensors"), "wb"); fputs("not a model file at all", f); fclose(f);
    EXPECT_FAIL(spkv_model_load(join(work, "corrupt.safetensors"), &model), SPKV_ERROR_MODEL, "corrupt.safetensors");
    CHECK(model == NULL, "a failed load set the handle");
    OK(spkv_model_load(model_path, &model));
    spkv_model_info info;
    EXPECT_FAIL(spkv_model_get_info(NULL, &info), SPKV_ERROR_INVALID_ARGUMENT, "model is NULL");
    EXPECT_FAIL(spkv_model_get_info(model, NULL), SPKV_ERROR_INVALID_ARGUMENT, "out is NULL");
    OK(spkv_model_get_info(model, &info));
    CHECK(info.sample_rate == 16000 && info.embedding_size > 0, "info %d %d", info.sample_rate, info.embedding_size);
    CHECK(info.outputs_llr == 1 && strlen(info.checksum) == 8 && strlen(info.architecture) > 0, "info strings");
    CHECK(strcmp(info.quantization, "fp32") == 0 || strcmp(info.quantization, "int8") == 0, "quantization %s", info.quantization);
    size_t d = (size_t)info.embedding_size;
    printf("model: %s %s, %d Hz, %zu values, LLR %d, MagNetO %d\n", info.architecture, info.quantization, info.sample_rate, d,
           info.outputs_llr, info.has_magneto);

    /* Embeddings. */
    float *a = calloc(d, sizeof *a), *b = calloc(d, sizeof *b), *c = calloc(d, sizeof *c);
    EXPECT_FAIL(spkv_embed_file(model, join(audio, "no-such.flac"), a, d), SPKV_ERROR_AUDIO, "no-such.flac");
    f = fopen(join(work, "truncated.wav"), "wb"); fputs("RIFF\x24\x00\x00\x00WAVEfmt ", f); fclose(f);
    EXPECT_FAIL(spkv_embed_file(model, join(work, "truncated.wav"), a, d), SPKV_ERROR_AUDIO, "truncated.wav");
    EXPECT_FAIL(spkv_embed_file(model, join(audio, "joe_7400B3J1.flac"), a, d - 1), SPKV_ERROR_BUFFER_TOO_SMALL, "holds");
    EXPECT_FAIL(spkv_embed_file(model, NULL, a, d), SPKV_ERROR_INVALID_ARGUMENT, "path is NULL");
    EXPECT_FAIL(spkv_embed_file(NULL, join(audio, "joe_7400B3J1.flac"), a, d), SPKV_ERROR_INVALID_ARGUMENT, "model is NULL");
    OK(spkv_embed_file(model, join(audio, "joe_7400B3J1.flac"), a, d));
    OK(spkv_embed_file(model, join(audio, "joe_JOE02451.flac"), b, d));
    OK(spkv_embed_file(model, join(audio, "other_400008P3.flac"), c, d));

    /* The same file from two threads at once gives the same embedding (a model is shared between threads). */
    float *t1 = calloc(d, sizeof *t1), *t2 = calloc(d, sizeof *t2);
    char joe_path[4096]; snprintf(joe_path, sizeof joe_path, "%s/joe_7400B3J1.flac", audio);
    struct thread_job j1 = { model, joe_path, t1, d, SPKV_ERROR_STATE }, j2 = { model, joe_path, t2, d, SPKV_ERROR_STATE };
    pthread_t th1, th2;
    pthread_create(&th1, NULL, embed_in_thread, &j1); pthread_create(&th2, NULL, embed_in_thread, &j2);
    pthread_join(th1, NULL); pthread_join(th2, NULL);
    CHECK(j1.status == SPKV_OK && j2.status == SPKV_OK, "threaded embeds");
    CHECK(memcmp(t1, a, d * sizeof *a) == 0 && memcmp(t2, a, d * sizeof *a) == 0, "threaded embeds differ");

    /* PCM: bad arguments, NaN, digital silence, rates. */
    size_t n = 3 * 16000;
    float *tone16 = synth(n, 16000, 220), *tone8 = synth(n / 2, 8000, 220);
    EXPECT_FAIL(spkv_embed_pcm(model, tone16, n, 0, a, d), SPKV_ERROR_AUDIO, "rate");
    EXPECT_FAIL(spkv_embed_pcm(model, tone16, n, 10000000, a, d), SPKV_ERROR_AUDIO, "rate");
    EXPECT_FAIL(spkv_embed_pcm(model, tone16, 0, 16000, a, d), SPKV_ERROR_AUDIO, "");
    EXPECT_FAIL(spkv_embed_pcm(model, NULL, n, 16000, a, d), SPKV_ERROR_INVALID_ARGUMENT, "samples is NULL");
    EXPECT_FAIL(spkv_embed_pcm(model, tone16, (size_t)-1, 16000, a, d), SPKV_ERROR_INVALID_ARGUMENT, "not a length");
    EXPECT_FAIL(spkv_embed_pcm(model, tone16, (size_t)1 << 40, 1000, a, d), SPKV_ERROR_AUDIO, "");
    float saved = tone16[100]; tone16[100] = NAN;
    EXPECT_FAIL(spkv_embed_pcm(model, tone16, n, 16000, a, d), SPKV_ERROR_AUDIO, "");
    tone16[100] = saved;
    float *zeros = calloc(n, sizeof *zeros);
    EXPECT_FAIL(spkv_embed_pcm(model, zeros, n, 16000, a, d), SPKV_ERROR_AUDIO, "digital silence");
    float *p16 = calloc(d, sizeof *p16), *p8 = calloc(d, sizeof *p8);
    OK(spkv_embed_pcm(model, tone16, n, 16000, p16, d));
    OK(spkv_embed_pcm(model, tone8, n / 2, 8000, p8, d));

    /* Scores. */
    spkv_score same, other, resampled;
    EXPECT_FAIL(spkv_compare(model, a, b, d + 1, &same), SPKV_ERROR_INVALID_ARGUMENT, "size");
    EXPECT_FAIL(spkv_compare(model, a, NULL, d, &same), SPKV_ERROR_INVALID_ARGUMENT, "b is NULL");
    OK(spkv_compare(model, a, b, d, &same));
    OK(spkv_compare(model, a, c, d, &other));
    OK(spkv_compare(model, p16, p8, d, &resampled));
    CHECK(same.has_llr == 1 && same.score == same.llr, "calibrated score");
    CHECK(same.score > other.score, "Joe vs Joe %.3f not above Joe vs other %.3f", same.score, other.score);
    CHECK(resampled.cosine > 0.8, "8 kHz and 16 kHz copies of one signal differ: cosine %.3f", resampled.cosine);
    printf("scores: joe/joe %.3f, joe/other %.3f, 8k/16k cosine %.3f\n", same.score, other.score, resampled.cosine);

    /* Enrollment from files, save / load, and verification. */
    const char *joe_files[3]; char p0[4096], p1[4096], p2[4096];
    snprintf(p0, sizeof p0, "%s/joe_13001EJ1.flac", audio); snprintf(p1, sizeof p1, "%s/joe_370007J1.flac", audio);
    snprintf(p2, sizeof p2, "%s/joe_JOE00942.flac", audio);
    joe_files[0] = p0; joe_files[1] = p1; joe_files[2] = p2;
    spkv_profile *joe = NULL, *loaded = NULL;
    EXPECT_FAIL(spkv_enroll_files(model, "joe", joe_files, 0, -1, &joe), SPKV_ERROR_INVALID_ARGUMENT, "count");
    EXPECT_FAIL(spkv_enroll_files(model, "", joe_files, 3, -1, &joe), SPKV_ERROR_INVALID_ARGUMENT, "name");
    EXPECT_FAIL(spkv_enroll_files(model, "joe", joe_files, 3, 1e9, &joe), SPKV_ERROR_INVALID_ARGUMENT, "min_speech");
    EXPECT_FAIL(spkv_enroll_files(model, "joe", joe_files, 1, 600, &joe), SPKV_ERROR_TOO_LITTLE_SPEECH, "too little speech");
    CHECK(joe == NULL, "a failed enrollment set the handle");
    OK(spkv_enroll_files(model, "joe", joe_files, 3, -1, &joe));
    CHECK(strcmp(spkv_profile_name(joe), "joe") == 0 && spkv_profile_name(NULL) == NULL, "profile name");
    CHECK(spkv_profile_embedding_size(joe) == d && spkv_profile_embedding_size(NULL) == 0, "profile embedding size");
    EXPECT_FAIL(spkv_profile_save(joe, join(work, "no-such-dir/joe.json")), SPKV_ERROR_PROFILE, "no-such-dir");
    char profile_path[4096]; snprintf(profile_path, sizeof profile_path, "%s/joe.json", work);
    OK(spkv_profile_save(joe, profile_path));
    OK(spkv_profile_load(profile_path, &loaded));
    float *e1 = calloc(d, sizeof *e1), *e2 = calloc(d, sizeof *e2);
    EXPECT_FAIL(spkv_profile_embedding(joe, e1, 1), SPKV_ERROR_BUFFER_TOO_SMALL, "holds");
    OK(spkv_profile_embedding(joe, e1, d));
    OK(spkv_profile_embedding(loaded, e2, d));
    CHECK(memcmp(e1, e2, d * sizeof *e1) == 0, "a saved and reloaded profile differs");
    f = fopen(join(work, "bad.json"), "wb"); fputs("{\"format\": \"spkv-profile\"", f); fclose(f);
    spkv_profile *bad = NULL;
    EXPECT_FAIL(spkv_profile_load(join(work, "bad.json"), &bad), SPKV_ERROR_PROFILE, "bad.json");

    spkv_decision yes, no;
    EXPECT_FAIL(spkv_verify_file(model, loaded, joe_path, NAN, 0, &yes), SPKV_ERROR_INVALID_ARGUMENT, "prior");
    EXPECT_FAIL(spkv_verify_file(model, loaded, joe_path, INFINITY, 0.01, &yes), SPKV_ERROR_INVALID_ARGUMENT, "threshold");
    EXPECT_FAIL(spkv_verify_file(model, NULL, joe_path, NAN, 0.01, &yes), SPKV_ERROR_INVALID_ARGUMENT, "profile is NULL");
    OK(spkv_verify_file(model, loaded, joe_path, NAN, 0.01, &yes));
    OK(spkv_verify_file(model, loaded, join(audio, "other_400008P3.flac"), NAN, 0.01, &no));
    CHECK(yes.accepted == 1 && no.accepted == 0, "Joe accepted %d (%.3f), other rejected %d (%.3f)", yes.accepted, yes.score.score,
          no.accepted, no.score.score);
    CHECK(fabs(yes.threshold - log(99.0)) < 1e-9, "Bayes threshold %.6f", yes.threshold);
    spkv_decision fixed;
    OK(spkv_verify_file(model, loaded, joe_path, 1e6, 0.01, &fixed));
    CHECK(fixed.accepted == 0 && fixed.threshold == 1e6, "a fixed threshold was not used");

    /* Enrollment and verification from PCM: a model enrolled on one signal accepts it, at any rate. */
    const float *clips[2] = { tone16, tone16 }; size_t lengths[2] = { n, n };
    spkv_profile *tone = NULL;
    EXPECT_FAIL(spkv_enroll_pcm(model, "tone", clips, lengths, 2, 16000, 100, &tone), SPKV_ERROR_TOO_LITTLE_SPEECH, "too little speech");
    EXPECT_FAIL(spkv_enroll_pcm(model, "tone", NULL, lengths, 2, 16000, 0, &tone), SPKV_ERROR_INVALID_ARGUMENT, "samples is NULL");
    OK(spkv_enroll_pcm(model, "tone", clips, lengths, 2, 16000, 0, &tone));
    spkv_decision pcm;
    OK(spkv_verify_pcm(model, tone, tone8, n / 2, 8000, NAN, 0.5, &pcm));
    CHECK(pcm.score.cosine > 0.8, "PCM verification cosine %.3f", pcm.score.cosine);
    EXPECT_FAIL(spkv_verify_pcm(model, tone, zeros, n, 16000, NAN, 0.5, &pcm), SPKV_ERROR_AUDIO, "digital silence");

    /* A profile of another model is refused. */
    f = fopen(profile_path, "rb"); char text[65536]; size_t len = fread(text, 1, sizeof text - 1, f); fclose(f); text[len] = 0;
    char *sum = strstr(text, info.checksum);
    CHECK(sum != NULL, "the profile does not name the model's checksum");
    sum[0] = sum[0] == '0' ? '1' : '0';
    f = fopen(join(work, "other-model.json"), "wb"); fwrite(text, 1, len, f); fclose(f);
    spkv_profile *foreign = NULL;
    OK(spkv_profile_load(join(work, "other-model.json"), &foreign));
    EXPECT_FAIL(spkv_verify_file(model, foreign, joe_path, NAN, 0.01, &yes), SPKV_ERROR_PROFILE, "enrolled with model");
    spkv_session *refused = NULL;
    EXPECT_FAIL(spkv_session_new(model, foreign, NULL, &refused), SPKV_ERROR_PROFILE, "enrolled with model");
    CHECK(refused == NULL, "a refused session set the handle");

    /* Streaming, inline scoring: pushes in odd-sized pieces at 8 kHz, updates polled, verdict = batch verify. */
    spkv_session_settings settings;
    spkv_session_settings_init(&settings, 8000);
    CHECK(settings.window_seconds == 3 && isnan(settings.threshold) && settings.background == 0, "default settings");
    spkv_session *session = NULL;
    settings.refresh_seconds = 10; /* more than the window */
    EXPECT_FAIL(spkv_session_new(model, loaded, &settings, &session), SPKV_ERROR_INVALID_ARGUMENT, "refresh_seconds");
    settings.refresh_seconds = 0.5; settings.sample_rate = 5;
    EXPECT_FAIL(spkv_session_new(model, loaded, &settings, &session), SPKV_ERROR_INVALID_ARGUMENT, "rate");
    settings.sample_rate = 8000; settings.max_seconds = 2.5; settings.prior = 0.5;
    OK(spkv_session_new(model, tone, &settings, &session));
    spkv_update update; int has = 0, all = 1, updates = 0;
    OK(spkv_session_poll(session, &update, &has));
    CHECK(has == 0, "an update before any audio");
    EXPECT_FAIL(spkv_session_push(session, NULL, 10, &all), SPKV_ERROR_INVALID_ARGUMENT, "samples is NULL");
    for (size_t at = 0; at < n / 2; at += 777) {
        size_t k = n / 2 - at < 777 ? n / 2 - at : 777;
        OK(spkv_session_push(session, tone8 + at, k, &all));
    }
    CHECK(all == 0, "a push past max_seconds said all was taken");
    while (spkv_session_poll(session, &update, &has) == SPKV_OK && has) {
        updates++;
        CHECK(update.time > 0 && update.time <= 2.5 + 1e-9, "update time %.3f", update.time);
        CHECK(update.accepted == -1 || update.has_smoothed, "a decision without a smoothed score");
    }
    CHECK(updates == 5, "%d updates for 2.5 s at 0.5 s refreshes", updates);
    spkv_decision verdict, again;
    EXPECT_FAIL(spkv_session_finish(session, NULL), SPKV_ERROR_INVALID_ARGUMENT, "out is NULL");
    OK(spkv_session_finish(session, &verdict));
    OK(spkv_session_finish(session, &again));
    CHECK(memcmp(&verdict, &again, sizeof verdict) == 0, "finish twice differs");
    EXPECT_FAIL(spkv_session_push(session, tone8, 10, &all), SPKV_ERROR_STATE, "finished");
    CHECK(verdict.score.cosine > 0.8, "session verdict cosine %.3f", verdict.score.cosine);
    spkv_session_free(session);

    /* Streaming on the worker thread, at the model's rate; the model and profile handles freed first. */
    spkv_session_settings_init(&settings, 16000);
    settings.background = 1; settings.min_speech_seconds = 0.5;
    OK(spkv_session_new(model, tone, NULL, &session));
    spkv_session_free(session);
    OK(spkv_session_new(model, tone, &settings, &session));
    spkv_model *second = NULL; OK(spkv_model_load(model_path, &second));
    spkv_session *orphan = NULL; OK(spkv_session_new(second, tone, &settings, &orphan));
    spkv_model_free(second);
    OK(spkv_session_push(orphan, tone16, n, NULL));
    OK(spkv_session_finish(orphan, &verdict));
    spkv_session_free(orphan);
    OK(spkv_session_push(session, tone16, n, &all));
    OK(spkv_session_finish(session, &verdict));
    updates = 0;
    while (spkv_session_poll(session, &update, &has) == SPKV_OK && has) updates++;
    CHECK(updates >= 1 && updates <= 12, "%d worker updates for 3 s", updates);
    spkv_session_free(session);

    /* A session that heard only silence has no verdict. */
    OK(spkv_session_new(model, tone, NULL, &session));
    OK(spkv_session_push(session, zeros, n, NULL));
    EXPECT_FAIL(spkv_session_finish(session, &verdict), SPKV_ERROR_TOO_LITTLE_SPEECH, "too little speech");
    EXPECT_FAIL(spkv_session_finish(session, &verdict), SPKV_ERROR_TOO_LITTLE_SPEECH, "too little speech");
    spkv_session_free(session);

    /* Free functions accept NULL. */
    spkv_model_free(NULL); spkv_profile_free(NULL); spkv_session_free(NULL);
    spkv_profile_free(joe); spkv_profile_free(loaded); spkv_profile_free(tone); spkv_profile_free(foreign);
    spkv_model_free(model);
    free(a); free(b); free(c); free(t1); free(t2); free(tone16); free(tone8); free(zeros); free(p16); free(p8); free(e1); free(e2);
    printf("all %d checks passed\n", checks);
    return 0;
}
