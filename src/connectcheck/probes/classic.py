"""The "classic" engine: speedtest-cli's own ``download()`` and ``upload()``, for comparison.

speedtest-cli's transfer is left as it is (its thread counts, its image sizes, its average
over the whole test, ramp-up included), with three bounds of ours around it:

* time: at ``time_limit_s`` (or on cancel) its shutdown flag is raised, which its threads
  poll between reads, and its test length is set to 0 so that it opens no new request; it then
  has :data:`STOP_GRACE_S` to return what it measured;
* data: when its plan (speedtest.net's configuration: 4 × each image for the download, up to
  ``upload_max`` uploads) would move more than the data cap, the largest images and the last
  uploads are left out of the plan for this run;
* memory: uploads are generated as they are sent (``pre_allocate=False``) instead of speedtest-cli's
  default of preparing some 150 MB up front.

It only works with speedtest.net servers, and it samples no windows (``window_s`` stays
None, ``ramp_up_s`` is 0: nothing is left out of its average).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from connectcheck.core.model import BandwidthResult, SpeedServer, Status
from connectcheck.core.tasks import Cancelled, Deadline, ProgressFn, report
from connectcheck.probes.bandwidth import SPEEDTEST_IMAGE_BYTES
from connectcheck.probes.servers import SpeedtestClient, run_bounded, speedtest_entry

STOP_GRACE_S = 0.5
_PLAN_KEYS = ("sizes", "counts", "length", "upload_max")


def _fit_download(config: dict[str, Any], cap: int) -> None:
    """Leave the largest images out until four of each (its plan) fit in ``cap`` bytes."""
    sides, count = list(config["sizes"]["download"]), config["counts"]["download"]
    while len(sides) > 1 and sum(SPEEDTEST_IMAGE_BYTES.get(s, 0) for s in sides) * count > cap:
        sides.pop()
    config["sizes"]["download"] = sides


def _fit_upload(config: dict[str, Any], cap: int) -> None:
    """Send no more uploads than fit in ``cap`` bytes (speedtest-cli sends them in order)."""
    planned = [size for size in config["sizes"]["upload"] for _ in range(config["counts"]["upload"])]
    total, fits = 0, 0
    for size in planned[:config["upload_max"]]:
        total += size
        if total > cap:
            break
        fits += 1
    config["upload_max"] = max(1, fits)


def measure_classic(server: SpeedServer, direction: str, *, client: SpeedtestClient, time_limit_s: float,
                    data_limit_bytes: int, cancel: threading.Event,
                    progress: ProgressFn | None = None) -> BandwidthResult:
    """Run speedtest-cli's ``download()`` or ``upload()`` against ``server`` (a speedtest.net
    server) with the bounds above; never raises.  ``client`` comes from
    :meth:`connectcheck.probes.servers.ServerFinder.speedtest_client`.
    """
    result = BandwidthResult(direction=direction, engine="classic", server=server, ramp_up_s=0.0)
    if server.protocol != "speedtest":
        result.status = Status.ERROR
        result.error = "the classic engine (speedtest-cli) only works with speedtest.net servers"
        return result
    deadline = Deadline(time_limit_s, cancel)
    st = client.speedtest
    saved = copy.deepcopy({k: st.config[k] for k in _PLAN_KEYS})
    (_fit_download if direction == "download" else _fit_upload)(st.config, data_limit_bytes)
    client.shutdown.reset()
    stopped = threading.Event()

    def stop() -> None:
        stopped.set()
        client.shutdown.stop()
        st.config["length"] = {"download": 0, "upload": 0}

    def run() -> float:
        st.get_best_server([speedtest_entry(server)])

        def tick(i: int, count: int, start: bool = False, end: bool = False) -> None:
            report(progress, direction, deadline.elapsed() / time_limit_s, f"{direction} (speedtest-cli)")

        if direction == "download":
            return st.download(callback=tick)
        return st.upload(callback=tick, pre_allocate=False)

    try:
        bits_per_s = run_bounded(run, deadline, f"speedtest-cli's {direction}", stop=stop,
                                 grace_s=STOP_GRACE_S)
    except Cancelled:
        return _end(result, deadline, Status.CANCELLED, "the test was cancelled", "cancelled")
    except TimeoutError:
        return _end(result, deadline, Status.TIMEOUT,
                    f"speedtest-cli did not stop within {time_limit_s + STOP_GRACE_S:g} s", "time cap")
    except Exception as exc:
        return _end(result, deadline, Status.ERROR, f"speedtest-cli failed: {exc}", "server error")
    finally:
        for key, value in saved.items():
            st.config[key] = value
    moved = st.results.bytes_received if direction == "download" else st.results.bytes_sent
    result.bytes_transferred = int(moved)
    result.streams = int(st.config["threads"][direction])
    if cancel.is_set():
        return _end(result, deadline, Status.CANCELLED, "the test was cancelled", "cancelled")
    if not moved:
        return _end(result, deadline, Status.ERROR, "speedtest-cli could not move any data with the server",
                    "server error")
    result.rate_mbps = round(bits_per_s / 1e6, 3)
    return _end(result, deadline, Status.OK, None, "time cap" if stopped.is_set() else "finished")


def _end(result: BandwidthResult, deadline: Deadline, status: Status, error: str | None,
         reason: str) -> BandwidthResult:
    result.status, result.error, result.stop_reason = status, error, reason
    result.duration_s = round(deadline.elapsed(), 3)
    return result
