"""The `cnncost` CLI run in-process: every command and format, and every user error as one line on
stderr with exit code 2.  Expected figures are hand arithmetic written out here."""
import csv
import io
import json
import subprocess
import sys

import pytest
import sympy

from cli_run import fails, ok, terminal  # noqa: F401 (terminal: an autouse fixture)
from cnncost import zoo
from cnncost.spec import Conv2d, Flatten, Linear, Opaque, seq

FORMATS = ("rich", "markdown", "csv", "json")

# VGG19 (Simonyan & Zisserman 2015, configuration E) on 224x224x3, by hand -------------------------
# convolution weights 3*3*C_in*C_out over the 16 convolutions:
VGG19_CONV_W = 9 * (3 * 64 + 64 * 64 + 64 * 128 + 128 * 128 + 128 * 256 + 3 * 256 * 256
                    + 256 * 512 + 3 * 512 * 512 + 4 * 512 * 512)              # 20,018,880
VGG19_FC_W = (7 * 7 * 512) * 4096 + 4096 * 4096 + 4096 * 1000              # 123,633,664
VGG19_WEIGHTS = VGG19_CONV_W + VGG19_FC_W                                   # 143,652,544
VGG19_BIASES = 2 * 64 + 2 * 128 + 4 * 256 + 8 * 512 + 4096 + 4096 + 1000   # 14,696
# MACs: H*W*C_out*(3*3*C_in) per conv, grouped by block, then the fc weights (one MAC each)
VGG19_MACS = (9 * 224 * 224 * (3 * 64 + 64 * 64) + 9 * 112 * 112 * (64 * 128 + 128 * 128)
              + 9 * 56 * 56 * (128 * 256 + 3 * 256 * 256) + 9 * 28 * 28 * (256 * 512 + 3 * 512 * 512)
              + 9 * 14 * 14 * (4 * 512 * 512) + VGG19_FC_W)
# conv outputs, 2x2 pool outputs
VGG19_CONV_OUT = 2 * 224 * 224 * 64 + 2 * 112 * 112 * 128 + 4 * 56 * 56 * 256 + 4 * 28 * 28 * 512 + 4 * 14 * 14 * 512
VGG19_POOL_OUT = 112 * 112 * 64 + 56 * 56 * 128 + 28 * 28 * 256 + 14 * 14 * 512 + 7 * 7 * 512
# cnncost convention (docs/conventions.md): 2 per MAC, 1 per bias add, 1 per ReLU, 3 compares per 2x2 max
VGG19_FLOPS = (2 * VGG19_MACS + (VGG19_CONV_OUT + 4096 + 4096 + 1000) + (VGG19_CONV_OUT + 4096 + 4096)
               + 3 * VGG19_POOL_OUT)
# every layer output: conv + its relu, pools, flatten 25,088, fc6/fc7 with relu and dropout, fc8
VGG19_ACTIVATIONS = 2 * VGG19_CONV_OUT + VGG19_POOL_OUT + 7 * 7 * 512 + 3 * 4096 + 3 * 4096 + 1000
# as the papers count them (VGG Table 1, tables/vgg19.md): conv, pool and fc outputs, ReLU/dropout/flatten folded
VGG19_PAPER_ACTIVATIONS = VGG19_CONV_OUT + VGG19_POOL_OUT + 2 * 4096 + 1000                # 16,391,656


@pytest.fixture
def test_models():
    """Temporary zoo entries: a grouped conv on 3 channels, and a net with an op no rule knows."""
    zoo.names()  # load the real zoo first
    added = {
        "test-grouped": (lambda: seq(Conv2d(4, 3, groups=2, name="conv")), (3, 8, 8)),
        "test-opaque": (lambda: seq(Conv2d(4, 3, name="conv"), Opaque("aten::weird", name="weird"),
                                    Flatten(name="flat"), Linear(2, name="fc")), (3, 5, 5)),
    }
    for name, (factory, shape) in added.items():
        zoo.register(name, input_shape=shape, summary="test", source="test")(factory)
    yield
    for name in added:
        zoo.REGISTRY.pop(name)


# --- table --------------------------------------------------------------------------------------


