"""The CUDA launchers' host-side decisions, checked on any machine.

awing_ext._C.plan_loss_launch / grid_blocks / fits_int32 are the functions the CUDA loss and
target launchers call (csrc/include/awing/launch_plan.h); the CPU build compiles them too.
"""
import pytest

from awing_ext import _C

THREADS = 256
H100_SMS = 132
INT32_MAX = 2**31 - 1


def plan(numel, width, accesses, sms=H100_SMS):
    return _C.plan_loss_launch(numel, width, accesses, THREADS, sms)


def aligned(n_tensors, element_size, base=0x7F0000000000):
    """Addresses of n distinct 256-byte-aligned tensors (what the caching allocator returns)."""
    return [(base + i * (1 << 20), element_size) for i in range(n_tensors)]


@pytest.mark.parametrize("element_size", [2, 4, 8])
def test_vector_path_when_rows_and_pointers_are_aligned(element_size):
    p = plan(16 * 69 * 64 * 64, 64, aligned(4, element_size))
    assert p["vector_width"] == 4


@pytest.mark.parametrize("width", [1, 3, 5, 63, 65, 66])
def test_scalar_path_when_width_is_not_a_multiple_of_4(width):
    assert plan(2 * 3 * 7 * width, width, aligned(4, 4))["vector_width"] == 1


@pytest.mark.parametrize("offset_elements", [1, 2, 3])
@pytest.mark.parametrize("which", [0, 1, 2, 3])
@pytest.mark.parametrize("element_size", [2, 4])
def test_scalar_path_when_any_pointer_is_misaligned(offset_elements, which, element_size):
    """A view at storage offset k (k = 1..3) breaks the pack alignment: the kernel falls back."""
    accesses = aligned(4, element_size)
    address, size = accesses[which]
    accesses[which] = (address + offset_elements * size, size)
    assert plan(4096, 64, accesses)["vector_width"] == 1


def test_offset_of_a_whole_pack_keeps_the_vector_path():
    accesses = aligned(3, 2)
    accesses[0] = (accesses[0][0] + 4 * 2, 2)  # 4 half values = one 8-byte pack
    assert plan(4096, 64, accesses)["vector_width"] == 4


def test_grad_in_float_with_half_inputs_needs_16_byte_alignment():
    """The saved gradient is float32 for half inputs: its pack is 16 bytes, the inputs' 8."""
    accesses = aligned(2, 2) + [(0x7F0000100008, 4)]  # 8-byte aligned float pointer
    assert plan(4096, 64, accesses)["vector_width"] == 1


@pytest.mark.parametrize("work,sms,expected", [
    (0, 132, 1), (1, 132, 1), (256, 132, 1), (257, 132, 2),
    (10**9, 132, 132 * 8), (10**9, 1, 8), (10**9, 0, 8), (5000, 132, 20),
])
def test_grid_blocks(work, sms, expected):
    assert _C.grid_blocks(work, THREADS, sms) == expected


def test_grid_never_exceeds_the_work_or_the_device():
    for work in [1, 31, 32, 33, 255, 256, 257, 10**4, 10**6, 2**40]:
        for sms in [1, 16, 132]:
            blocks = _C.grid_blocks(work, THREADS, sms)
            assert 1 <= blocks <= max(1, -(-work // THREADS))
            assert blocks <= sms * 2048 // THREADS


def test_int32_index_boundary():
    """int32 holds every index a grid-stride loop forms: numel plus one stride."""
    stride = 132 * 8 * THREADS
    assert _C.fits_int32(INT32_MAX - stride, 132 * 8, THREADS, 1)
    assert not _C.fits_int32(INT32_MAX - stride + 1, 132 * 8, THREADS, 1)
    assert not _C.fits_int32(INT32_MAX - stride, 132 * 8, THREADS, 4)


@pytest.mark.parametrize("numel,expected", [
    (2**30, True),                   # half of a (16, 69, 64, 64) x 237 batch: int32
    (2**31 - 2**20, False),          # within one stride of the limit: int64
    (2**31 + 1, False),
    (16 * 69 * 64 * 64, True),
])
def test_loss_plan_index_width(numel, expected):
    assert plan(numel, 64, aligned(4, 2))["int32_index"] is expected


def test_loss_plan_grid_counts_vector_groups():
    """With 4-wide packs a thread handles 4 pixels: the grid is sized for numel / 4 groups."""
    small = 4 * 1024
    assert plan(small, 64, aligned(3, 4))["blocks"] == small // 4 // THREADS
    assert plan(small, 63 * 0 + 65, aligned(3, 4))["blocks"] == -(-small // THREADS)


def test_max_kernel_size_is_exposed():
    import awing_ext
    assert awing_ext.MAX_KERNEL_SIZE == _C.MAX_KERNEL_SIZE == 31
