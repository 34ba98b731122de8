// The smallest CUDA program: benchmarks/gpu_check.py runs compute-sanitizer and ncu on it before
// their real passes, so a tool this machine refuses is reported as unavailable, not as a bug in
// awing's kernels.
#include <cstdio>

__global__ void awing_probe_kernel(int* out) { out[threadIdx.x] = static_cast<int>(threadIdx.x); }

int main() {
  int* device = nullptr;
  cudaError_t err = cudaMalloc(&device, 32 * sizeof(int));
  int host[32] = {0};
  if (err == cudaSuccess) {
    awing_probe_kernel<<<1, 32>>>(device);
    err = cudaDeviceSynchronize();
  }
  if (err == cudaSuccess) err = cudaMemcpy(host, device, sizeof host, cudaMemcpyDeviceToHost);
  cudaFree(device);
  if (err != cudaSuccess || host[31] != 31) {
    std::printf("probe: failed: %s\n", cudaGetErrorString(err));
    return 1;
  }
  std::printf("probe: kernel ran\n");
  return 0;
}
