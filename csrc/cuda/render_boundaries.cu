// CUDA kernels of awing_ext::render_boundaries: one thread per (sample, curve) samples the
// curve's spline segments and their bounding box, then one thread per output pixel takes the
// minimum distance over the segments whose box can reach it (awing/render_boundaries.h).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "awing/render_boundaries.h"
#include "launch.cuh"

namespace awing {
namespace cuda {
namespace {

// One thread per (sample n, curve c): samples the curve's spans into line segments
// (segments[n][k] = ax, ay, bx, by; NaN for a segment with a non-finite end) and stores the
// curve's bounding box (xmin, ymin, xmax, ymax; +inf, +inf, -inf, -inf when empty).
template <typename T>
__global__ void __launch_bounds__(kThreads) boundary_segments_kernel(
    const T* __restrict__ pts, int64_t N, int64_t K, int64_t curves, const int* __restrict__ spans,
    const int* __restrict__ span_begin, int S, int64_t nseg, T* __restrict__ segments,
    T* __restrict__ boxes) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < N * curves;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t n = i / curves;
    const int64_t c = i - n * curves;
    const T* p = pts + n * K * 2;
    const T inf = positive_inf<T>();
    const T nan = std::numeric_limits<T>::quiet_NaN();
    T xmin = inf, ymin = inf, xmax = -inf, ymax = -inf;
    for (int sp = span_begin[c]; sp < span_begin[c + 1]; ++sp) {
      const Span span{spans[4 * sp], spans[4 * sp + 1], spans[4 * sp + 2], spans[4 * sp + 3]};
      for (int j = 0; j < S; ++j) {
        T ax, ay, bx, by;
        span_segment(p, span, j, S, ax, ay, bx, by);
        T* seg = segments + (n * nseg + static_cast<int64_t>(sp) * S + j) * 4;
        if (!finite_point(ax, ay) || !finite_point(bx, by)) {
          seg[0] = seg[1] = seg[2] = seg[3] = nan;
          continue;
        }
        seg[0] = ax;
        seg[1] = ay;
        seg[2] = bx;
        seg[3] = by;
        xmin = fmin(xmin, fmin(ax, bx));
        xmax = fmax(xmax, fmax(ax, bx));
        ymin = fmin(ymin, fmin(ay, by));
        ymax = fmax(ymax, fmax(ay, by));
      }
    }
    T* box = boxes + i * 4;
    box[0] = xmin;
    box[1] = ymin;
    box[2] = xmax;
    box[3] = ymax;
  }
}

// One thread per output pixel: the minimum squared distance over the segments of the
// channel's curves whose bounding box (grown by the cutoff plus one pixel of slack) holds the
// pixel; NaN segments never win the `<`.
template <typename out_t>
__global__ void __launch_bounds__(kThreads) boundary_pixels_kernel(
    const at::opmath_type<out_t>* __restrict__ segments, const at::opmath_type<out_t>* __restrict__ boxes,
    const int* __restrict__ span_begin, int64_t curves, int S, int64_t nseg, int64_t CH, bool per_curve,
    int64_t total, int64_t H, int64_t W, GaussianParams<at::opmath_type<out_t>> prm,
    out_t* __restrict__ out) {
  using T = at::opmath_type<out_t>;
  const T reach = prm.cutoff + T(1);
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    int64_t plane, h, w;
    split_pixel_index(i, H, W, plane, h, w);
    const int64_t n = plane / CH;
    const int64_t ch = plane - n * CH;
    const T x = static_cast<T>(w);
    const T y = static_cast<T>(h);
    const int64_t c0 = per_curve ? ch : 0;
    const int64_t c1 = per_curve ? ch + 1 : curves;
    T best = positive_inf<T>();
    for (int64_t c = c0; c < c1; ++c) {
      const T* box = boxes + (n * curves + c) * 4;
      if (!(x >= box[0] - reach && x <= box[2] + reach && y >= box[1] - reach && y <= box[3] + reach)) continue;
      const int64_t k1 = static_cast<int64_t>(span_begin[c + 1]) * S;
      for (int64_t k = static_cast<int64_t>(span_begin[c]) * S; k < k1; ++k) {
        const T* seg = segments + (n * nseg + k) * 4;
        const T d2 = point_segment_distance2(x, y, seg[0], seg[1], seg[2], seg[3]);
        if (d2 < best) best = d2;
      }
    }
    out[i] = static_cast<out_t>(gaussian_of_r2(best, prm));
  }
}

