// RAII wrapper over Prism's C API (prism.h): handles and images free themselves, failures throw.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include "prism.h"

namespace prism {

struct Error : std::runtime_error {
    PrismStatus status;
    explicit Error(PrismStatus s) : std::runtime_error(prism_last_error()), status(s) {}
};

inline void check(PrismStatus s) { if (s != PRISM_STATUS_OK) throw Error(s); }

// An image whose buffer Prism allocated (loaded or computed); move-only.
class Image {
public:
    Image() = default;
    explicit Image(const std::string &path) { check(prism_image_load(path.c_str(), &raw_)); }
    Image(Image &&o) noexcept : raw_(std::exchange(o.raw_, PrismImage{})) {}
    Image &operator=(Image &&o) noexcept { std::swap(raw_, o.raw_); return *this; }
    ~Image() { prism_image_free(&raw_); }
    void save(const std::string &path) const { check(prism_image_save(path.c_str(), &raw_)); }
    const PrismImage *get() const { return &raw_; }
    PrismImage *out() { prism_image_free(&raw_); return &raw_; }
private:
    PrismImage raw_{};
};

template <class H, void (*Free)(H *)> using Handle = std::unique_ptr<H, std::integral_constant<decltype(Free), Free>>;

class Upscaler {
public:
    explicit Upscaler(const char *model = nullptr, const PrismUpscaleOptions *o = nullptr) {
        PrismUpscaler *h = nullptr; check(prism_upscaler_new(model, o, &h)); h_.reset(h);
    }
    Image upscale(const Image &in) {
        Image out; check(prism_upscale(h_.get(), in.get(), out.out(), nullptr, nullptr)); return out;
    }
private:
    Handle<PrismUpscaler, prism_upscaler_free> h_;
};

class Interpolator {
public:
    explicit Interpolator(const char *model = nullptr, const PrismInterpolateOptions *o = nullptr) {
        PrismInterpolator *h = nullptr; check(prism_interpolator_new(model, o, &h)); h_.reset(h);
    }
    Image interpolate(const Image &a, const Image &b, double t = 0.5) {
        Image out; check(prism_interpolate(h_.get(), a.get(), b.get(), &t, 1, out.out(), nullptr, nullptr)); return out;
    }
private:
    Handle<PrismInterpolator, prism_interpolator_free> h_;
};

class Styler {
public:
    explicit Styler(const char *model = nullptr, const PrismStyleOptions *o = nullptr) {
        PrismStyler *h = nullptr; check(prism_styler_new(model, o, &h)); h_.reset(h);
    }
    Image stylize(const Image &in) {
        Image out; check(prism_stylize(h_.get(), in.get(), out.out(), nullptr, nullptr)); return out;
    }
private:
    Handle<PrismStyler, prism_styler_free> h_;
};

}  // namespace prism
