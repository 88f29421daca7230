// Upscales an image with the C++ wrapper: upscale_cpp IN.png OUT.png [MODEL]
#include <cstdio>
#include "prism.hpp"

int main(int argc, char **argv) {
    if (argc < 3) { std::fprintf(stderr, "usage: %s IN OUT [MODEL]\n", argv[0]); return 2; }
    try {
        prism::Upscaler upscaler(argc > 3 ? argv[3] : nullptr);
        upscaler.upscale(prism::Image(argv[1])).save(argv[2]);
    } catch (const prism::Error &e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return static_cast<int>(e.status);
    }
    return 0;
}
