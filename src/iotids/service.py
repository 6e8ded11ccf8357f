"""``iotids serve``: a bundle behind HTTP (FastAPI).

- ``POST /v1/score``: ``{"flows": [{column: value, …}, …]}`` keyed by the
  bundle's input columns (``GET /v1/model`` lists them; a common-schema
  bundle takes the common features, e.g. ``duration``, ``proto``,
  ``state``); null means unknown (scored like a missing value in training).
  Answers one result per flow: class, attack score, flagged.
- ``GET /v1/model``: classes, schema, task, input columns, limits, versions.
- ``GET /healthz``.

Limits: a request body over ``max_body`` bytes gets 413 (checked while the
body streams in, so a large body is never held); more than ``max_batch``
flows, a wrong type or a missing column gets 422; scoring longer than
``timeout`` seconds gets 503. No error answer carries a stack trace.
"""

import asyncio
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from iotids import __version__
from iotids.detect import Scorer

MAX_PROBLEMS = 20  # validation problems listed in a 422 answer


@dataclass(frozen=True)
class Limits:
    max_body: int = 4 << 20  # bytes
    max_batch: int = 10_000  # flows per request
    timeout: float = 10.0  # seconds of scoring per request


def input_columns(scorer: Scorer) -> dict[str, str]:
    """The columns a request's flows carry: name -> "number" or "text"."""
    preprocessor = scorer.bundle.preprocessor
    used = [f for f in scorer.bundle.features if f in preprocessor.features_]
    return {f: "text" if f in preprocessor.categories_ else "number" for f in used}


def score_rows(scorer: Scorer, columns: dict[str, str], rows: list[dict[str, Any]],
               threshold: float | None = None) -> list[dict]:
    """Score flows given as column -> value mappings (values already validated)."""
    frame = pl.DataFrame({name: [row.get(name) for row in rows] for name in columns},
                         schema={name: pl.String if kind == "text" else pl.Float64 for name, kind in columns.items()})
    inputs = scorer.bundle.preprocessor.model_inputs(frame.lazy(), scorer.bundle.features).collect()
    predicted, score = scorer.decide(scorer.logits(inputs.to_numpy().astype(np.float32)), threshold)
    return [{"class": scorer.classes[c], "score": round(float(s), 6), "flagged": bool(c != scorer.benign)}
            for c, s in zip(predicted, score, strict=True)]


def create_app(bundle_dir: str | Path, limits: Limits = Limits(), backend: str = "auto"):
    from fastapi import FastAPI, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, Field, create_model
    from starlette.exceptions import HTTPException as StarletteHTTPException

    scorer = Scorer(bundle_dir, backend)
    columns = input_columns(scorer)
    # Column names such as "id.resp_p" or "Flow_Byts/s" are not identifiers: fields get
    # plain names and the column names as aliases.
    fields: dict[str, Any] = {
        f"c{i}": ((str | None) if kind == "text" else (float | None), Field(alias=name))
        for i, (name, kind) in enumerate(columns.items())
    }
    Flow = create_model("Flow", __config__=ConfigDict(extra="ignore", allow_inf_nan=True), **fields)

    class ScoreRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        flows: list[Flow] = Field(min_length=1, max_length=limits.max_batch)  # type: ignore[valid-type]
        threshold: float | None = Field(default=None, ge=0.0, le=1.0)

    class Result(BaseModel):
        class_: str = Field(alias="class")
        score: float
        flagged: bool

    class ScoreResponse(BaseModel):
        bundle: str
        results: list[Result]

    # FastAPI's own cap answers 413 from the Content-Length, or while a body without one streams in.
    app = FastAPI(title="iotids", version=__version__, max_body_size=limits.max_body,
                  description=f"Scores IoT flows with bundle {scorer.id} ({scorer.schema} schema).")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        # FastAPI's default echoes every offending input back; a 10,000-flow batch
        # would come back whole. Say where and what, for the first few problems.
        problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                    for e in exc.errors()[:MAX_PROBLEMS]]
        return JSONResponse({"detail": problems, "problems": len(exc.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = f"request body larger than {limits.max_body} bytes" if exc.status_code == 413 else exc.detail
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        return JSONResponse({"detail": "internal error"}, status_code=500)

    # async: answered on the event loop even while the threadpool is busy scoring.
    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/v1/model")
    async def model() -> dict:
        return {"bundle": scorer.id, "iotids_version": __version__, "classes": scorer.classes,
                "schema": scorer.schema, "task": scorer.task, "architecture": scorer.bundle.meta["architecture"],
                "inputs": [{"name": n, "type": k} for n, k in columns.items()], "backend": scorer.backend,
                "decision": bool(scorer.decision), "limits": asdict(limits)}

    @app.post("/v1/score", response_model=ScoreResponse, response_model_by_alias=True,
              responses={413: {"description": "request body too large"},
                         503: {"description": "scoring timed out"}})
    async def score(request: ScoreRequest):
        rows = [flow.model_dump(by_alias=True) for flow in request.flows]
        try:
            results = await asyncio.wait_for(
                run_in_threadpool(score_rows, scorer, columns, rows, request.threshold), limits.timeout)
        except TimeoutError:
            return JSONResponse({"detail": f"scoring took longer than {limits.timeout:g} s"}, status_code=503)
        return {"bundle": scorer.id, "results": results}

    return app
