// Op schemas of the awing_ext library and the Python module that carries them.
// Kernels register per backend in cpu/ and cuda/; fake kernels and autograd are registered
// from Python (awing_ext/_ops.py).
#include <Python.h>
#include <torch/extension.h>
#include <torch/library.h>

TORCH_LIBRARY(awing_ext, m) {
  m.def(
      "adaptive_wing_loss(Tensor pred, Tensor target, Tensor? target_weight, Tensor? weight_map, "
      "float omega, float theta, float epsilon, float alpha, float weight, float threshold, "
      "int kernel_size, str reduction, bool compute_grad) -> (Tensor, Tensor)");
  // Training targets (awing_ext/targets.py documents them).
  m.def(
      "render_heatmaps(Tensor landmarks, Tensor? visible, int height, int width, float sigma, "
      "float truncate, ScalarType? dtype) -> Tensor");
  m.def(
      "render_boundaries(Tensor landmarks, int[] curve_points, int[] curve_lengths, int height, "
      "int width, float sigma, float truncate, int samples, bool per_curve, ScalarType? dtype) "
      "-> Tensor");
  m.def("weight_map(Tensor target, float threshold, int kernel_size) -> Tensor");
  m.def("decode_heatmaps(Tensor heatmaps, str method) -> (Tensor, Tensor)");
}

namespace {

pybind11::dict build_info() {
  pybind11::dict info;
  info["cpu"] = true;
#ifdef AWING_WITH_CUDA
  info["cuda"] = true;
  info["cuda_version"] = AWING_CUDA_VERSION;
#else
  info["cuda"] = false;
  info["cuda_version"] = pybind11::none();
#endif
  info["torch_version"] = AWING_TORCH_VERSION;
  info["cpu_capability"] = AWING_CPU_CAPABILITY;
  return info;
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "awing_ext compiled kernels (ops are registered under torch.ops.awing_ext)";
  m.def("build_info", &build_info, "Which backends and CPU SIMD level this build was compiled with.");
}
