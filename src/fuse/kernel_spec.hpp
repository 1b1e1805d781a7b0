// KernelSpec: what one compute kernel does, independent of GLSL and Vulkan. Produced by the fusion
// step (src/fuse/cluster.cpp) from the IR, consumed by codegen (GLSL) and the runtime (bindings).
#pragma once
#include <string>
#include <vector>

#include "graph/ir.hpp"

namespace descent::detail {

/// One instruction of a kernel body, evaluated at a linear element index of its `shape`.
struct Instr {
  // Acc: the matmul result here. Gather: binding `input` read through `view` with coordinate
  // `axis` replaced by the U32 value of instruction `a`.
  enum class Kind { Load, Literal, Coord, Rand, Op, Acc, Gather };
  Kind kind = Kind::Op;
  Op op = Op::Mov;
  int a = -1, b = -1, c = -1;  // operand instruction indices (Kind::Op)
  int input = -1;              // binding index (Kind::Load)
  View view;                   // Load/Coord/Rand: how the consumer's coordinates reach the source
  float literal = 0.0f;
  uint32_t uid = 0;            // Rand
  int axis = 0;                // Gather
  Shape shape;                 // shape whose coordinates this value is computed at
};

struct KernelSpec {
  enum class Type { Elementwise, Reduce, MatMul };
  Type type = Type::Elementwise;
  /// Elementwise: elements computed. Reduce: output elements.
  int64_t count = 0;
  std::vector<Instr> body;
  std::vector<NodeId> inputs;                   // bound read-only, in binding order
  std::vector<std::pair<int, NodeId>> outputs;  // (instruction, node) stored, after the inputs
  // Reduce only: the body computes element `value` of `reduce_input` at an input linear index.
  Op reduce_op = Op::ReduceSum;
  Shape reduce_input;
  int axis = 0;
  int value = -1;
  // Reduce only: per-element ops on the result, evaluated at the output's linear index with
  // Kind::Acc (instruction 0) as the reduced value. Outputs with instruction -1 store the result
  // itself, others store epilogue instructions.
  std::vector<Instr> epilogue;
  // MatMul only: operands read through views (batch + [M, K] and batch + [K, N]); the body is the
  // epilogue, evaluated at each output element's linear index with Kind::Acc as the product.
  Shape matmul_shape;  // batch + [M, N]
  int a_input = -1, b_input = -1;
  View a_view, b_view;
  bool fp16_inputs = false;  // MatMulPrecision::kFloat16Inputs was requested
  bool packed_halves = false;  // operands are packed float16 pairs (graph/passes/passes.hpp):
  bool packed_a_along_m = false;  // A [.., Kp, M/2] (else [.., M, Kp/2])
  bool packed_b_along_n = false;  // B [.., Kp, N/2] (else transposed, [.., N, Kp/2])
  // MatMul only: an operand computed inside the kernel instead of read from memory (an inlined
  // elementwise producer, such as a convolution's im2col copy). Then a_input is -1, a_view maps
  // (batch, row, col) into the producer's shape, and a_prologue evaluated at that linear index
  // gives the element as instruction a_value. Same for b.
  std::vector<Instr> a_prologue, b_prologue;
  int a_value = -1, b_value = -1;
  bool uses_rand = false;
  std::vector<NodeId> members;  // IR nodes computed by this kernel (for drawings and debugging)
  std::string label;
};

}  // namespace descent::detail
