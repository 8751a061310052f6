import json

import pytest

from connectcheck.core import model
from connectcheck.core.model import (
    SCHEMA_VERSION,
    ActivityVerdict,
    Advice,
    Assessment,
    BandwidthResult,
    BrowserUsage,
    CheckKind,
    CheckResult,
    Connectivity,
    DnsResult,
    InterfaceUsage,
    LatencyResult,
    LoadedLatency,
    LocalFindings,
    MetricVerdict,
    ModelError,
    NewerVersionError,
    ProcessUsage,
    ReachabilityResult,
    ReachStep,
    Section,
    SpeedServer,
    Status,
    Summary,
    SystemLoad,
    WifiInfo,
)


def full_result() -> CheckResult:
    return CheckResult(
        kind=CheckKind.FULL,
        started_at="2026-11-28T16:05:00+00:00",
        app_version="0.1.0",
        duration_s=12.5,
        connectivity=Connectivity.LIMITED,
        summary=Summary(
            rtt_ms=21.5,
            jitter_ms=2.25,
            loss_pct=0.0,
            download_mbps=9.4,
            upload_mbps=1.9,
            loaded_rtt_ms_download=120.0,
            rtt_increase_ms=98.5,
            rpm=500.0,
            udp_ok=True,
        ),
        sections={
            "latency": Section(Status.OK, None, 2.1),
            "upload": Section(Status.TIMEOUT, "too slow", 6.0),
        },
        latency=[
            LatencyResult(
                target="stun.example:3478",
                method="stun",
                samples_sent=3,
                samples=2,
                rtt_ms_samples=[20.0, None, 23.0],
                rtt_ms_median=21.5,
                jitter_ms=3.0,
            )
        ],
        dns=[DnsResult(host="example.org", dns_ms=12.0, addresses=["192.0.2.1"])],
        reachability=[
            ReachabilityResult(
                url="wss://example.org/ws",
                reachable=True,
                http_status=101,
                steps=[ReachStep("tcp", Status.OK, 10.0, None)],
            )
        ],
        bandwidth=[
            BandwidthResult(
                direction="download",
                engine="adaptive",
                rate_mbps=9.4,
                server=SpeedServer(source="org", protocol="librespeed", url="https://s"),
                window_mbps=[9.0, 9.5],
                loaded=LoadedLatency(samples=10, rpm=500.0),
            )
        ],
        engine="adaptive",
        bytes_used=12_000_000,
        notes=["UDP looks blocked"],
        local=LocalFindings(
            os="linux",
            backend="sock_diag",
            window_s=3.0,
            connection_type="wifi",
            processes=[
                ProcessUsage(
                    name="steam",
                    pid=42,
                    app="Steam",
                    category="game_launcher",
                    down_mbps=18.2,
                    rate_source="measured",
                )
            ],
            wifi=WifiInfo(signal_dbm=-71.0),
            system=SystemLoad(cpu_pct=35.0, cpu_pct_per_core=[30.0, 40.0]),
            browsers=[BrowserUsage(app="Chrome", processes=12, content_processes=9)],
            interfaces=[InterfaceUsage(name="wlan0", kind="wifi", is_default=True)],
        ),
        assessment=Assessment(
            overall="limited",
            sentence="Sound and typing only.",
            verdicts=[
                ActivityVerdict(
                    activity="video",
                    state="fail",
                    sentence="Video will freeze.",
                    deciding=[MetricVerdict("upload_mbps", "fail", 0.4, 2.5, 0.3, -0.1)],
                )
            ],
            advice=[Advice(key="close_program", rank=1, action="Pause Steam.", program="steam")],
        ),
    )


def test_round_trip_keeps_every_field():
    result = full_result()
    text = model.dumps(result)
    again = model.loads(text)
    assert again == result
    assert json.loads(text)["schema_version"] == SCHEMA_VERSION


def test_json_has_the_documented_names():
    data = json.loads(model.dumps(full_result()))
    assert data["summary"]["download_mbps"] == 9.4
    assert data["latency"][0]["rtt_ms_samples"] == [20.0, None, 23.0]
    assert data["sections"]["upload"] == {"status": "timeout", "error": "too slow", "duration_s": 6.0}


def test_newer_version_is_refused_with_a_clear_message():
    data = model.to_dict(full_result())
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(NewerVersionError, match="newer connectcheck"):
        model.loads(json.dumps(data))


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not valid JSON"),
        ("[]", "not a connectcheck result"),
        ('{"kind": "quick"}', "no schema_version"),
        ('{"schema_version": 1, "started_at": "x"}', "'kind' is missing"),
        ('{"schema_version": 1, "kind": "slow", "started_at": "x"}', "is not one of"),
        (
            '{"schema_version": 1, "kind": "quick", "started_at": "x", "duration_s": "long"}',
            "expected a number",
        ),
        (
            '{"schema_version": 1, "kind": "quick", "started_at": "x", "latency": [{"target": 1}]}',
            r"\$\.latency\[0\]\.target: expected text",
        ),
    ],
)
def test_damaged_files_give_a_clear_error(text, message):
    with pytest.raises(ModelError, match=message):
        model.loads(text)


def test_unknown_fields_of_the_same_version_are_ignored():
    data = model.to_dict(full_result())
    data["added_later"] = {"x": 1}
    assert model.loads(json.dumps(data)) == full_result()


def test_nan_becomes_null():
    result = full_result()
    result.summary.rtt_ms = float("nan")
    assert json.loads(model.dumps(result))["summary"]["rtt_ms"] is None
