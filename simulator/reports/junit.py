"""The JUnit XML reports CI systems read: a send run's (one test case per event type and per
threshold) and any suite of named cases (the audit's)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from simulator.reports.thresholds import ThresholdResult

# Characters XML 1.0 cannot carry at all, even escaped.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: object) -> str:
    return _XML_ILLEGAL.sub("\ufffd", str(value))


def _errors(kinds: dict[str, int], top: int = 3) -> str:
    ranked = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return ", ".join(f"{kind} {n}" for kind, n in ranked) or "none recorded"


def junit_xml(
    summary: dict[str, Any],
    thresholds: list[ThresholdResult],
    name: str = "webhook-simulator",
    unrecorded: Sequence[str] = (),
) -> str:
    """A JUnit XML report: one test case per event type (failing when any event of that type
    was not delivered), one per threshold (failing when it did not hold) and, when the run
    was interrupted, a failing one that says so; likewise one per `unrecorded` problem
    (what of the run is in no count, e.g. a worker's missing part)."""
    cases = []
    for event_type, c in summary["event_types"].items():
        missing = c["events"] - c["delivered"]
        message = None
        if missing > 0:
            unfinished = missing - c["failed"]
            never = f" of which {c['not_sent']} never sent" if c["not_sent"] else ""
            message = (
                f"{missing} of {c['events']} {event_type} events not delivered "
                f"({c['failed']} failed, {unfinished} unfinished{never}); "
                f"errors: {_errors(c['error_kinds'])}"
            )
        cases.append((f"{name}.delivery", event_type, "undelivered", message))
    if summary["interrupted"]:
        never = summary["counts"]["not_sent"]
        message = "the run was interrupted before its schedule ended" + (
            f": {never} events never sent" if never else ""
        )
        cases.append((f"{name}.run", "completed", "interrupted", message))
    for problem in unrecorded:
        cases.append((f"{name}.run", "recorded", "unrecorded", problem))
    for result in thresholds:
        message = None
        if not result.ok:
            shown = "no data" if result.actual is None else f"{result.actual:.6g}" + result.unit
            message = f"threshold {result.threshold} not met: actual {shown}"
        cases.append((f"{name}.thresholds", result.threshold, "threshold", message))
    keys = ("target_rate", "send_rate", "achieved_rate", "success_ratio", "interrupted")
    properties = {key: json.dumps(summary[key]) for key in keys}
    return suite_xml(name, cases, summary["duration_s"], properties)


def suite_xml(
    name: str,
    cases: list[tuple[str, str, str, str | None]],
    elapsed: float,
    properties: dict[str, str],
) -> str:
    """A JUnit XML document of one suite. Each case is (classname, name, kind, message):
    no message passes, kind "skip" is skipped with the message, any other kind fails
    with it as the failure's type."""
    failures = sum(message is not None and kind != "skip" for _, _, kind, message in cases)
    skipped = sum(message is not None and kind == "skip" for _, _, kind, message in cases)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": "0"}
    if skipped:
        counts["skipped"] = str(skipped)
    attributes = {"name": _xml_text(name), "time": f"{elapsed:.3f}", **counts}
    root = ET.Element("testsuites", attributes)
    suite = ET.SubElement(root, "testsuite", attributes)
    listed = ET.SubElement(suite, "properties")
    for key, value in properties.items():
        ET.SubElement(listed, "property", name=key, value=_xml_text(value))
    for classname, case_name, kind, message in cases:
        case = ET.SubElement(
            suite, "testcase", classname=_xml_text(classname), name=_xml_text(case_name)
        )
        if message is None:
            continue
        if kind == "skip":
            ET.SubElement(case, "skipped", message=_xml_text(message))
            continue
        failure = ET.SubElement(case, "failure", type=kind, message=_xml_text(message))
        failure.text = _xml_text(message)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
