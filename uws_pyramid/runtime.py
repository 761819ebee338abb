"""Start-up wiring: plugins, storage, manager, job descriptions, the service, background tasks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pluggy
from pyramid.config import Configurator

from .auth import Authenticator
from .errors import ConfigurationError
from .events import ReplayGuard, load_secret
from .jdl.formats import merge_formats
from .jdl.registry import JobDescriptions
from .jobs import utcnow
from .manager import Manager, ManagerContext
from .plugins import make_plugin_manager, select
from .privatefiles import private_dir
from .service import JobService
from .settings import UWSSettings
from .storage import Storage
from .throttle import Throttle

log = logging.getLogger(__name__)


@dataclass
class Background:
    """One daemon thread running periodic tasks, each once per deployment."""

    storage: Storage
    tasks: list[tuple[str, float, Callable[[], object]]] = field(default_factory=list)
    #: Called after each pass with the task's name, its seconds and its error (metrics, logs).
    on_pass: list[Callable[[str, float, BaseException | None], None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="uws-background", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        due = {name: 0.0 for name, _, _ in self.tasks}
        clock = 0.0
        tick = min((interval for _, interval, _ in self.tasks), default=1.0)
        tick = min(tick, 1.0)
        while not self._stop.wait(tick if clock else 0):
            clock += tick
            for name, interval, task in self.tasks:
                if clock < due[name]:
                    continue
                due[name] = clock + interval
                started, error, mine = time.perf_counter(), None, False
                try:
                    with self.storage.exclusive(name) as mine:
                        if mine:
                            task()
                except Exception as exc:
                    error = exc
                    log.exception("background task %s failed", name)
                if mine or error is not None:
                    self._passed(name, time.perf_counter() - started, error)

    def _passed(self, name: str, seconds: float, error: BaseException | None) -> None:
        for listener in self.on_pass:
            try:
                listener(name, seconds, error)
            except Exception:  # metrics or logs must never stop the background work
                log.exception("background listener %r failed", listener)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


@dataclass
class Runtime:
    """Everything the application built at start-up (``request.registry.uws``)."""

    settings: UWSSettings
    plugins: pluggy.PluginManager
    storage: Storage
    manager: Manager
    descriptions: JobDescriptions
    service: JobService
    background: Background
    #: Checks passwords and API tokens; None when the storage keeps no accounts.
    authenticator: Authenticator | None
    server_secret: bytes
    replays: ReplayGuard = field(default_factory=ReplayGuard)

    def close(self) -> None:
        """Stop the background work, the manager's threads and the storage, each even if
        another failed (jobs keep running: the next start-up adopts them)."""
        for what, step in (
            ("background tasks", self.background.stop),
            ("manager", self.manager.close),
            ("storage", self.storage.close),
        ):
            try:
                step()
            except Exception:
                log.exception("closing the %s failed", what)
        log.info("uws stopped")


def build_runtime(settings: UWSSettings, extra_plugins: tuple[object, ...] = ()) -> Runtime:
    pm = make_plugin_manager(extra_plugins)
    storage_cls = select(pm, "storage", settings.storage)
    manager_cls = select(pm, "manager", settings.manager)
    here = str(settings.here)
    storage: Storage = storage_cls.from_settings(settings.storage_options, here)
    manager: Manager = manager_cls.from_settings(settings.manager_options, here)
    try:
        formats = merge_formats(pm.hook.uws_description_formats())
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    descriptions = JobDescriptions(settings.jdl_dir, settings.jdl_refresh, formats)
    private_dir(settings.workdir)
    service = JobService(storage, manager, descriptions, settings, pm.uws)
    server_secret = load_secret(settings.secret_file)
    manager.bind(
        ManagerContext(
            storage=storage,
            descriptions=descriptions,
            workdir_root=settings.workdir,
            apply=service.apply,
            resubmit=service.resubmit,
            settings=settings.__dict__,
            server_secret=server_secret,
            base_url=settings.base_url,
        )
    )
    background = Background(storage)
    background.tasks.append(("destruction", settings.destruction_interval, service.destroy_expired))
    background.tasks.append(("reconcile", settings.reconcile_interval, manager.reconcile))
    log.info(
        "uws ready: storage %s, manager %s, job types %s",
        settings.storage,
        settings.manager,
        ", ".join(descriptions.names()) or "none",
    )
    return Runtime(
        settings,
        pm,
        storage,
        manager,
        descriptions,
        service,
        background,
        authenticator_of(storage, settings),
        server_secret,
    )


def authenticator_of(storage: Storage, settings: UWSSettings) -> Authenticator | None:
    try:
        return Authenticator(
            storage.accounts(),
            verifications=settings.auth_verifications,
            throttle=Throttle(free=settings.auth_failures),
        )
    except ConfigurationError:
        log.warning("storage %s keeps no accounts: only anonymous access", storage.name)
        return None


def includeme(config: Configurator) -> None:
    settings: UWSSettings = config.registry.uws_settings
    extra = tuple(config.get_settings().get("testing.plugins", ()))
    runtime = build_runtime(settings, extra)
    config.registry.uws = runtime
    config.registry.uws_started = utcnow()
