"""Renderers on small specs built here: every expected count is hand arithmetic written out."""
import csv
import io
import json
from fractions import Fraction

import pytest

from cnncost import analyze
from cnncost.errors import CostError
from cnncost.render import render
from cnncost.render.format import COLUMNS, count, jsonable, nbytes, rf, shape, short
from cnncost.render.markdown import cell
from cnncost.render.text import grid
from cnncost.spec import Activation, Conv2d, Flatten, Linear, MaxPool2d, Opaque, seq


def small_vgg():
    """conv 3->8 3x3 pad 1, relu, 2x2 pool, conv 8->16 3x3 pad 1, relu, 2x2 pool, flatten, fc 10."""
    return seq(Conv2d(8, 3, padding=1, name="conv1"), Activation(name="relu1"), MaxPool2d(2, name="pool1"),
               Conv2d(16, 3, padding=1, name="conv2"), Activation(name="relu2"), MaxPool2d(2, name="pool2"),
               Flatten(name="flatten"), Linear(10, name="fc"), name="small")


# hand arithmetic for small_vgg on 8x8x3
W_CONV1 = 3 * 3 * 3 * 8           # 216
W_CONV2 = 3 * 3 * 8 * 16          # 1,152
W_FC = (2 * 2 * 16) * 10          # 640
WEIGHTS = W_CONV1 + W_CONV2 + W_FC  # 2,008
BIASES = 8 + 16 + 10              # 34
MACS = (8 * 8 * 8) * 27 + (4 * 4 * 16) * 72 + 64 * 10  # 13,824 + 18,432 + 640 = 32,896


def report(**kw):
    return analyze(small_vgg(), (3, 8, 8), **kw)


def test_count_puts_human_units_beside_exact_integers():
    assert count(3211264) == "3,211,264 (3.2M)"
    assert count(143652544) == "143,652,544 (143.7M)"
    assert count(1728) == "1,728"
    assert count(0) == "0"
    assert count(None) == "?"


def test_shapes_and_rf_are_written_as_users_type_them():
    assert shape((64, 224, 224)) == "224x224x64"
    assert shape((4096,)) == "4096"
    assert rf(11) == "11"
    assert rf((3, 5)) == "3x5"


def test_bytes_in_binary_units():
    assert nbytes(143667240 * 4) == f"{143667240 * 4 / 2**20:.2f} MiB"  # 548.05 MiB
    assert nbytes(3 * 2**30) == "3.00 GiB"
    assert nbytes(512) == "512 B"


def test_jsonable_keeps_ints_and_writes_fractions_as_text():
    assert jsonable(5) == 5
    assert jsonable(Fraction(1, 2)) == "1/2"
    assert jsonable(Fraction(4, 2)) == 2
    assert jsonable(None) is None
    assert jsonable((1, Fraction(3, 2))) == [1, "3/2"]


def test_json_totals_are_the_hand_counts():
    d = json.loads(render(report(), "json"))
    t = d["total"]
    assert (t["weights"], t["biases"], t["params"], t["macs"]) == (WEIGHTS, BIASES, WEIGHTS + BIASES, MACS)
    assert t["output_shape"] == [10]
    conv2 = next(layer for layer in d["layers"] if layer["name"] == "conv2")
    assert conv2["output_shape"] == [16, 4, 4] and conv2["output"] == "4x4x16"
    assert conv2["weights"] == W_CONV2 and conv2["macs"] == (4 * 4 * 16) * 72
    # RF after conv1 (3), pool1 (3 + 1 = 4, jump 2), conv2 (4 + 2*2 = 8): Araujo et al. 2019 eq. 2
    assert conv2["rf"] == 8 and conv2["rf_detail"]["h"]["jump"] == 2
    assert d["complete"] is True and d["unknown"] == {}


def test_no_bias_counts_weights_only_in_rows_and_total():
    d = json.loads(render(report(), "json", no_bias=True))
    assert d["params_include_biases"] is False
    assert d["total"]["params"] == WEIGHTS
    assert all(layer["params"] == layer["weights"] for layer in d["layers"])
    text = render(report(), "rich", no_bias=True, color=False, width=0)
    assert "params without biases" in text.splitlines()[0]
    header = text.splitlines()[2].split()
    assert "weights" in header and "biases" not in header and "params" not in header
    total = next(line for line in text.splitlines() if line.startswith("TOTAL"))
    assert f"{WEIGHTS:,}" in total and f"{WEIGHTS + BIASES:,}" not in total


