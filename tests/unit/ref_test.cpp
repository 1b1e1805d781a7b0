// The reference interpreter on hand-computed cases, and the CPU random generator's contract.
#include <gtest/gtest.h>

#include "ref/interpreter.hpp"
#include "util/rand_hash.hpp"

namespace descent::detail {
namespace {

TEST(Reference, ElementwiseAndReduce) {
  IrGraph g;
  Node in;
  in.op = Op::Input;
  in.shape = Shape{2, 3};
  in.param = 0;
  NodeId x = g.add(in);
  Node lit;
  lit.op = Op::Literal;
  lit.literal = 2.0f;
  NodeId two = g.add(lit);
  Node mul;
  mul.op = Op::Mul;
  mul.shape = Shape{2, 3};
  mul.args = {Arg{x, View::identity(Shape{2, 3})}, Arg{two, View::broadcast(Shape{}, Shape{2, 3})}};
  NodeId m = g.add(mul);
  Node red;
  red.op = Op::ReduceSum;
  red.axis = 1;
  red.shape = Shape{2, 1};
  red.args = {Arg{m, View::identity(Shape{2, 3})}};
  NodeId r = g.add(red);
  Node out;
  out.op = Op::Output;
  out.shape = Shape{2, 1};
  out.param = 1;
  out.args = {Arg{r, View::identity(Shape{2, 1})}};
  g.add(out);
  g.validate();
  auto res = reference_run(g, {{0, {1, 2, 3, 4, 5, 6}}}, {});
  EXPECT_EQ(res.at(1), (std::vector<double>{12, 30}));
}

TEST(Reference, OpTable) {
  EXPECT_EQ(eval_elementwise(Op::Relu, -2, 0, 0), 0.0);
  EXPECT_EQ(eval_elementwise(Op::Select, 0, 1, 2), 2.0);
  EXPECT_EQ(eval_elementwise(Op::Select, 3, 1, 2), 1.0);
  EXPECT_EQ(eval_elementwise(Op::Max, 1, 4, 0), 4.0);
  EXPECT_EQ(eval_elementwise(Op::Le, 1, 1, 0), 1.0);
  EXPECT_NEAR(eval_elementwise(Op::Sigmoid, 0, 0, 0), 0.5, 1e-15);
}

TEST(Reference, RandomNumbersAreUniformAndKeyed) {
  double sum = 0;
  for (uint32_t i = 0; i < 100000; ++i) {
    float u = rand_uniform(7, 3, i);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.005);
  // (seed, uid) pairs do not alias the way the original's seed + uid did.
  EXPECT_NE(rand_uniform(1, 2, 0), rand_uniform(2, 1, 0));
  EXPECT_NE(rand_uniform(1, 3, 0), rand_uniform(2, 2, 0));
}

}  // namespace
}  // namespace descent::detail
