// conv2d and max_pool2d on NHWC images, composed from DualArray views, matmul and reductions, so
// their gradients come from the rules in autodiff.cpp (window gradients are gather-style sums, with
// the border checks the original lacked). Convolution materialises the im2col matrix once per call
// (a fused gather kernel); depthwise convolution needs none. No derivative rules here.
#include <fmt/format.h>

#include <limits>

#include "descent/environment.hpp"

namespace descent {

namespace {
void check_image(const Shape& s, const char* op) {
  if (s.rank() != 4) {
    throw ShapeError(fmt::format("{}: needs an NHWC image [N, H, W, C], got {}", op, s.str()));
  }
}

/// [N, H, W, C] -> [N, OH, FH, OW, FW, C] windows (zero copy).
DualArray image_windows(const DualArray& x, int64_t fh, int64_t fw, int64_t sh, int64_t sw,
                        const char* op) {
  Shape s = x.shape();
  if (fh < 1 || fw < 1 || sh < 1 || sw < 1 || fh > s[1] || fw > s[2]) {
    throw ShapeError(fmt::format("{}: window {}x{} with stride {}x{} does not fit the (padded) "
                                 "image {}; need 1 <= window <= extent and stride >= 1", op, fh,
                                 fw, sh, sw, s.str()));
  }
  return x.windows(1, fh, sh).windows(3, fw, sw);
}
}  // namespace

DualArray DualArray::conv2d(const DualArray& filter, const Conv2DOptions& o) const {
  Shape s = shape(), f = filter.shape();
  check_image(s, "conv2d");
  int64_t c = s[3], groups = o.groups;
  if (f.rank() != 4) {
    throw ShapeError(fmt::format("conv2d: filter must be [OC, FH, FW, C / groups], got {} for "
                                 "image {}", f.str(), s.str()));
  }
  int64_t oc = f[0], fh = f[1], fw = f[2], gc = f[3];
  // One message per failed condition, the most likely cause first.
  auto fail = [&](const std::string& why) {
    throw ShapeError(fmt::format("conv2d: image {} (NHWC), filter {}, groups {}: {}", s.str(), f.str(),
                                 groups, why));
  };
  if (groups < 1) fail("groups must be >= 1");
  if (c % groups != 0) fail(fmt::format("the image's {} channels are not divisible by groups", c));
  if (gc * groups != c) {
    if (f[1] * groups == c)
      fail(fmt::format("this looks like PyTorch's OIHW layout; descent filters are OHWI [OC, FH, FW, "
                       "C / groups] = [{}, {}, {}, {}]: use filter.permute({{0, 2, 3, 1}})",
                       oc, f[2], f[3], f[1]));
    fail(fmt::format("filter axis 3 must be C / groups = {} (descent filters are OHWI [OC, FH, FW, "
                     "C / groups])", c / groups));
  }
  if (oc % groups != 0) fail(fmt::format("the filter's {} output channels are not divisible by groups", oc));
  if (o.pad < 0) throw ShapeError(fmt::format("conv2d: negative padding {}", o.pad));
  DualArray x = *this;
  if (o.pad > 0) x = x.pad(1, o.pad, o.pad, o.pad_mode).pad(2, o.pad, o.pad, o.pad_mode);
  DualArray w = image_windows(x, fh, fw, o.stride_h, o.stride_w, "conv2d");  // [N,OH,FH,OW,FW,C]
  int64_t n = s[0], oh = w.shape()[1], ow = w.shape()[3], ocg = oc / groups;
  Shape out{n, oh, ow, oc};
  if (gc == 1 && ocg == 1) {
    // Depthwise: out[.., c] = sum over (fh, fw) of window * filter[c, fh, fw], no im2col.
    DualArray k = filter.reshape(Shape{c, fh, fw}).permute({1, 2, 0}).insert_axis(1);  // [FH,1,FW,C]
    return (w * k).reduce_sum(4).reduce_sum(2);
  }
  int64_t rows = n * oh * ow, depth = fh * fw * gc;
  if (groups == 1) {
    DualArray patches = w.permute({0, 1, 3, 2, 4, 5}).reshape(Shape{rows, depth});
    DualArray wmat = filter.reshape(Shape{oc, depth}).transpose();
    return patches.matmul(wmat).reshape(out);
  }
  // Split C into (G, GC) before windowing (a free reshape of the image) so the windowed view
  // needs no reshape: one im2col copy, not two.
  DualArray xg = reshape(Shape{n, s[1], s[2], groups, gc});
  if (o.pad > 0) xg = xg.pad(1, o.pad, o.pad, o.pad_mode).pad(2, o.pad, o.pad, o.pad_mode);
  DualArray wg = xg.windows(1, fh, o.stride_h).windows(3, fw, o.stride_w);  // [N,OH,FH,OW,FW,G,GC]
  DualArray patches = wg.permute({5, 0, 1, 3, 2, 4, 6}).reshape(Shape{groups, rows, depth});
  DualArray wmat = filter.reshape(Shape{groups, ocg, depth}).transpose();  // [G, depth, OCG]
  return patches.matmul(wmat).permute({1, 0, 2}).reshape(out);
}

DualArray DualArray::max_pool2d(int64_t size_h, int64_t size_w, int64_t stride_h,
                                int64_t stride_w) const {
  check_image(shape(), "max_pool2d");
  DualArray w = image_windows(*this, size_h, size_w, stride_h, stride_w, "max_pool2d");  // [N,OH,FH,OW,FW,C]
  if (size_h != stride_h || size_w != stride_w || size_h * size_w > 16)
    return w.reduce_max(4).reduce_max(2);
  // Non-overlapping windows: a chain of selects over the window elements in row-major order, one
  // fused kernel instead of two reductions, and a backward pass of selects on views (no
  // reduction). Same rule as reduce_max: the first NaN of a window wins (NaN propagates) and equal
  // values keep the first, which also takes the gradient; only a window of -0 and +0 differs from
  // reduce_max's value (the first, not +0).
  auto element = [&](int64_t i, int64_t j) {
    return w.slice(2, i, i + 1).slice(4, j, j + 1).remove_axis(4).remove_axis(2);
  };
  DualArray best = element(0, 0);
  for (int64_t k = 1; k < size_h * size_w; ++k) {
    DualArray e = element(k / size_w, k % size_w);
    Array ev = e.value(), bv = best.value();
    Array taken = ev.gt(bv).max(ev.ne(ev) * bv.eq(bv));  // larger, or the first NaN
    best = e.where(taken, best);
  }
  return best;
}

Array conv2d(const Array& image, const Array& filter, const Conv2DOptions& options) {
  return DualArray(image).conv2d(DualArray(filter), options).value();
}

Array max_pool2d(const Array& image, int64_t size_h, int64_t size_w, int64_t stride_h,
                 int64_t stride_w) {
  return DualArray(image).max_pool2d(size_h, size_w, stride_h, stride_w).value();
}

}  // namespace descent
