"""`cnncost compare`: per module, cnncost beside fvcore, differences explained."""
import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("fvcore")

from cnncost.torch.compare import KNOWN, UNEXPLAINED, compare, render  # noqa: E402
from torch_helpers import cli  # noqa: E402




def test_compare_zoo_vgg19_agrees_on_every_module():
    code, out, err = cli("compare", "vgg19", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    # the model and its layers: 16 conv + 16 relu + 5 pool + flatten + 3 fc + 2 relu + 2 dropout
    assert len(data["modules"]) == 1 + 16 + 16 + 5 + 1 + 3 + 2 + 2
    assert all(m["cnncost"] == m["fvcore"] and not m["reason"] for m in data["modules"])
    total = data["modules"][0]["fvcore"]
    # by hand: VGG-19 MACs at 224 (fvcore: 1 per MAC, nothing else), params from Simonyan & Zisserman Table 1
    convs = [(3, 64, 224), (64, 64, 224), (64, 128, 112), (128, 128, 112), (128, 256, 56)] + \
            [(256, 256, 56)] * 3 + [(256, 512, 28)] + [(512, 512, 28)] * 3 + [(512, 512, 14)] * 4
    macs = sum(9 * cin * cout * n * n for cin, cout, n in convs) + 25088 * 4096 + 4096 * 4096 + 4096 * 1000
    assert total["flops"] == macs
    assert total["params"] == 143_667_240       # torchvision's documented vgg19 parameter count


def test_compare_explains_uncalled_auxiliary_classifiers():
    pytest.importorskip("torchvision")
    c = compare("torchvision:googlenet", depth=1)
    diffs = {line.path: line for line in c.differences}
    assert set(diffs) == {"(model)", "aux1", "aux2"}
    for line in diffs.values():
        assert line.reason == KNOWN["uncalled"]
        assert line.ours["flops"] == line.theirs["flops"]
    assert diffs["aux1"].ours["params"] == 0 and diffs["aux1"].theirs["params"] > 0
    text = render(c, "rich", only_differences=True, color=False)
    assert "aux1" in text and "never called" in text and "3 with differences" in text


def test_compare_lists_unknown_ops(tmp_path):
    path = tmp_path / "shuffle.py"
    path.write_text("import torch.nn as nn\n\nclass Shuffle(nn.Sequential):\n    def __init__(self):\n"
                    "        super().__init__(nn.Conv2d(3, 4, 3), nn.PixelShuffle(2))\n")
    c = compare(f"{path}:Shuffle", (3, 8, 8))
    assert c.unknown == {"aten.pixel_shuffle": 1}
    line = next(line for line in c.lines if line.path == "1")
    assert line.ours["flops"] is None and line.theirs["flops"] == 0    # fvcore has no pixel_shuffle handler
    assert "no rule for (aten.pixel_shuffle)" in line.reason and UNEXPLAINED not in line.reason
    assert "unknown" in render(c, "markdown")


def test_compare_upsample_agrees_with_fvcore(tmp_path):
    path = tmp_path / "up.py"
    path.write_text("import torch.nn as nn\n\nclass Up(nn.Sequential):\n    def __init__(self):\n"
                    "        super().__init__(nn.Conv2d(3, 4, 3), nn.Upsample(scale_factor=2))\n")
    c = compare(f"{path}:Up", (3, 8, 8))
    up = next(line for line in c.lines if line.path == "1")
    assert up.same and up.theirs["flops"] == 4 * 12 * 12     # fvcore: 1 per nearest-upsampled output


def test_compare_needs_a_numeric_input():
    code, out, err = cli("compare", "vgg11", "--input", "HxWx3")
    assert code == 2 and err.startswith("error: compare runs fvcore on a real input")


def test_compare_leaves_out_the_insides_of_a_layer_read_whole(tmp_path):
    """Swin's window attention is one layer: its qkv and proj Linears are not lines of their own
    (their parameters are in the attention's row, which agrees with fvcore's module total)."""
    pytest.importorskip("torchvision")
    path = tmp_path / "windowed.py"
    path.write_text("import torch.nn as nn\nfrom torchvision.models.swin_transformer import ShiftedWindowAttention\n\n"
                    "class Net(nn.Sequential):\n    def __init__(self):\n"
                    "        super().__init__(nn.Linear(3, 16), ShiftedWindowAttention(16, [4, 4], [2, 2], 2))\n")
    c = compare(f"{path}:Net", (9, 10, 3))
    assert [line.path for line in c.lines] == ["(model)", "0", "1"]
    assert all(line.same for line in c.lines)
    assert any("2 modules inside layers read whole" in n for n in c.notes)
