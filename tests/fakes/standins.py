"""Every outside system's stand-in in one process, for the demo of ``scripts/run`` (and for trying
the docking by hand): the 一张网's exchange gateway (办件 push, its unified entry, 好差评), its matter
catalog, the national investment project platform, and the unified identity provider (OIDC and
CAS-style tickets). Each listens on its own port from ``--base-port`` on:

    base+1  一张网 exchange (YWTB_BASE_URL)      base+2  一张网 catalog (YWTB_CATALOG_URL)
    base+3  投资项目在线审批监管平台 (TZXM_BASE_URL)   base+4  统一身份认证 (OIDC_ISSUER, CAS_BASE_URL)

``--print-env`` prints the app settings that point at them (KEY=value lines) and exits: scripts/run
exports them before it starts the app, unless the environment or .env already sets YWTB_BASE_URL
(then the real systems, or your own stand-ins, are used). The demo credentials are public: never
point a production deployment at these."""
from __future__ import annotations

import argparse
import threading

from .catalog_standin import CatalogStandIn
from .idp_standin import CAS_SECRET, CLIENT_ID, CLIENT_SECRET, SERVICE_CODE, IdpStandIn
from .tzxm_standin import TzxmStandIn
from .ywtb_standin import DEMO_KEY, DEMO_SECRET, YwtbStandIn

TZXM_APP_ID, TZXM_SECRET = "tzxm-demo", "tzxm-demo-secret"


def settings(base_port: int) -> dict[str, str]:
    url = "http://127.0.0.1:{}".format
    return {"YWTB_BASE_URL": url(base_port + 1), "YWTB_ACCESS_KEY": DEMO_KEY, "YWTB_SECRET": DEMO_SECRET,
            "YWTB_CATALOG_URL": url(base_port + 2),
            "TZXM_BASE_URL": url(base_port + 3), "TZXM_APP_ID": TZXM_APP_ID, "TZXM_SECRET": TZXM_SECRET,
            "OIDC_ISSUER": url(base_port + 4), "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "CAS_BASE_URL": url(base_port + 4), "CAS_SERVICE_CODE": SERVICE_CODE, "CAS_SECRET": CAS_SECRET}


def start_all(base_port: int, app_url: str, region: str = "320000") -> list:
    return [YwtbStandIn(base_port + 1, DEMO_KEY, DEMO_SECRET, app_url).start(),
            CatalogStandIn(base_port + 2, DEMO_KEY, DEMO_SECRET, region).start(),
            TzxmStandIn(base_port + 3, app_id=TZXM_APP_ID, secret=TZXM_SECRET).seed_demo().start(),
            IdpStandIn(base_port + 4).start()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-port", type=int, default=5100)
    parser.add_argument("--app-url", default="http://127.0.0.1:5000", help="where the stand-ins send to the app")
    parser.add_argument("--region", default="320000")
    parser.add_argument("--print-env", action="store_true")
    args = parser.parse_args()
    if args.print_env:
        for key, value in settings(args.base_port).items():
            print(f"{key}={value}")
        return
    running = start_all(args.base_port, args.app_url, args.region)
    for s in running:
        print(f"{type(s).__name__} on {s.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        for s in running:
            s.stop()


if __name__ == "__main__":
    main()
