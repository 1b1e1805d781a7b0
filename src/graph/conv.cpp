// conv2d and max_pool2d on NHWC images. The forward pass is an im2col matrix (a copy node that the
// fuser computes inside the matmul's operand loads on GPUs, so it is never stored) times the
// filter. Stride-1 zero-padded convolutions have an explicit backward: the input gradient is the
// convolution of the output gradient with the flipped filter, the filter gradient reuses the
// forward's patches; other cases are composed from views, so autodiff.cpp's rules apply.
#include <fmt/format.h>

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

namespace {
/// im2col patches of an image ([N, H, W, C], padding already applied) for a convolution with
/// `groups`: [rows, depth] (groups == 1) or [G, rows, depth], rows = N*OH*OW, depth = FH*FW*C/G.
/// Templated over Array and DualArray: the same views either way.
template <class A>
A patches_of(const A& x, int64_t fh, int64_t fw, int64_t sh, int64_t sw, int64_t groups) {
  Shape s = x.shape();
  int64_t gc = s[3] / groups;
  if (groups == 1) {
    A w = x.windows(1, fh, sh).windows(3, fw, sw);  // [N,OH,FH,OW,FW,C]
    Shape ws = w.shape();
    return w.permute({0, 1, 3, 2, 4, 5}).reshape(Shape{ws[0] * ws[1] * ws[3], fh * fw * gc});
  }
  // Split C into (G, GC) first (a free reshape) so the windowed view needs no second copy.
  A wg = x.reshape(Shape{s[0], s[1], s[2], groups, gc}).windows(1, fh, sh).windows(3, fw, sw);
  Shape ws = wg.shape();  // [N,OH,FH,OW,FW,G,GC]
  return wg.permute({5, 0, 1, 3, 2, 4, 6}).reshape(Shape{groups, ws[0] * ws[1] * ws[3], fh * fw * gc});
}

/// Patches times filter [OC, FH, FW, C/G]: the [N, OH, OW, OC] output.
template <class A>
A patches_times_filter(const A& patches, const A& filter, int64_t groups, const Shape& out) {
  Shape f = filter.shape();
  int64_t oc = f[0], depth = f[1] * f[2] * f[3];
  if (groups == 1) return patches.matmul(filter.reshape(Shape{oc, depth}).transpose()).reshape(out);
  A wmat = filter.reshape(Shape{groups, oc / groups, depth}).transpose();  // [G, depth, OCG]
  return patches.matmul(wmat).permute({1, 0, 2}).reshape(out);
}

template <class A>
A pad_image(const A& x, int64_t ph, int64_t pw, PadMode mode) {
  A r = x;
  if (ph > 0) r = r.pad(1, ph, ph, mode);
  if (pw > 0) r = r.pad(2, pw, pw, mode);
  return r;
}

/// Stride-1, zero-padded convolution with its gradients written out (see the file comment).
DualArray conv2d_stride1(const DualArray& x, const DualArray& filter, int64_t pad, int64_t groups) {
  Shape s = x.shape(), f = filter.shape();
  int64_t oc = f[0], fh = f[1], fw = f[2], gc = f[3], ocg = oc / groups;
  Array xp = pad_image(x.value(), pad, pad, PadMode::kZero);
  Array patches = patches_of(xp, fh, fw, 1, 1, groups);
  Shape out{s[0], s[1] + 2 * pad - fh + 1, s[2] + 2 * pad - fw + 1, oc};
  Array value = patches_times_filter(patches, filter.value(), groups, out);
  Array w = filter.value();
  auto backward = [=](const Array& dy) -> std::vector<Array> {
    // dx[n,h,w,c] = sum over (i, j, o) of dy[n, h+pad-i, w+pad-j, o] * filter[o, i, j, c]: a
    // convolution of dy (padded by F-1-pad) with the filter flipped in space, in and out
    // channels swapped per group ([G*GC, FH, FW, OCG]).
    Array flipped = w.reshape(Shape{groups, ocg, fh, fw, gc})
                        .slice(2, -1, -(fh + 1), -1)
                        .slice(3, -1, -(fw + 1), -1)
                        .permute({0, 4, 2, 3, 1})
                        .reshape(Shape{groups * gc, fh, fw, ocg});
    Array dyp = pad_image(dy, fh - 1 - pad, fw - 1 - pad, PadMode::kZero);
    Array dx = patches_times_filter(patches_of(dyp, fh, fw, 1, 1, groups), flipped, groups, s);
    // dfilter = patches^T x dy, per group.
    int64_t rows = out[0] * out[1] * out[2];
    Array dw;
    if (groups == 1) {
      dw = patches.transpose().matmul(dy.reshape(Shape{rows, oc})).transpose().reshape(f);
    } else {
      Array dyg = dy.reshape(Shape{rows, groups, ocg}).permute({1, 0, 2});  // [G, rows, OCG]
      dw = patches.transpose().matmul(dyg).transpose().reshape(Shape{oc, fh, fw, gc});
    }
    return {dx, dw};
  };
  return DualArray::custom(value, {x, filter}, backward);
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
  if (groups < 1 || c % groups != 0 || oc % groups != 0 || gc * groups != c) {
    throw ShapeError(fmt::format("conv2d: image {} and filter {} with groups = {}: need C ({}) and "
                                 "OC ({}) divisible by groups and filter axis 3 == C / groups",
                                 s.str(), f.str(), groups, c, oc));
  }
  if (o.pad < 0) throw ShapeError(fmt::format("conv2d: negative padding {}", o.pad));
  DualArray x = pad_image(*this, o.pad, o.pad, o.pad_mode);
  DualArray w = image_windows(x, fh, fw, o.stride_h, o.stride_w, "conv2d");  // [N,OH,FH,OW,FW,C]
  int64_t n = s[0], oh = w.shape()[1], ow = w.shape()[3], ocg = oc / groups;
  Shape out{n, oh, ow, oc};
  if (gc == 1 && ocg == 1) {
    // Depthwise: out[.., c] = sum over (fh, fw) of window * filter[c, fh, fw], no im2col.
    DualArray k = filter.reshape(Shape{c, fh, fw}).permute({1, 2, 0}).insert_axis(1);  // [FH,1,FW,C]
    return (w * k).reduce_sum(4).reduce_sum(2);
  }
  if (o.stride_h == 1 && o.stride_w == 1 && (o.pad == 0 || o.pad_mode == PadMode::kZero) &&
      o.pad <= fh - 1 && o.pad <= fw - 1)
    return conv2d_stride1(*this, filter, o.pad, groups);
  // Other strides and replicate padding: composed from views; autodiff.cpp differentiates it.
  return patches_times_filter(patches_of(x, fh, fw, o.stride_h, o.stride_w, groups), filter, groups, out);
}

DualArray DualArray::max_pool2d(int64_t size_h, int64_t size_w, int64_t stride_h,
                                int64_t stride_w) const {
  check_image(shape(), "max_pool2d");
  return image_windows(*this, size_h, size_w, stride_h, stride_w, "max_pool2d")
      .reduce_max(4)
      .reduce_max(2);
}

Array conv2d(const Array& image, const Array& filter, const Conv2DOptions& options) {
  return DualArray(image).conv2d(DualArray(filter), options).value();
}

Array max_pool2d(const Array& image, int64_t size_h, int64_t size_w, int64_t stride_h,
                 int64_t stride_w) {
  return DualArray(image).max_pool2d(size_h, size_w, stride_h, stride_w).value();
}

}  // namespace descent
