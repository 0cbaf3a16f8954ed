"""Each rebuilt TFLite op against its definition, on small tensors (no model file needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from service.network.blazeblocks import Conv, ConvWeights, ResUnit, assign_weights, upsample2x
from service.network.blazepose_detector import depth_to_space


def conv2d_reference(x: np.ndarray, w: np.ndarray, stride: int, pads: tuple[int, int, int, int]
                     ) -> np.ndarray:
    """Direct convolution by definition: x (C, H, W), w (O, C, k, k), pads (top, bottom, left,
    right) of zeros -> (O, H', W')."""
    c, h, wd = x.shape
    k = w.shape[-1]
    xp = np.zeros((c, h + pads[0] + pads[1], wd + pads[2] + pads[3]))
    xp[:, pads[0]:pads[0] + h, pads[2]:pads[2] + wd] = x
    oh = (xp.shape[1] - k) // stride + 1
    ow = (xp.shape[2] - k) // stride + 1
    out = np.zeros((w.shape[0], oh, ow))
    for i in range(k):
        for j in range(k):
            patch = xp[:, i:i + stride * oh:stride, j:j + stride * ow:stride]  # (C, oh, ow)
            out += np.einsum("oc,chw->ohw", w[:, :, i, j], patch)
    return out


@pytest.mark.parametrize(("size", "pads"), [(8, (0, 1, 0, 1)), (7, (1, 1, 1, 1))])
def test_tf_same_stride2_pads_the_odd_pixel_after(size: int, pads: tuple[int, ...]) -> None:
    # TF SAME: total = max((ceil(n/2) - 1) * 2 + 3 - n, 0), the extra pixel at bottom / right
    torch.manual_seed(0)
    layer = Conv(2, 3, 3, 2, act=False, tf_same=True)
    x = torch.randn(1, 2, size, size)
    with torch.no_grad():
        ours = layer(x)[0].numpy()
    weight = layer.conv.weight.detach().double().numpy()
    ref = conv2d_reference(x[0].double().numpy(), weight, 2, pads)
    ref += layer.conv.bias.detach().numpy()[:, None, None]
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_pad_then_valid_stride2_is_symmetric_padding() -> None:
    # TFLite's PAD [[1, 1], [1, 1]] + VALID conv (how the files downsample) = Conv padding 1
    torch.manual_seed(1)
    layer = Conv(2, 2, 3, 2, act=False)
    x = torch.randn(1, 2, 8, 8)
    with torch.no_grad():
        ours = layer(x)[0].numpy()
    ref = conv2d_reference(x[0].double().numpy(), layer.conv.weight.detach().double().numpy(), 2,
                           (1, 1, 1, 1)) + layer.conv.bias.detach().numpy()[:, None, None]
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_relu6_activation_clamps() -> None:
    layer = Conv(1, 1, act=True)
    with torch.no_grad():
        layer.conv.weight.fill_(1.0)
        layer.conv.bias.zero_()
    x = torch.tensor([[[[-3.0, 2.0, 9.0]]]])
    assert layer(x).flatten().tolist() == [0.0, 2.0, 6.0]


def test_upsample_is_half_pixel_bilinear() -> None:
    # RESIZE_BILINEAR half_pixel_centers: out[i] samples in[(i + 0.5) / 2 - 0.5], clamped at 0
    x = torch.tensor([[[[0.0, 4.0, 8.0]]]]).expand(1, 1, 2, 3)
    out = upsample2x(x)[0, 0, 0].tolist()
    src = np.clip((np.arange(6) + 0.5) / 2 - 0.5, 0, 2)
    ref = np.interp(src, [0, 1, 2], [0.0, 4.0, 8.0])
    np.testing.assert_allclose(out, ref)


def test_depth_to_space_is_tf_dcr() -> None:
    # TF: out[h*b + i, w*b + j, c] = in[h, w, (i*b + j) * C + c]
    b, c, h, w = 2, 3, 2, 2
    nhwc = np.arange(h * w * b * b * c, dtype=np.float32).reshape(h, w, b * b * c)
    ref = np.zeros((h * b, w * b, c), dtype=np.float32)
    for y in range(h):
        for x in range(w):
            for i in range(b):
                for j in range(b):
                    ref[y * b + i, x * b + j] = nhwc[y, x, (i * b + j) * c:(i * b + j + 1) * c]
    ours = depth_to_space(torch.from_numpy(nhwc).permute(2, 0, 1)[None], b)
    np.testing.assert_array_equal(ours[0].permute(1, 2, 0).numpy(), ref)


def test_res_unit_stride2_takes_maxpool_shortcut() -> None:
    unit = ResUnit(1, stride=2)
    with torch.no_grad():
        for p in unit.parameters():
            p.zero_()  # the branch gives 0: out = relu6(maxpool(x))
    x = torch.tensor([[[[1.0, 7.0], [-2.0, 3.0]]]])
    assert unit(x).item() == 6.0
    x = torch.tensor([[[[-1.0, -7.0], [-2.0, -3.0]]]])
    assert unit(x).item() == 0.0


def test_assign_weights_transposes_tflite_layouts() -> None:
    conv, dw = Conv(2, 3, act=False), Conv(2, 2, 3, depthwise=True, act=False)
    ohwi = np.arange(6, dtype=np.float32).reshape(3, 1, 1, 2)  # w[o, 0, 0, i] = 2o + i
    hwc = np.zeros((1, 3, 3, 2), dtype=np.float32)
    hwc[0, 1, 1] = [2.0, 5.0]  # centre taps of the two channels
    assign_weights([conv, dw], [
        ConvWeights(False, ohwi, np.zeros(3, np.float32), 1, False),
        ConvWeights(True, hwc, np.zeros(2, np.float32), 1, False)])
    x = torch.tensor([1.0, 10.0]).reshape(1, 2, 1, 1)
    assert conv(x).flatten().tolist() == [10.0, 32.0, 54.0]  # (0+10, 2+30, 4+50)
    assert dw(x).flatten().tolist() == [2.0, 50.0]


def test_assign_weights_refuses_a_mismatch() -> None:
    with pytest.raises(ValueError, match="conv 0"):
        assign_weights([Conv(2, 3)], [ConvWeights(False, np.zeros((3, 1, 1, 2), np.float32),
                                                  np.zeros(3, np.float32), 1, False)])
