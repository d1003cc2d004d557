"""tables/*.md: the committed files equal a fresh `cnncost tables` run, and their key figures
equal hand arithmetic written out here."""
import difflib
import re
from pathlib import Path

import pytest

from cnncost import tables

COMMITTED = Path(__file__).resolve().parent.parent / "tables"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("tables")
    tables.write(out)
    return out


@pytest.mark.parametrize("name", sorted(tables.DOCUMENTS))
def test_committed_tables_are_current(generated, name):
    fresh = (generated / name).read_text(encoding="utf-8")
    committed = COMMITTED / name
    assert committed.exists(), f"{committed} missing: run `cnncost tables`"
    old = committed.read_text(encoding="utf-8")
    if old != fresh:
        diff = "".join(difflib.unified_diff(old.splitlines(True), fresh.splitlines(True), "committed", "fresh", n=1))
        pytest.fail(f"{committed} is stale: run `cnncost tables`\n{diff[:4000]}", pytrace=False)


def rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| ") and not line.startswith("|---")]


def number(cell: str) -> int:
    """The figure after '=' (or the cell itself), without separators or bold."""
    return int(cell.split("=")[-1].replace(",", "").replace("*", "").strip())


def test_vgg19_homework_table_against_hand_arithmetic(generated):
    body = rows((generated / "vgg19.md").read_text())
    header, data = body[0], body[1:]
    assert header == ["Layer", "Number of activations (memory)", "Parameters without biases (compute)"]
    assert data[0] == ["INPUT", "224*224*3 = 150,528", "0"]
    assert data[1] == ["CONV3-64", "224*224*64 = 3,211,264", "(3*3*3)*64 = 1,728"]
    assert data[2] == ["CONV3-64", "224*224*64 = 3,211,264", "(3*3*64)*64 = 36,864"]
    assert data[3] == ["POOL2", "112*112*64 = 802,816", "0"]
    fc6 = [r for r in data if r[0] == "FC-4096"][0]
    assert fc6 == ["FC-4096", "4,096", "(7*7*512)*4096 = 102,760,448"]
    total = data[-1]
    assert total[0] == "TOTAL"
    # weights: 16 convolutions 3*3*C_in*C_out + fc 25088*4096 + 4096*4096 + 4096*1000
    conv = 9 * (3 * 64 + 64 * 64 + 64 * 128 + 128 * 128 + 128 * 256 + 3 * 256 * 256
                + 256 * 512 + 3 * 512 * 512 + 4 * 512 * 512)
    assert number(total[2]) == conv + 25088 * 4096 + 4096 * 4096 + 4096 * 1000 == 143_652_544
    # activations, input excluded: conv outputs + 2x2 pool outputs + fc outputs
    acts = (2 * 224 * 224 * 64 + 112 * 112 * 64 + 2 * 112 * 112 * 128 + 56 * 56 * 128 + 4 * 56 * 56 * 256
            + 28 * 28 * 256 + 4 * 28 * 28 * 512 + 14 * 14 * 512 + 4 * 14 * 14 * 512 + 7 * 7 * 512
            + 4096 + 4096 + 1000)
    assert number(total[1]) == acts == 16_391_656
    assert len(data) == 1 + 16 + 5 + 3 + 1  # INPUT, convs, pools, fcs, TOTAL
    assert sum(number(r[2]) for r in data[:-1]) == number(total[2])
    assert sum(number(r[1]) for r in data[1:-1]) == number(total[1])
    text = (generated / "vgg19.md").read_text()
    assert "**not** the INPUT row" in text and f"{acts + 224 * 224 * 3:,}" in text


def test_alexnet_tables_against_hand_arithmetic(generated):
    text = (generated / "alexnet.md").read_text()
    # grouped convolutions see C_in/2 channels: conv2 5*5*48*256, conv4 3*3*192*384, conv5 3*3*192*256
    assert "(5*5*48)*256 = 307,200" in text and "(5*5*96)*256 = 614,400" in text
    grouped = (11 * 11 * 3 * 96 + 5 * 5 * 48 * 256 + 3 * 3 * 256 * 384 + 3 * 3 * 192 * 384 + 3 * 3 * 192 * 256
               + 9216 * 4096 + 4096 * 4096 + 4096 * 1000)
    single = grouped + 5 * 5 * 48 * 256 + 3 * 3 * 192 * 384 + 3 * 3 * 192 * 256
    side = [r for r in rows(text) if r[0] == "TOTAL"][-1]
    assert number(side[1]) == grouped == 60_954_656
    assert number(side[2]) == single
    assert number(side[3]) == single - grouped == 1_413_120
    assert "pool1 (POOL3/2)" in text  # overlapping 3x3 stride-2 pooling (Krizhevsky et al. 2012, 3.4)


def test_inception_table_against_hand_arithmetic(generated):
    text = (generated / "inception.md").read_text()
    naive = 28 * 28 * (128 * 256 + 192 * 9 * 256 + 96 * 25 * 256)
    reduced = 28 * 28 * (128 * 256 + 64 * 256 + 192 * 9 * 64 + 64 * 256 + 96 * 25 * 64 + 64 * 256)
    assert f"MACs: {naive:,} / {reduced:,} = {naive / reduced:.2f}x" in text
    assert "**28x28x672**" in text and "**28x28x480**" in text


def test_receptive_field_table_against_hand_arithmetic(generated):
    text = (generated / "receptive-fields.md").read_text()
    stacks = {(r[0], r[1], r[2], r[3]): r[4] for r in rows(text) if len(r) == 5 and r[0] != "Layers"}
    assert stacks[("3", "5x5", "1", "1")] == str(3 * 5 - 3 + 1) == "13"
    assert stacks[("3", "3x3", "1", "1")] == "7"
    assert stacks[("3", "3x3", "2", "1")] == str(1 + 2 * (1 + 2 + 4))
    assert stacks[("3", "3x3", "1", "2")] == str(1 + 3 * 2 * 2)
    models = {r[0]: r for r in rows(text) if len(r) == 4}
    # Araujo et al. 2019 (Distill), Table 1: AlexNet 195, VGG16 212 at the last feature map
    assert models["alexnet"][2].startswith("195 (pool5")
    assert models["vgg16"][2].startswith("212 (pool5")
    assert re.search(r"\| 3 x 3x3 \| 7 \| 110,592 ", text)  # 3*3*3*64*64
