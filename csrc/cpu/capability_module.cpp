// The Python module of one CPU-capability build of the vectorised CPU kernels
// (awing_ext._cpu_default, awing_ext._cpu_avx2; setup.py compiles this folder's vectorised files
// once per capability). Importing it registers those kernels for the CPU dispatch key;
// awing_ext/_library.py imports exactly one, the one matching torch's own CPU capability.
#include <torch/extension.h>

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "awing_ext vectorised CPU kernels of one CPU capability (registered under torch.ops.awing_ext)";
  m.attr("CPU_CAPABILITY") = AWING_CPU_CAPABILITY;
}