def test_batch_multiplies_per_sample_costs_not_parameters():
    d = json.loads(render(report(batch=4), "json"))
    assert d["total"]["macs"] == 4 * MACS
    assert d["total"]["weights"] == WEIGHTS


def test_csv_rows_parse_back_to_exact_integers():
    rows = list(csv.DictReader(io.StringIO(render(report(), "csv"))))
    assert [r["name"] for r in rows][-1] == "TOTAL"
    total = rows[-1]
    assert int(total["weights"]) == WEIGHTS and int(total["macs"]) == MACS
    assert sum(int(r["weights"]) for r in rows[:-1]) == WEIGHTS


def test_rich_table_has_every_row_a_total_and_the_footer():
    text = render(report(), "rich", color=False, width=0)
    lines = text.splitlines()
    assert lines[0].startswith("small: input 8x8x3, batch 1")
    for name in ("conv1", "relu1", "pool1", "conv2", "fc"):
        assert any(line.startswith(name + " ") for line in lines)
    total = next(line for line in lines if line.startswith("TOTAL"))
    assert f"{WEIGHTS:,}" in total and f"{MACS:,} ({MACS / 1000:.1f}K)" in total
    assert "\x1b[" not in text
    assert any(line.startswith("memory (fp32") for line in lines)
    assert any(line.startswith("  training step: --training gives") for line in lines)


def test_colour_only_when_asked():
    assert "\x1b[1m" in render(report(), "rich", color=True)


def test_show_work_puts_the_rules_arithmetic_under_each_row():
    text = render(report(), "rich", show_work=True, color=False)
    assert "(3*3*8)*16 = 1,152" in text           # conv2 weights
    assert "(4*4*16)*(3*3*8) = 18,432" in text     # conv2 MACs
    md = render(report(), "markdown", show_work=True)
    assert "`(3*3*3)*8 = 216`" in md


def test_unknown_ops_show_as_question_marks_never_zero():
    r = analyze(seq(Conv2d(4, 3, name="conv"), Opaque("aten::weird", name="weird"), Flatten(name="flat")), (3, 5, 5))
    text = render(r, "rich", color=False, width=0)
    weird = next(line for line in text.splitlines() if line.startswith("weird"))
    assert weird.count("?") >= 6 and " 0 " not in weird
    assert "incomplete: 1 unknown ops (aten::weird x1)" in text
    total = next(line for line in text.splitlines() if line.startswith("TOTAL"))
    assert "+ ?" in total
    d = json.loads(render(r, "json"))
    w = next(layer for layer in d["layers"] if layer["name"] == "weird")
    assert w["macs"] is None and w["weights"] is None and w["known"] is False
    assert d["complete"] is False and d["unknown"] == {"aten::weird": 1}


def test_symbolic_sizes_print_as_expressions():
    from cnncost.sizes import parse_input
    r = analyze(small_vgg(), parse_input("HxWx3"))
    d = json.loads(render(r, "json"))
    conv1 = d["layers"][0]
    assert conv1["macs"] == "216*H*W"            # (H*W*8)*(3*3*3)
    assert conv1["weights"] == W_CONV1           # parameters stay integers
    text = render(r, "rich", color=False)
    assert "HxWx8" in text and "floor(H/2) x floor(W/2) x 8" in text


def test_markdown_escapes_pipes_and_keeps_one_line_per_row():
    assert cell("a|b") == "a\\|b"
    assert cell("x\ny") == "x<br>y"
    md = render(report(), "markdown")
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(report().rows) + 1   # header, rule, rows, TOTAL
    assert all(line.replace("\\|", "").count("|") == 11 for line in table)  # 10 columns


def test_grid_aligns_numbers_right_and_splits_multiline_cells():
    lines = grid(["a", "n"], [["x", "1"], ["yy", "100\n2"]], right={1}, width=0)
    assert lines[0] == "a   " + "  n"
    assert lines[2] == "x     " + "1"
    assert lines[3] == "yy  100"
    assert lines[4] == "      2"


