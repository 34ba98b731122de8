"""What every model config derives from its fields the same way (FANConfig, BackboneConfig): the
heatmap side and the number of output channels."""

__all__ = ["HeatmapOutputs"]


class HeatmapOutputs:
    """What every model config derives from its fields the same way (FANConfig, BackboneConfig):
    the heatmap side, S / 4, and the output channels, K landmarks [+ 1 boundary]."""
    input_size: int
    num_landmarks: int
    boundary: bool

    @property
    def heatmap_size(self) -> int:
        return self.input_size // 4

    @property
    def num_outputs(self) -> int:
        return self.num_landmarks + int(self.boundary)
