// Package graphopt rewrites exported ONNX graphs into forms ONNX Runtime's
// CPU provider runs faster and in less memory. Today it has one pass,
// FuseAttention: the decomposed scaled-dot-product attention that
// diffusers/Optimum and imagegen's own exporter write (MatMul, Softmax,
// MatMul with head-splitting Reshape/Transpose around them) becomes one
// com.microsoft.MultiHeadAttention node, whose CPU kernel runs flash
// attention and never materializes the [B, heads, S, S] score matrix.
// Both forms match: constant head shapes and scales (imagegen's exports),
// and torch's export of scaled_dot_product_attention, whose head size and
// sqrt(1/sqrt(d)) scales are computed from shapes at run time.
//
// FuseAttention works on the graph only: initializers, including external
// data, are left as they are, and it never changes what a graph computes
// beyond float rounding.
//
// The quantization passes do change the numbers, on purpose:
// QuantizeMatMul stores constant MatMul/Gemm weights as 4- or 8-bit
// blocks for com.microsoft.MatMulNBits (weight-only: activations stay
// float), and QuantizeConv turns convolutions into DynamicQuantizeLinear +
// ConvInteger (int8 weights and activations). They read the weights they
// replace (external data included) and add their results as inline
// initializers; package quantize writes whole checkpoints with them.
//
// It is not a general optimizer: ONNX Runtime does constant folding and
// the other fusions.
package graphopt
