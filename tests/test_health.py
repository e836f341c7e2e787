"""/healthz: JSON, 200 when the database and the broker answer, 503 with what failed otherwise."""

from __future__ import annotations

from celery import Celery
from django.db import OperationalError

from leads.selectors import health
from leads.services.heartbeat import heartbeat_record


def test_healthy(client, db):
    heartbeat_record(name="beat", hostname="worker@test")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "broker": "ok"}
    assert body["worker_heartbeat"]["age_seconds"] >= 0


def test_broker_down_answers_503_and_says_why(client, db, monkeypatch):
    # A real broker address where nothing listens.
    # Not set as the current app: the tasks of later tests must keep the real one.
    unreachable = Celery("unreachable", broker="redis://127.0.0.1:1/0", set_as_current=False)
    monkeypatch.setattr(health, "celery_app", unreachable)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error:")


def test_database_down_answers_503(client, db, monkeypatch):
    def refuse() -> str:
        raise OperationalError("connection refused")

    monkeypatch.setattr(health, "_check_database", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "error: OperationalError: connection refused"
    assert "worker_heartbeat" not in response.json()


def test_only_get(client, db):
    assert client.post("/healthz").status_code == 405
