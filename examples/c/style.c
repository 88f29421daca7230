/* Fast style transfer with a progress bar: style IN.png OUT.png [STYLE_INDEX] [MODEL] */
#include <stdio.h>
#include <stdlib.h>
#include "prism.h"

static int32_t on_progress(void *user_data, uint64_t done, uint64_t total) {
    fprintf(stderr, "\r%s: %3.0f%%", (const char *)user_data, 100.0 * (double)done / (double)total);
    return 0; /* non-zero would cancel */
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s IN OUT [STYLE_INDEX] [MODEL]\n", argv[0]); return 2; }
    PrismStyleOptions options = prism_style_options_default();
    if (argc > 3) options.style_index = (uint32_t)atoi(argv[3]);
    PrismStyler *styler = NULL;
    PrismImage in = {0}, out = {0};
    PrismStatus status = prism_styler_new(argc > 4 ? argv[4] : NULL, &options, &styler);
    if (status == PRISM_STATUS_OK) status = prism_image_load(argv[1], &in);
    if (status == PRISM_STATUS_OK) status = prism_stylize(styler, &in, &out, on_progress, "style");
    if (status == PRISM_STATUS_OK) status = prism_image_save(argv[2], &out);
    fprintf(stderr, "\n");
    if (status != PRISM_STATUS_OK) fprintf(stderr, "error: %s\n", prism_last_error());
    prism_image_free(&in);
    prism_image_free(&out);
    prism_styler_free(styler);
    return status == PRISM_STATUS_OK ? 0 : (int)status;
}
