"""The fidelity report counts what moved and names what could not be represented."""

from tracker_core.migrate import Fidelity


def test_fidelity_counts_moves_and_losses_and_renders_them() -> None:
    a = Fidelity("wandb", "tracker")
    a.count("runs")
    a.count("points", 1000)
    a.drop("media", "video has no MLflow type", 2)
    b = Fidelity("wandb", "tracker")
    b.count("points", 5)
    b.error("run-x.wandb", "torn chunk at byte 32768")
    a.merge(b)
    d = a.to_dict()
    assert d["moved"]["points"] == 1005 and d["moved"]["runs"] == 1 and d["moved"]["artifacts"] == 0
    assert d["not_represented"] == [{"kind": "media", "reason": "video has no MLflow type", "count": 2}]
    text = a.render()
    assert "1,005" in text and "video has no MLflow type" in text and "torn chunk" in text
    assert "nothing" in Fidelity("a", "b").render()
