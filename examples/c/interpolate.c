/* The frame halfway between two images: interpolate A.png B.png OUT.png [MODEL] */
#include <stdio.h>
#include "prism.h"

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s A B OUT [MODEL]\n", argv[0]); return 2; }
    PrismInterpolator *rife = NULL;
    PrismImage a = {0}, b = {0}, mid = {0};
    double t = 0.5;
    PrismStatus status = prism_interpolator_new(argc > 4 ? argv[4] : NULL, NULL, &rife);
    if (status == PRISM_STATUS_OK) status = prism_image_load(argv[1], &a);
    if (status == PRISM_STATUS_OK) status = prism_image_load(argv[2], &b);
    if (status == PRISM_STATUS_OK) status = prism_interpolate(rife, &a, &b, &t, 1, &mid, NULL, NULL);
    if (status == PRISM_STATUS_OK) status = prism_image_save(argv[3], &mid);
    if (status != PRISM_STATUS_OK) fprintf(stderr, "error: %s\n", prism_last_error());
    prism_image_free(&a);
    prism_image_free(&b);
    prism_image_free(&mid);
    prism_interpolator_free(rife);
    return status == PRISM_STATUS_OK ? 0 : (int)status;
}
