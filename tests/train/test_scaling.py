"""DDP scaling with gloo at toy size (1 and 2 learners), the reduce-then-broadcast hook."""
import csv
import json
import socket

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from cnncost_train.engine import ddp_worker  # noqa: E402
from cnncost_train.experiments import scaling as sc  # noqa: E402
from cnncost_train.cli import app  # noqa: E402


def _hook_check(rank, world, port, path):
    """On each rank: DDP default vs DDP with the reduce-bcast hook vs the hand mean of both ranks' local grads."""
    from torch.nn.parallel import DistributedDataParallel as DDP
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    # the primitive on a tiny tensor: rank r holds [r+1, 10(r+1)]; the mean over 2 ranks is [1.5, 15]
    t = torch.tensor([rank + 1.0, 10.0 * (rank + 1)])
    a = t.clone()
    dist.all_reduce(a)
    a /= world
    b = ddp_worker.reduce_broadcast_(t.clone(), world)
    ok = torch.equal(a, b) and torch.equal(b, torch.tensor([1.5, 15.0]))

    def data(r):
        g = torch.Generator().manual_seed(100 + r)
        return torch.randn(8, 5, generator=g), torch.randn(8, 3, generator=g)

    def grads(variant):
        torch.manual_seed(0)
        net = torch.nn.Linear(5, 3)
        ddp = DDP(net)
        ddp_worker.register_variant(ddp, variant)
        x, y = data(rank)
        ((ddp(x) - y) ** 2).mean().backward()
        return [p.grad.clone() for p in net.parameters()]

    def local(r):
        torch.manual_seed(0)
        net = torch.nn.Linear(5, 3)
        x, y = data(r)
        ((net(x) - y) ** 2).mean().backward()
        return [p.grad.clone() for p in net.parameters()]

    hand = [(g0 + g1) / 2 for g0, g1 in zip(local(0), local(1))]
    dflt, rb, fp16 = grads("default"), grads("reduce-bcast"), grads("fp16")
    ok = ok and all(torch.allclose(u, v, atol=1e-6) for u, v in zip(dflt, hand))
    ok = ok and all(torch.allclose(u, v, atol=1e-6) for u, v in zip(rb, hand))
    ok = ok and all(torch.allclose(u, v, atol=2e-3, rtol=2e-3) for u, v in zip(fp16, hand))
    ok = ok and not all(torch.allclose(u, v) for u, v in zip(local(0), hand))   # the ranks' grads really differ
    with open(f"{path}.{rank}", "w") as f:
        f.write("ok" if ok else "FAIL")
    dist.destroy_process_group()


def test_reduce_broadcast_hook_equals_allreduce(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_hook_check, args=(2, port, str(tmp_path / "r")), nprocs=2, join=True)
    assert [(tmp_path / f"r.{k}").read_text() for k in (0, 1)] == ["ok", "ok"]


def test_plan():
    jobs = sc.plan(sc.Options(learners=[1, 2, 4], variants=["default", "fp16"]))
    assert [j["per_learner_batch"] for j in jobs[4]] == [64, 64, 64]    # strong 256/4, weak 64, fp16 strong
    assert [j["per_learner_batch"] for j in jobs[2]] == [128, 64]
    from cnncost.errors import CostError
    with pytest.raises(CostError):
        sc.plan(sc.Options(learners=[3]))                                # 256 not divisible by 3
    with pytest.raises(CostError):
        sc.plan(sc.Options(variants=["allgather"]))


def test_cli_smoke_one_and_two_gloo_learners(tmp_path):
    out = tmp_path / "sc"
    args = ["scaling", "--smoke", "--out", str(out), "--learners", "1", "--learners", "2", "--variant", "default",
            "--variant", "reduce-bcast", "--variant", "fp16", "--predict", "--gpu-hour-price", "3"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    runs = {sc.key(m): m for m in res["measured"]}
    assert set(runs) == {"strong/1/default", "strong/2/default", "weak/1/default", "weak/2/default",
                         "strong/2/reduce-bcast", "strong/2/fp16"}
    for m in runs.values():
        assert m["backend"] == "gloo" and m["steps"] == 4
        # smoke: global batch 32 (strong), 16 per learner (weak)
        assert m["global_batch"] == (32 if m["mode"] == "strong" else 16 * m["learners"])
        assert m["images_per_s"] == pytest.approx(m["global_batch"] * m["steps"] / m["train_s"])
        assert m["cost"] == pytest.approx(m["learners"] * m["train_s"] / 3600 * 3)
    s2, s1 = runs["strong/2/default"], runs["strong/1/default"]
    assert s2["efficiency"] == pytest.approx(s2["images_per_s"] / (2 * s1["images_per_s"]))
    w2, w1 = runs["weak/2/default"], runs["weak/1/default"]
    assert w2["efficiency"] == pytest.approx(w1["s_per_iter"] / w2["s_per_iter"])
    pred = res["predicted"]
    assert all(p["kind"] == "predicted" for p in pred)
    assert max(p["learners"] for p in pred if p["mode"] == "weak") == 1024
    assert max(p["learners"] for p in pred if p["mode"] == "strong") == 32      # global batch 32 in smoke
    assert len(res["disagreement"]) == 6
    # the toy ResNet's parameters, as torch counts them
    from cnncost.torch.build import build
    net = build(ddp_worker.model_spec({"smoke": True}), (1, 28, 28))
    assert res["params"] == sum(p.numel() for p in net.parameters())
    assert (out / "scaling.png").stat().st_size > 1000
    assert len(list(csv.DictReader(open(out / "measured.csv")))) == 6
    # resume: nothing is run again
    r = CliRunner().invoke(app, args + ["--resume"])
    assert r.exit_code == 0, r.output
    again = {sc.key(m): m["train_s"] for m in json.loads((out / "results.json").read_text())["measured"]}
    assert again == {k: m["train_s"] for k, m in runs.items()}
    # NCCL algorithms need nccl
    r = CliRunner().invoke(app, ["scaling", "--smoke", "--out", str(out), "--variant", "nccl-ring"])
    assert r.exit_code == 2
