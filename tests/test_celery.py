"""A real Celery round trip: the task goes through the configured broker (Redis in CI) to a
real worker, which writes to the database."""

from __future__ import annotations

import os
import uuid

import pytest
from django.utils import timezone

from leads.models import WorkerHeartbeat
from leads.tasks import heartbeat
from relocate.celery import app
from tests.waiting import wait_until


def _broker_or_skip() -> None:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        if os.environ.get("CI"):
            raise AssertionError(f"CI must provide a live broker at {app.conf.broker_url}: {exc}") from exc
        pytest.skip(f"no live broker at {app.conf.broker_url}: {exc}")


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_task_round_trip_through_broker_and_worker():
    from celery.contrib.testing.worker import start_worker

    _broker_or_skip()
    # A queue of its own, so that a worker of a running `make run` never takes the task.
    queue = f"test-{uuid.uuid4().hex}"
    name = f"round-trip-{uuid.uuid4().hex[:8]}"
    started = timezone.now()
    with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=10):
        heartbeat.apply_async(args=[name], queue=queue)
        assert wait_until(WorkerHeartbeat.objects.filter(name=name).exists, timeout=30, interval=0.1)
    beat = WorkerHeartbeat.objects.get(name=name)
    assert beat.beat_at >= started
    assert beat.hostname  # set by the worker that ran it


@pytest.mark.django_db
def test_heartbeat_task_runs_twice_safely():
    heartbeat.apply(args=["twice"])
    heartbeat.apply(args=["twice"])
    assert WorkerHeartbeat.objects.filter(name="twice").count() == 1


@pytest.mark.django_db
def test_beat_schedule_installed_by_migration():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="Worker heartbeat")
    assert task.task == "leads.tasks.heartbeat"
    assert task.interval.every == 60 and task.interval.period == "seconds"
    assert task.enabled


def test_celery_configuration():
    conf = app.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit and conf.task_soft_time_limit < conf.task_time_limit
    assert "leads.tasks.heartbeat" in app.tasks