// Span tables of render_boundaries on the device, cached per (device, table): a scheme's table
// is copied to each device once, so a training step neither waits for a host-to-device copy nor
// breaks CUDA-graph capture after its first (warm-up) call. Cached tables are never freed; a
// process that renders more than kMaxTables distinct curve sets copies the extra ones per call.
class SpanTableCache {
 public:
  at::Tensor get(const std::vector<int>& table, const at::Device& device) {
    const Key key{device.index(), table};
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      const auto it = tables_.find(key);
      if (it != tables_.end()) return it->second;
    }
    at::Tensor host = at::empty({static_cast<int64_t>(table.size())}, at::TensorOptions().dtype(at::kInt));
    std::memcpy(host.mutable_data_ptr<int>(), table.data(), table.size() * sizeof(int));
    at::Tensor on_device = host.to(device);
    const std::lock_guard<std::mutex> lock(mutex_);
    if (tables_.size() >= kMaxTables) return on_device;  // used on this stream only, then freed
    // Other streams may read a cached table: finish the copy before anyone else sees it.
    C10_CUDA_CHECK(cudaStreamSynchronize(c10::cuda::getCurrentCUDAStream()));
    return tables_.emplace(key, on_device).first->second;
  }

 private:
  using Key = std::pair<c10::DeviceIndex, std::vector<int>>;
  static constexpr size_t kMaxTables = 256;
  std::mutex mutex_;
  std::map<Key, at::Tensor> tables_;
};

SpanTableCache& span_tables() {
  static auto* cache = new SpanTableCache();  // leaked: no CUDA frees during process teardown
  return *cache;
}

at::Tensor render_boundaries_cuda(const at::Tensor& landmarks, c10::IntArrayRef curve_points,
                                  c10::IntArrayRef curve_lengths, int64_t height, int64_t width,
                                  double sigma, double truncate, int64_t samples, bool per_curve,
                                  std::optional<at::ScalarType> dtype) {
  const std::vector<int64_t> points = curve_points.vec(), lengths = curve_lengths.vec();
  check_render_boundaries_args(landmarks, points, lengths, height, width, sigma, truncate, samples,
                               dtype);
  TORCH_CHECK(landmarks.device().is_cuda(), "render_boundaries: landmarks must be a CUDA tensor here");
  std::vector<int> spans, span_begin;
  build_spans(points, lengths, spans, span_begin);
  const c10::cuda::CUDAGuard guard(landmarks.device());
  const at::ScalarType dt = render_dtype(dtype);
  const int64_t curves = static_cast<int64_t>(curve_lengths.size());
  const int64_t channels = per_curve ? curves : 1;
  const int64_t N = landmarks.size(0), K = landmarks.size(1);
  at::Tensor out = at::empty({N, channels, height, width}, landmarks.options().dtype(dt));
  if (out.numel() == 0) return out;

  // The span table (4 landmark indices per span, then the curves' first spans) on the device.
  std::vector<int> host_table(spans);
  host_table.insert(host_table.end(), span_begin.begin(), span_begin.end());
  const at::Tensor table = span_tables().get(host_table, landmarks.device());
  const int* d_spans = table.const_data_ptr<int>();
  const int* d_begin = d_spans + spans.size();

  const int S = static_cast<int>(samples);
  const int64_t nseg = static_cast<int64_t>(spans.size() / 4) * S;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int device = landmarks.get_device();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dt, "render_boundaries_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    const auto tdtype = c10::CppTypeToScalarType<T>::value;
    const at::Tensor pts = landmarks.to(tdtype).contiguous();
    at::Tensor segments = at::empty({N, nseg, 4}, landmarks.options().dtype(tdtype));
    at::Tensor boxes = at::empty({N, curves, 4}, landmarks.options().dtype(tdtype));
    boundary_segments_kernel<T><<<grid_for(N * curves, kThreads, device), kThreads, 0, stream>>>(
        pts.const_data_ptr<T>(), N, K, curves, d_spans, d_begin, S, nseg, segments.mutable_data_ptr<T>(),
        boxes.mutable_data_ptr<T>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    boundary_pixels_kernel<scalar_t><<<grid_for(out.numel(), kThreads, device), kThreads, 0, stream>>>(
        segments.const_data_ptr<T>(), boxes.const_data_ptr<T>(), d_begin, curves, S, nseg, channels,
        per_curve, out.numel(), height, width, GaussianParams<T>(sigma, truncate),
        out.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace
}  // namespace cuda
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CUDA, m) {
  m.impl("render_boundaries", &awing::cuda::render_boundaries_cuda);
}
