// The vectorised CPU kernels as one translation unit, compiled once per CPU capability into
// awing_ext/_cpu_<capability> (setup.py: -DCPU_CAPABILITY=AVX2 -mavx2 -mfma -mf16c, or DEFAULT).
// One unit, not one per kernel: parsing torch's headers is most of each unit's compile time, so
// the per-capability build costs what the single build cost before. Loading the library
// (torch.ops.load_library, from awing_ext/_library.py) registers these kernels for the CPU
// dispatch key; exactly one capability is loaded, the one torch itself runs with.
#include "adaptive_wing_loss.cpp"
#include "heatmap_losses.cpp"
#include "loss_map_mask.cpp"
