"""``flask trail``: the commands exist, an empty database verifies clean, a day's root can be signed by
hand (once; not for a day not yet over), bad input is a clear error. The tampering cases are in
tests/services/trail/test_chain.py and test_roots.py (they run ``flask trail verify`` on a shipped matter)."""
from __future__ import annotations

import json

from app.services.federation.protocol import new_seed
from tests.conftest import make_app


def test_trail_commands(db_url):
    app = make_app(db_url, FEDERATION_SIGNING_KEY=new_seed())
    cli = app.test_cli_runner()
    out = cli.invoke(args=["trail", "--help"])
    assert out.exit_code == 0 and "verify" in out.output and "seal-day" in out.output
    out = cli.invoke(args=["trail", "verify"])
    assert out.exit_code == 0 and "全部一致" in out.output, out.output
    out = cli.invoke(args=["trail", "verify", "--json"])
    assert json.loads(out.output)["ok"] is True
    out = cli.invoke(args=["trail", "seal-day", "--day", "2026-03-01"])  # the app's clock: 2 March 2026
    assert out.exit_code == 0 and "2026-03-01 日根已签署：0 个办件" in out.output, out.output
    out = cli.invoke(args=["trail", "verify"])
    assert out.exit_code == 0 and "1 个日根" in out.output
    for args, msg in ((["seal-day", "--day", "2026-03-01"], "已签署"), (["seal-day", "--day", "2026-03-02"], "尚未结束"),
                      (["seal-day", "--day", "yesterday"], "YYYY-MM-DD"), (["verify", "--case", "#99"], "办件不存在")):
        out = cli.invoke(args=["trail", *args])
        assert out.exit_code != 0 and msg in out.output, (args, out.output)