def test_unknown_format_is_an_error():
    with pytest.raises(CostError, match="unknown format 'xml'"):
        render(report(), "xml")


# --- human units and huge numbers ------------------------------------------------------------------


def test_short_forms_are_human_units_then_exponents():
    assert short(999) == "999" and short(36_864) == "36.9K" and short(3_211_264) == "3.2M"
    assert short(143_667_240) == "143.7M" and short(19_632_062_464) == "19.6G"
    assert short(999_960) == "1.0M"                   # rounds up into the next unit, not '1000.0K'
    assert short(2 * 10 ** 12) == "2.0T"
    assert short(3_908_479_999_529 * 10 ** 15) == "3.9e27"   # not '(3908479999529P)'
    assert short(3 ** 10000) == "1.6e4771"            # 3^10000 = 10^(10000*log10 3) = 10^4771.2
    assert short(None) == "?"


def test_huge_memory_is_an_exponent_not_quadrillions_of_gib():
    assert nbytes(5 * 2 ** 50) == "5.00 PiB"
    assert nbytes(2 ** 60) == "1.15e18 B"             # 1,152,921,504,606,846,976 bytes
    text = nbytes(76_293_945_263_671_872 * 2 ** 30)   # the '76293945263671872.00 GiB'
    assert text == "8.19e25 B"                        # 7.63e16 * 1.07e9 = 8.19e25


# --- fitting the terminal --------------------------------------------------------------------------


def vgg19_report():
    from cnncost.resolve import analyze as by_name
    return by_name("vgg19")


@pytest.mark.parametrize("width", [40, 60, 80, 100, 132])
def test_rich_table_fits_the_terminal(width):
    text = render(vgg19_report(), "rich", color=False, width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "conv5_4" in text and "TOTAL" in text


def test_narrow_terminals_drop_columns_by_priority_and_say_so():
    full = render(vgg19_report(), "rich", color=False, width=0)
    assert "weights" in full.splitlines()[2] and "(not shown" not in full
    narrow = render(vgg19_report(), "rich", color=False, width=80)
    header = narrow.splitlines()[2].split()
    assert "weights" not in header and "biases" not in header       # folded into params
    assert {"layer", "params", "FLOPs"} <= set(header)
    assert "not shown, too narrow a terminal: weights, biases" in narrow
    by_priority = sorted((c for c in COLUMNS if c.priority), key=lambda c: -c.priority)
    assert [c.key for c in by_priority[:2]] == ["biases", "weights"]


def test_shortened_counts_keep_the_exact_totals_on_screen():
    narrow = render(vgg19_report(), "rich", color=False, width=80)
    assert "143.7M" in narrow                            # params in human units
    exact = " ".join(narrow.split())                     # the exact line may wrap
    # VGG19: 143,667,240 parameters and 19,632,062,464 MACs (hand arithmetic in tests/test_cli.py)
    assert "params 143,667,240" in exact and "MACs 19,632,062,464" in exact


def test_show_work_lines_wrap_to_the_terminal():
    text = render(report(), "rich", show_work=True, color=False, width=60)
    assert max(len(line) for line in text.splitlines()) <= 60
    assert "(3*3*8)*16 = 1,152" in " ".join(text.split())


def test_memory_of_an_incomplete_model_is_a_lower_bound():
    r = analyze(seq(Conv2d(4, 3, name="conv"), Opaque("aten::weird", name="weird"), Flatten(name="flat")), (3, 5, 5))
    text = render(r, "rich", color=False, width=0)
    memory = next(line for line in text.splitlines() if line.startswith("memory"))
    assert memory.endswith("+ ?")                    # parameters: at least the conv's
    rows = list(csv.DictReader(io.StringIO(render(r, "csv"))))
    assert rows[-1]["name"] == "TOTAL" and rows[-1]["complete"] == "false"
    assert next(x for x in rows if x["name"] == "weird")["complete"] == "false"
    assert rows[0]["complete"] == "true"
    d = json.loads(render(r, "json"))
    assert d["total"]["complete"] is False and d["memory"]["complete"] is False