def test_json_totals_for_vgg19_match_hand_arithmetic():
    assert VGG19_WEIGHTS == 143_652_544 and VGG19_BIASES == 14_696  # the classic figures
    d = json.loads(ok("table", "vgg19", "--format", "json"))
    assert set(d) >= {"model", "input", "batch", "convention", "layers", "total", "memory", "complete", "unknown"}
    t = d["total"]
    assert t["weights"] == VGG19_WEIGHTS
    assert t["biases"] == VGG19_BIASES
    assert t["params"] == VGG19_WEIGHTS + VGG19_BIASES
    assert t["macs"] == VGG19_MACS == 19_632_062_464
    assert t["flops"] == VGG19_FLOPS
    assert t["activations"] == VGG19_PAPER_ACTIVATIONS == 16_391_656
    assert t["elements"] == VGG19_ACTIVATIONS
    # receptive field: pool5 268 (hand: 5, 6, 14, 16, 48, 52, 116, 124, 252, 268), then the 7x7 map at jump 32
    assert t["rf"] == 268 + 6 * 32
    assert d["memory"]["parameters"] == (VGG19_WEIGHTS + VGG19_BIASES) * 4
    assert (d["input"], d["batch"], d["convention"], d["complete"]) == ("224x224x3", 1, "cnncost", True)
    for layer in d["layers"]:
        assert {"name", "output_shape", "weights", "biases", "params", "activations", "macs", "flops", "rf"} <= set(layer)


@pytest.mark.parametrize("convention", ["fvcore", "macs"])
def test_conventions_that_count_one_flop_per_mac(convention):
    d = json.loads(ok("table", "vgg19", "--convention", convention, "-f", "json"))
    assert d["total"]["flops"] == VGG19_MACS  # no batch norm or adaptive pooling in VGG19
    assert d["convention"] == convention


@pytest.mark.parametrize("fmt", FORMATS)
def test_table_in_every_format(fmt):
    out = ok("table", "alexnet", "--format", fmt, *(["--wide"] if fmt == "rich" else []))
    # AlexNet conv1: (11*11*3)*96 weights, by hand
    assert "34848" in out.replace(",", "")
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert rows[0]["name"] == "conv1" and int(rows[0]["weights"]) == 11 * 11 * 3 * 96
        assert rows[-1]["name"] == "TOTAL"
    if fmt == "json":
        assert json.loads(out)["layers"][0]["weights"] == 11 * 11 * 3 * 96
    if fmt in ("rich", "markdown"):
        assert "34,848 (34.8K)" in out and "TOTAL" in out and "memory (fp32" in out


def test_human_units_beside_exact_integers():
    out = ok("table", "vgg19", "--wide")
    conv1_1 = next(line for line in out.splitlines() if line.startswith("conv1_1"))
    assert "3,211,264 (3.2M)" in conv1_1                      # 224*224*64 outputs
    total = next(line for line in out.splitlines() if line.startswith("TOTAL"))
    assert f"{VGG19_WEIGHTS:,} (143.7M)" in total


def test_show_work_lists_the_arithmetic():
    out = ok("table", "vgg19", "--show-work")
    assert "(3*3*64)*128 = 73,728" in out                     # conv2_1 weights
    assert "(112*112*128)*(3*3*64) = 924,844,032" in out      # conv2_1 MACs


def test_no_bias_excludes_biases_from_params():
    d = json.loads(ok("table", "vgg19", "--no-bias", "-f", "json"))
    assert d["total"]["params"] == VGG19_WEIGHTS
    out = ok("table", "vgg19", "--no-bias", "--wide")
    assert "params without biases" in out.splitlines()[0]
    header = out.splitlines()[2].split()
    assert "weights" in header and "biases" not in header and "params" not in header
    total = next(line for line in out.splitlines() if line.startswith("TOTAL"))
    assert "143,667,240" not in total and total.count("143,652,544") == 1
    rows = list(csv.DictReader(io.StringIO(ok("table", "vgg19", "--no-bias", "-f", "csv"))))
    assert "params" not in rows[0] and "biases" not in rows[0]    # the count is named for what it is
    assert int(rows[-1]["weights"]) == VGG19_WEIGHTS


