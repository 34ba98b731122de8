"""An independent re-implementation of the authors' released FAN (protossw512/AdaptiveWingLoss,
core/models.py and core/coord_conv.py), written from the published facts for the converter's
parity tests: the released module names (so its state_dict is what a released checkpoint holds),
the released coordinate-channel order (row coordinate first) and forward. It shares no code with
training.models."""
import torch
import torch.nn.functional as F
from torch import nn


def _conv3x3(cin, cout):
    return nn.Conv2d(cin, cout, 3, stride=1, padding=1, bias=False)


class ReleasedConvBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), _conv3x3(cin, cout // 2)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout // 2), _conv3x3(cout // 2, cout // 4)
        self.bn3, self.conv3 = nn.BatchNorm2d(cout // 4), _conv3x3(cout // 4, cout // 4)
        self.downsample = None
        if cin != cout:
            self.downsample = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(True), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x):
        o1 = self.conv1(F.relu(self.bn1(x)))
        o2 = self.conv2(F.relu(self.bn2(o1)))
        o3 = self.conv3(F.relu(self.bn3(o2)))
        residual = self.downsample(x) if self.downsample is not None else x
        return torch.cat([o1, o2, o3], 1) + residual


class ReleasedAddCoords(nn.Module):
    """Appends (xx = row coordinate, yy = column coordinate, rr[, xx masked, yy masked])."""

    def __init__(self, with_boundary):
        super().__init__()
        self.with_boundary = with_boundary

    def forward(self, x, heatmap=None):
        n, _, h, w = x.shape
        rows = torch.arange(h, dtype=x.dtype).view(1, 1, h, 1).expand(n, 1, h, w) / (h - 1) * 2 - 1
        cols = torch.arange(w, dtype=x.dtype).view(1, 1, 1, w).expand(n, 1, h, w) / (w - 1) * 2 - 1
        rr = torch.sqrt(rows ** 2 + cols ** 2)
        rr = rr / torch.max(rr)
        parts = [x, rows, cols, rr]
        if self.with_boundary and heatmap is not None:
            mask = torch.clamp(heatmap[:, -1:], 0, 1) > 0.05
            parts += [torch.where(mask, rows, torch.zeros_like(rows)), torch.where(mask, cols, torch.zeros_like(cols))]
        return torch.cat(parts, 1)


class ReleasedCoordConv(nn.Module):
    def __init__(self, cin, cout, with_boundary, first_one, **conv):
        super().__init__()
        self.addcoords = ReleasedAddCoords(with_boundary and not first_one)
        extra = 3 + (2 if with_boundary and not first_one else 0)
        self.conv = nn.Conv2d(cin + extra, cout, **conv)

    def forward(self, x, heatmap=None):
        return self.conv(self.addcoords(x, heatmap))


class ReleasedHourGlass(nn.Module):
    def __init__(self, depth, width, first_one):
        super().__init__()
        self.depth = depth
        self.coordconv = ReleasedCoordConv(width, width, True, first_one, kernel_size=1, stride=1, padding=0)
        self._generate(depth, width)

    def _generate(self, level, width):
        self.add_module(f"b1_{level}", ReleasedConvBlock(width, width))
        self.add_module(f"b2_{level}", ReleasedConvBlock(width, width))
        if level > 1:
            self._generate(level - 1, width)
        else:
            self.add_module(f"b2_plus_{level}", ReleasedConvBlock(width, width))
        self.add_module(f"b3_{level}", ReleasedConvBlock(width, width))

    def _forward(self, level, x):
        up1 = self._modules[f"b1_{level}"](x)
        low = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2, stride=2))
        low = self._forward(level - 1, low) if level > 1 else self._modules[f"b2_plus_{level}"](low)
        low = self._modules[f"b3_{level}"](low)
        return up1 + F.interpolate(low, scale_factor=2, mode="nearest")

    def forward(self, x, heatmap):
        return self._forward(self.depth, self.coordconv(x, heatmap))


class ReleasedFAN(nn.Module):
    def __init__(self, num_modules, num_landmarks, width=256, depth=4, end_relu=False):
        super().__init__()
        self.num_modules, self.end_relu = num_modules, end_relu
        self.conv1 = ReleasedCoordConv(3, 64 * width // 256, False, True, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64 * width // 256)
        self.conv2 = ReleasedConvBlock(64 * width // 256, 128 * width // 256)
        self.conv3 = ReleasedConvBlock(128 * width // 256, 128 * width // 256)
        self.conv4 = ReleasedConvBlock(128 * width // 256, width)
        for i in range(num_modules):
            self.add_module(f"m{i}", ReleasedHourGlass(depth, width, first_one=i == 0))
            self.add_module(f"top_m_{i}", ReleasedConvBlock(width, width))
            self.add_module(f"conv_last{i}", nn.Conv2d(width, width, 1))
            self.add_module(f"bn_end{i}", nn.BatchNorm2d(width))
            self.add_module(f"l{i}", nn.Conv2d(width, num_landmarks + 1, 1))
            if i < num_modules - 1:
                self.add_module(f"bl{i}", nn.Conv2d(width, width, 1))
                self.add_module(f"al{i}", nn.Conv2d(num_landmarks + 1, width, 1))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.avg_pool2d(self.conv2(x), 2, stride=2)
        x = self.conv4(self.conv3(x))
        previous, tmp_out, outputs = x, None, []
        for i in range(self.num_modules):
            hg = self._modules[f"m{i}"](previous, tmp_out)
            ll = self._modules[f"top_m_{i}"](hg)
            ll = F.relu(self._modules[f"bn_end{i}"](self._modules[f"conv_last{i}"](ll)))
            tmp_out = self._modules[f"l{i}"](ll)
            if self.end_relu:
                tmp_out = F.relu(tmp_out)
            outputs.append(tmp_out)
            if i < self.num_modules - 1:
                previous = previous + self._modules[f"bl{i}"](ll) + self._modules[f"al{i}"](tmp_out)
        return outputs


def randomise(model: nn.Module, seed: int, boundary_bias: float = 0.0) -> nn.Module:
    """Random weights and non-trivial BatchNorm statistics (eval mode); `boundary_bias` shifts the
    boundary output of every non-final stack so that part of its map passes the 0.05 gate."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                t.fill_(7)
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) * 1.5 + 0.5)
            elif name.endswith("running_mean"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif t.dim() == 1 and name.endswith(".weight"):   # BatchNorm scale
                t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.75)
            else:
                fan_in = t[0].numel() if t.dim() > 1 else 1
                t.copy_(torch.randn(t.shape, generator=g) / fan_in ** 0.5)
        for i in range(model.num_modules - 1):
            model._modules[f"l{i}"].bias[-1] += boundary_bias
    return model.eval()
