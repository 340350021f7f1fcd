/* Enroll Joe from three recordings, then verify two more (spkv's C API). */
#include <math.h>
#include <stdio.h>
#include "spkv.h"

int main(int argc, char **argv) {   /* argv: MODEL ENROLL1 ENROLL2 ENROLL3 TEST... */
    spkv_model *model; spkv_profile *joe; spkv_decision d;
    if (argc < 6 || spkv_model_load(argv[1], &model) != SPKV_OK) {
        fprintf(stderr, "%s\n", argc < 6 ? "usage: MODEL E1 E2 E3 TEST..." : spkv_last_error());
        return 1;
    }
    if (spkv_enroll_files(model, "joe", (const char *const *)&argv[2], 3, -1, &joe) != SPKV_OK) {
        fprintf(stderr, "enroll: %s\n", spkv_last_error());
        return 1;
    }
    for (int i = 5; i < argc; i++) {  /* NAN: the calibrated model's Bayes threshold at prior 0.01 */
        if (spkv_verify_file(model, joe, argv[i], NAN, 0.01, &d) != SPKV_OK) {
            fprintf(stderr, "verify: %s\n", spkv_last_error());
            return 1;
        }
        printf("%s: %s (LLR %.2f)\n", argv[i], d.accepted ? "accept" : "reject", d.score.llr);
    }
    spkv_profile_free(joe);
    spkv_model_free(model);
    return 0;
}
