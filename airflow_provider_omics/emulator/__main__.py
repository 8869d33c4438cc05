"""``python -m airflow_provider_omics.emulator --host 127.0.0.1 --port 5055``: serve until stopped."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys

from .server import DEFAULT_STEP_SECONDS, OmicsEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_omics.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055, help="0 picks a free port")
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=DEFAULT_STEP_SECONDS,
        help="time a job spends in each in-progress status (default %(default)s)",
    )
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument(
        "--no-quotas", action="store_true", help="serve every request (by default, throttle like the service)"
    )
    parser.add_argument(
        "--quota",
        action="append",
        default=[],
        type=_quota,
        metavar="OPERATION=RATE",
        help="another requests-per-second quota for one operation, e.g. --quota StartRun=100 (repeatable)",
    )
    parser.add_argument(
        "--link-mbps", type=float, help="simulate a wide-area link: at most this many megabits a second per connection"
    )
    parser.add_argument(
        "--link-rtt-ms", type=float, default=0.0, help="simulate a wide-area link: this round trip on every request"
    )
    args = parser.parse_args(argv)
    emulator = OmicsEmulator(
        host=args.host,
        port=args.port,
        step_seconds=args.step_seconds,
        region=args.region,
        quotas=not args.no_quotas,
        quota_overrides=dict(args.quota),
        link_mbps=args.link_mbps,
        link_rtt_ms=args.link_rtt_ms,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(emulator.endpoint_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        emulator.serve_forever()


def _quota(text: str) -> tuple[str, float]:
    operation, _, rate = text.partition("=")
    try:
        return operation, float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not OPERATION=RATE (e.g. StartRun=100)") from None


if __name__ == "__main__":
    main()
