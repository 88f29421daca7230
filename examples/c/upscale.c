/* Upscales an image with Prism's C API: upscale IN.png OUT.png [MODEL] */
#include <stdio.h>
#include "prism.h"

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s IN OUT [MODEL]\n", argv[0]); return 2; }
    PrismUpscaler *upscaler = NULL;
    PrismImage in = {0}, out = {0};
    PrismStatus status = prism_upscaler_new(argc > 3 ? argv[3] : NULL, NULL, &upscaler);
    if (status == PRISM_STATUS_OK) status = prism_image_load(argv[1], &in);
    if (status == PRISM_STATUS_OK) status = prism_upscale(upscaler, &in, &out, NULL, NULL);
    if (status == PRISM_STATUS_OK) status = prism_image_save(argv[2], &out);
    if (status != PRISM_STATUS_OK) fprintf(stderr, "error: %s\n", prism_last_error());
    prism_image_free(&in);
    prism_image_free(&out);
    prism_upscaler_free(upscaler);
    return status == PRISM_STATUS_OK ? 0 : (int)status;
}