def test_batch_and_dtype():
    d = json.loads(ok("table", "vgg19", "--batch", "8", "--dtype", "bf16", "-f", "json"))
    assert d["total"]["macs"] == 8 * VGG19_MACS
    assert d["total"]["params"] == VGG19_WEIGHTS + VGG19_BIASES
    assert d["memory"]["parameters"] == 2 * (VGG19_WEIGHTS + VGG19_BIASES)


def test_symbolic_input_and_batch_print_expressions():
    d = json.loads(ok("table", "vgg19", "--input", "HxWx3", "--batch", "B", "-f", "json"))
    H, W, B = sympy.symbols("H W B", positive=True, integer=True)
    conv1_1 = d["layers"][0]
    assert sympy.sympify(conv1_1["macs"], locals={"H": H, "W": W, "B": B}) == B * H * W * 64 * 27
    weights = sympy.sympify(d["total"]["weights"], locals={"H": H, "W": W})
    # only fc6 depends on the input: (floor(H/32)*floor(W/32)*512)*4096
    assert weights.subs({H: 224, W: 224}) == VGG19_WEIGHTS
    assert weights.subs({H: 256, W: 256}) == VGG19_CONV_W + (8 * 8 * 512) * 4096 + 4096 * 4096 + 4096 * 1000
    out = ok("table", "vgg19", "--input", "HxWx3")
    assert "HxWx64" in out and "floor(H/2) x floor(W/2) x 64" in out


def test_unknown_ops_are_question_marks_and_the_report_says_incomplete(test_models):
    out = ok("table", "test-opaque")
    weird = next(line for line in out.splitlines() if line.startswith("weird"))
    assert "?" in weird
    assert "incomplete: 1 unknown ops (aten::weird x1)" in out
    d = json.loads(ok("table", "test-opaque", "-f", "json"))
    assert d["complete"] is False and d["unknown"] == {"aten::weird": 1}


def test_model_names_with_a_colon_go_to_the_pytorch_reader(monkeypatch):
    import types

    from cnncost import resolve
    from cnncost.spec import Conv2d as C
    seen = {}

    def fake_resolve(name, shape):
        seen["args"] = (name, shape)
        return types.SimpleNamespace(spec=seq(C(2, 1, name="conv")), input_shape=(1, 4, 4), name=name)

    fake = types.ModuleType("cnncost.torch.read")
    fake.resolve = fake_resolve
    monkeypatch.setitem(sys.modules, "cnncost.torch.read", fake)
    monkeypatch.setattr("cnncost.torch.read", fake, raising=False)
    d = json.loads(ok("table", "file.py:Net", "-f", "json"))
    assert seen["args"] == ("file.py:Net", None)
    assert d["total"]["weights"] == 2 and d["input"] == "4x4x1"
    ok("table", "file.py:Net", "--input", "6x6x1")
    assert seen["args"] == ("file.py:Net", (1, 6, 6))
    assert resolve.resolve("file.py:Net").input_shape == (1, 4, 4)


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, words", [
    (["table", "vgg19", "--input", "0x224x3"], "positive integer"),
    (["table", "vgg19", "--input", "-5x224x3"], "positive integer"),
    (["table", "vgg19", "--input", "22.5x224x3"], "positive integer"),
    (["table", "vgg19", "--input", "224x224"], "224x224"),
    (["table", "vgg19", "--input", "axbxc!"], "neither"),
    (["table", "vgg19", "--input", "2x2x3"], "larger than the padded input"),
    (["table", "vgg19", "--batch", "0"], "--batch"),
    (["table", "vgg19", "--batch", "1.5"], "--batch"),
    (["table", "vggg19"], "unknown model 'vggg19'; did you mean vgg19"),
    (["table", "vgg19", "--convention", "foo"], "unknown convention 'foo'"),
    (["table", "vgg19", "--dtype", "fp7"], "unknown dtype 'fp7'"),
    (["table", "vgg19", "--format", "xml"], "unknown format 'xml'"),
    (["table", "vgg19", "--bogus"], "unrecognized arguments: --bogus"),
    (["table"], "required: MODEL"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["inception", "--c1", "abc"], "--c1"),
    (["inception", "--c3", "0"], "positive integer"),
    (["inception", "--input", "28x28x0"], "positive integer"),
    (["rf"], "--stack N and --kernel F"),
    (["rf", "vgg19", "--stack", "3", "--kernel", "3"], "not both"),
    (["rf", "--stack", "3", "--kernel", "0"], "--kernel"),
    (["rf", "--stack", "3", "--kernel", "3", "--stride", "x!"], "--stride"),
    (["formula", "nope"], "unknown model"),
    (["formula", "vgg19", "--channels", "0"], "--channels"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, words):
    assert words in fails(*args)


