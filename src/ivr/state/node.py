"""One instance of the service in a cluster: its lease, takeovers, dispatch notifications,
the records writer, and a clean stop that hands its calls over.

``Node.start()`` and ``Node.stop()`` belong in the web application's lifespan. Every
``heartbeat_s`` the node extends its lease (``lease_s``), takes over the calls of instances
whose lease lapsed, drops the calls another instance took from it, and offers the calls
it queues (a safety net under the dispatch notifications, which Redis may lose).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from ivr.records.writer import RecordWriter
from ivr.runtime.live_state import CallRegistry
from ivr.runtime.runtime import CallRuntime
from ivr.state.resilient import StateHealth

log = logging.getLogger(__name__)


class ClusterSettings(BaseSettings):
    """Knobs of the cluster membership (``IVR_LEASE_S``, ``IVR_HEARTBEAT_S``...)."""

    model_config = SettingsConfigDict(env_prefix="IVR_", extra="ignore")

    lease_s: float = 10.0  # how long a silent instance keeps its calls
    heartbeat_s: float = 2.0
    takeover_batch: int = 50
    records_stop_s: float = 10.0  # how long a clean stop keeps writing records


def default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Node:
    """This instance: starts and stops what runs in the background."""

    def __init__(
        self,
        runtime: CallRuntime,
        registry: CallRegistry | None,
        records: RecordWriter | None,
        state_health: Callable[[], StateHealth],
        cluster: ClusterSettings | None = None,
    ) -> None:
        self.runtime = runtime
        self.registry = registry
        self.records = records
        self.state_health = state_health
        self.cluster = cluster or ClusterSettings()
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self.started = False

    @property
    def instance_id(self) -> str:
        return self.runtime.instance_id

    async def start(self) -> None:
        if self.started:
            return
        self.started = True
        self._stop = asyncio.Event()
        if self.records is not None:
            self.records.start()
        if self.registry is not None:
            await self.registry.heartbeat(self.instance_id, self.cluster.lease_s)
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._beat(), name="ivr-heartbeat"),
                loop.create_task(self._listen(), name="ivr-dispatch-notifications"),
            ]
        log.info("instance %s started", self.instance_id)

    async def stop(self) -> None:
        """Hand the live calls over to the other instances, then flush the records."""
        if not self.started:
            return
        self.started = False
        self._stop.set()
        if self._tasks:
            # The loops end by themselves; cancel only what is still stuck after a while.
            _, stuck = await asyncio.wait(self._tasks, timeout=3.0)
            for task in stuck:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks = []
        handed = await self.runtime.hand_over()
        await self.runtime.drain()
        if self.records is not None:
            spooled = await asyncio.to_thread(self.records.stop, self.cluster.records_stop_s)
            if spooled:
                log.warning("%d records spooled to disk for the next start", spooled)
        log.info("instance %s stopped, %d live calls handed over", self.instance_id, handed)

    async def beat(self) -> None:
        """One heartbeat: lease, takeovers, ownership check, dispatch of local calls."""
        assert self.registry is not None
        await self.registry.heartbeat(self.instance_id, self.cluster.lease_s)
        taken = await self.runtime.take_over_orphans(self.cluster.takeover_batch)
        if taken:
            log.warning("took over %d calls: %s", len(taken), ", ".join(taken))
        await self.runtime.verify_ownership()
        for departement in self.runtime.queued_departements():
            await self.runtime.dispatch(departement)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _beat(self) -> None:
        while not self._stop.is_set():
            try:
                await self.beat()
            except Exception:  # the loop must outlive any one failure
                log.exception("heartbeat failed")
            await self._pause(self.cluster.heartbeat_s)

    async def _listen(self) -> None:
        assert self.registry is not None
        while not self._stop.is_set():
            try:
                async for departement in self.registry.notifications(self._stop):
                    await self.runtime.dispatch(departement)
            except Exception:
                log.exception("dispatch notifications failed")
                await self._pause(1.0)

    def health(self) -> dict[str, Any]:
        """The live state's and the records' health, for ``/healthz``."""
        state = self.state_health()
        out: dict[str, Any] = {
            "instance": self.instance_id,
            "live_state": state.as_dict(),
            "live_calls": len(self.runtime.calls),
            "degraded": state.degraded,
        }
        if self.records is not None:
            stats = self.records.stats()
            out["records"] = stats.as_dict()
            out["degraded"] = state.degraded or stats.failing
        return out
