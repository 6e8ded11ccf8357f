"""``iotids serve``: the FastAPI app with its limits, and one real start on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from iotids.service import Limits, create_app


@pytest.fixture(scope="module")
def client(common_bundle: Path) -> TestClient:
    return TestClient(create_app(common_bundle, Limits(max_body=20_000, max_batch=50, timeout=5.0)),
                      raise_server_exceptions=False)


def _flow(client: TestClient, **changes) -> dict:
    columns = client.get("/v1/model").json()["inputs"]
    flow = {c["name"]: ("tcp" if c["name"] == "proto" else "established" if c["type"] == "text" else 1.0)
            for c in columns}
    return flow | changes


def test_health_model_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    model = client.get("/v1/model").json()
    assert model["schema"] == "common" and "Normal" in model["classes"]
    assert {c["name"] for c in model["inputs"]} == {"duration", "dst_port", "proto", "state", "fwd_pkts",
                                                    "bwd_pkts", "fwd_bytes", "bwd_bytes", "pkts_per_s",
                                                    "bytes_per_s", "fwd_mean_size", "bwd_mean_size"}
    assert model["limits"] == {"max_body": 20_000, "max_batch": 50, "timeout": 5.0}
    spec = client.get("/openapi.json").json()
    assert {"/v1/score", "/v1/model", "/healthz"} <= set(spec["paths"])


def test_score_answers_one_result_per_flow(client: TestClient) -> None:
    flows = [_flow(client), _flow(client, dst_port=6667, extra_field="ignored"), _flow(client, proto=None)]
    answer = client.post("/v1/score", json={"flows": flows})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["results"]) == 3 and body["bundle"] == client.get("/v1/model").json()["bundle"]
    for result in body["results"]:
        assert set(result) == {"class", "score", "flagged"} and 0.0 <= result["score"] <= 1.0
    every = client.post("/v1/score", json={"flows": flows, "threshold": 0.0}).json()["results"]
    assert all(r["flagged"] for r in every)


def test_score_matches_detect_on_the_same_flows(client: TestClient, common_bundle: Path, traffic_dir: Path) -> None:
    """The service and `detect` give the same class and score for the same flow."""
    from iotids.detect import DetectOptions, Scorer, detect_file
    from iotids.schema import common_features
    from iotids.sources import read

    conn = traffic_dir / "synthetic_conn.log"
    alerts: list[dict] = []
    detect_file(Scorer(common_bundle), conn, DetectOptions(threshold=0.0), alerts.append)
    rows = read(conn).select(common_features("zeek-conn")).head(20).collect().to_dicts()
    results = client.post("/v1/score", json={"flows": rows, "threshold": 0.0}).json()["results"]
    for alert, result in zip(alerts[:20], results, strict=True):
        assert alert["class"] == result["class"] and abs(alert["score"] - result["score"]) < 1e-5


@pytest.mark.parametrize("payload, where", [
    ({"flows": []}, "flows"),
    ({"flows": [{"duration": "long"}]}, "duration"),
    ({"flow": []}, "flows"),
    ({"flows": [{}], "threshold": 2}, "threshold"),
])
def test_invalid_requests_get_422_without_echo(client: TestClient, payload: dict, where: str) -> None:
    answer = client.post("/v1/score", json=payload)
    assert answer.status_code == 422
    body = answer.json()
    assert any(where in map(str, problem["loc"]) for problem in body["detail"])
    assert all("input" not in problem for problem in body["detail"])


def test_batch_and_body_limits(client: TestClient) -> None:
    flow = _flow(client)
    too_many = client.post("/v1/score", json={"flows": [flow] * 51})
    assert too_many.status_code == 422 and "at most 50" in too_many.text
    body = json.dumps({"flows": [flow] * 200}).encode()
    assert client.post("/v1/score", content=body, headers={"content-type": "application/json"}).status_code == 413

    def chunks():  # no Content-Length: the cap must hold while the body streams in
        for start in range(0, len(body), 4096):
            yield body[start:start + 4096]

    streamed = client.post("/v1/score", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and "larger than 20000 bytes" in streamed.text
    assert client.post("/v1/score", content=b"{not json", headers={"content-type": "application/json"}
                       ).status_code == 422


def test_errors_and_timeouts_carry_no_trace(common_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import iotids.service as service

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "score_rows", broken)
    client = TestClient(create_app(common_bundle), raise_server_exceptions=False)
    answer = client.post("/v1/score", json={"flows": [_flow(client)]})
    assert answer.status_code == 500 and answer.json() == {"detail": "internal error"}

    def slow(*args, **kwargs):
        time.sleep(1.0)

    monkeypatch.setattr(service, "score_rows", slow)
    client = TestClient(create_app(common_bundle, Limits(timeout=0.1)), raise_server_exceptions=False)
    answer = client.post("/v1/score", json={"flows": [_flow(client)]})
    assert answer.status_code == 503 and "longer than 0.1 s" in answer.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_starts_on_loopback(common_bundle: Path) -> None:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "iotids", "serve", str(common_bundle), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "NO_COLOR": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
                    assert json.load(answer) == {"status": "ok"}
                break
            except OSError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the service did not come up"
                time.sleep(0.2)
        with urllib.request.urlopen(f"{base}/v1/model", timeout=5) as answer:
            inputs = json.load(answer)["inputs"]
        flow = {c["name"]: ("tcp" if c["type"] == "text" else 0.5) for c in inputs}
        request = urllib.request.Request(f"{base}/v1/score", data=json.dumps({"flows": [flow] * 3}).encode(),
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert len(json.load(answer)["results"]) == 3
    finally:
        process.terminate()
        process.wait(timeout=20)