def test_channels_not_divisible_by_groups(test_models):
    assert "not divisible by groups 2" in fails("table", "test-grouped")


def test_missing_pytorch_reader_is_a_clean_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cnncost.torch.read", None)  # import fails
    monkeypatch.delattr("cnncost.torch.read", raising=False)      # even after a real import
    assert "PyTorch reader" in fails("table", "torchvision:resnet50")


# --- list, inception, rf, formula, tables ------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_list(fmt):
    out = ok("list", "--format", fmt)
    for name in ("vgg19", "alexnet", "inception-naive"):
        assert name in out
    if fmt == "json":
        entries = {e["name"]: e for e in json.loads(out)}
        assert entries["vgg19"]["input"] == "224x224x3" and "Simonyan" in entries["vgg19"]["source"]


# inception module on 28x28x256 (Szegedy et al. 2015, Fig. 2), MACs = H*W*C_out*(k*k*C_in), by hand
NAIVE_MACS = 28 * 28 * (128 * 1 * 256 + 192 * 9 * 256 + 96 * 25 * 256)                  # 854,196,224
REDUCED_MACS = 28 * 28 * (128 * 256 + 64 * 256 + 192 * 9 * 64 + 64 * 256 + 96 * 25 * 64 + 64 * 256)  # 271,351,808


@pytest.mark.parametrize("fmt", FORMATS)
def test_inception_naive_vs_reduced(fmt):
    out = ok("inception", "--format", fmt)
    if fmt == "json":
        d = json.loads(out)
        assert d["naive"]["total"]["macs"] == NAIVE_MACS == 854_196_224
        assert d["reduced"]["total"]["macs"] == REDUCED_MACS
        assert d["naive"]["total"]["output_shape"] == [128 + 192 + 96 + 256, 28, 28]
        assert d["reduced"]["total"]["output_shape"] == [128 + 192 + 96 + 64, 28, 28]
        assert d["saving_float"]["macs"] == pytest.approx(NAIVE_MACS / REDUCED_MACS)
        branches = {b["branch"]: b for b in d["reduced"]["branches"]}
        assert branches["5x5"]["macs"] == 28 * 28 * (64 * 256 + 96 * 25 * 64)
        assert "layers" in d["naive"] and "total" in d["reduced"]
    elif fmt == "csv":
        rows = {(r["module"], r["branch"]): r for r in csv.DictReader(io.StringIO(out))}
        assert int(rows["naive", "TOTAL"]["MACs"]) == NAIVE_MACS       # plain exact numbers
        assert int(rows["reduced", "TOTAL"]["MACs"]) == REDUCED_MACS
        assert int(rows["reduced", "1x1"]["params"]) == 256 * 128 + 128
    else:
        assert f"{NAIVE_MACS:,}" in out and f"{REDUCED_MACS:,}" in out


def test_inception_options_reach_the_modules():
    d = json.loads(ok("inception", "--c3", "128", "--r3", "32", "--pool-proj", "16", "-f", "json"))
    assert d["naive"]["total"]["macs"] == 28 * 28 * (128 * 256 + 128 * 9 * 256 + 96 * 25 * 256)
    assert d["reduced"]["total"]["output_shape"][0] == 128 + 128 + 96 + 16
    out = ok("inception", "--input", "14x14x512")
    assert "14x14x928" in out  # naive: 128 + 192 + 96 + 512 channels


