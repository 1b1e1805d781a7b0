// T0 for Shape: indexing is checked (a bad axis is a ShapeError naming the axis and the shape,
// never a read outside the extents), negative axes count from the end, valid axes are unchanged.
#include "descent/shape.hpp"

#include <gtest/gtest.h>

#include <string>

#include "descent/errors.hpp"

namespace descent {
namespace {

/// `f` must throw ShapeError mentioning the axis and the shape.
void expect_bad_axis(const std::function<void()>& f, int axis, const std::string& shape) {
  try {
    f();
    ADD_FAILURE() << "axis " << axis << " of " << shape << ": nothing was thrown";
  } catch (const ShapeError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("axis " + std::to_string(axis)), std::string::npos) << m;
    EXPECT_NE(m.find(shape), std::string::npos) << m;
  }
}

TEST(Shape, IndexingCountsNegativeAxesFromTheEnd) {
  const Shape s{2, 3, 5};
  EXPECT_EQ(s[0], 2);
  EXPECT_EQ(s[2], 5);
  EXPECT_EQ(s[-1], 5);
  EXPECT_EQ(s[-3], 2);
  Shape t = s;
  t.at(-2) = 7;
  t.at(0) = 4;
  EXPECT_EQ(t, (Shape{4, 7, 5}));
}

// The reproducer read s[5] and s[-7] of a rank-2 shape (stack-buffer-underflow under ASan).
TEST(Shape, OutOfRangeAxesThrowShapeError) {
  const Shape s{2, 3};
  for (int axis : {2, 5, 8, 1000, -3, -7, -1000}) {
    expect_bad_axis([&] { (void)s[axis]; }, axis, "[2, 3]");
    Shape t = s;
    expect_bad_axis([&] { t.at(axis) = 1; }, axis, "[2, 3]");
    EXPECT_EQ(t, s);
  }
  const Shape scalar;
  expect_bad_axis([&] { (void)scalar[0]; }, 0, "[]");
  expect_bad_axis([&] { (void)scalar[-1]; }, -1, "[]");
  EXPECT_THROW((void)s[std::numeric_limits<int>::min()], ShapeError);
  EXPECT_THROW((void)s[std::numeric_limits<int>::max()], ShapeError);
}

}  // namespace
}  // namespace descent