@pytest.mark.parametrize("fmt", FORMATS)
def test_rf_of_a_stack(fmt):
    out = ok("rf", "--stack", "3", "--kernel", "5", "--format", fmt)
    if fmt == "csv":
        assert list(csv.DictReader(io.StringIO(out))) == [
            {"stack": "3", "kernel": "5", "stride": "1", "dilation": "1", "rf": "13"}]
    elif fmt == "json":
        d = json.loads(out)
        assert d["rf"] == 3 * 5 - 3 + 1 == 13
        assert [x["rf"] for x in d["layers"]] == [5, 9, 13]
        assert d["proof"] and all(step["verified"] for step in d["proof"])
    else:
        assert "13" in out and "proof" in out


def test_rf_of_a_symbolic_stack_is_a_closed_form():
    d = json.loads(ok("rf", "--stack", "N", "--kernel", "3", "-f", "json"))
    N = sympy.Symbol("N", positive=True, integer=True)
    assert sympy.simplify(sympy.sympify(d["rf"], locals={"N": N}) - (2 * N + 1)) == 0
    d = json.loads(ok("rf", "--stack", "3", "--kernel", "3", "--stride", "2", "-f", "json"))
    assert d["rf"] == 1 + 2 * (1 + 2 + 4)   # jumps 1, 2, 4


@pytest.mark.parametrize("fmt", FORMATS)
def test_rf_of_a_model(fmt):
    out = ok("rf", "alexnet", "--format", fmt)
    if fmt == "json":
        d = json.loads(out)
        pool5 = next(x for x in d["layers"] if x["name"] == "pool5")
        # AlexNet pool5: 195 pixels (Araujo et al. 2019, Distill, Table 1), jump 4*2*2*2 = 32
        assert pool5["rf"] == 195 and pool5["h"]["jump"] == 32
    else:
        assert "pool5" in out and "195" in out


@pytest.mark.parametrize("fmt", FORMATS)
def test_formula(fmt):
    out = ok("formula", "vgg19", "--format", fmt)
    if fmt == "json":
        d = json.loads(out)
        H, W = sympy.symbols("H W", positive=True, integer=True)
        weights = sympy.sympify(d["formulas"]["weights"], locals={"H": H, "W": W})
        assert weights.subs({H: 224, W: 224}) == VGG19_WEIGHTS
        macs = sympy.sympify(d["formulas"]["macs"], locals={"H": H, "W": W})
        assert macs.subs({H: 224, W: 224}) == VGG19_MACS
        assert d["agrees"] is True and d["input"] == "HxWx3"
    else:
        assert "floor(H/32)" in out


def test_formula_with_symbolic_channels():
    d = json.loads(ok("formula", "vgg16", "--channels", "C", "-f", "json"))
    C = sympy.Symbol("C", positive=True, integer=True)
    w = sympy.sympify(d["formulas"]["weights"], locals={"C": C, "H": sympy.Symbol("H", positive=True, integer=True),
                                                         "W": sympy.Symbol("W", positive=True, integer=True)})
    assert sympy.diff(w, C) == 3 * 3 * 64  # only conv1_1 sees the input channels


def test_tables_command_writes_the_four_files(tmp_path):
    out = ok("tables", "--out", tmp_path / "t")
    names = sorted(p.name for p in (tmp_path / "t").iterdir())
    assert names == ["alexnet.md", "inception.md", "receptive-fields.md", "vgg19.md"]
    assert out.count("wrote ") == 4


def test_help_and_no_arguments_exit_0():
    assert "table" in ok("--help")
    assert "usage: cnncost" in ok()


# --- startup ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_numeric_table_never_imports_sympy_torch_rich_or_typer(fmt):
    """Start-up time: typer (with the pydantic it coerces options with) and rich's tables cost more
    than the analysis, so a numeric table imports neither."""
    heavy = "{'sympy', 'torch', 'rich', 'numpy', 'typer', 'pydantic'}"
    code = ("import sys\nfrom cnncost.cli import main\n"
            f"try:\n    main(['table', 'vgg19', '--format', '{fmt}'])\nexcept SystemExit as e:\n    code = e.code\n"
            f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & {heavy})\n"
            "sys.stderr.write(f'{code} {heavy}')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stderr.strip() == "0 []", r.stderr
