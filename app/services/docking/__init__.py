"""Docking with the outside systems of the network: the province's 政务服务"一张网" (unified identity,
matter catalog, 办件 push, its unified entry's applications, 好差评) and the national investment
project online platform (项目代码 lookup, results reported back). See docs/integration.md.

Each outside system has one adapter here, configured by URL and credentials (app/config.py, the
YWTB_*, TZXM_*, OIDC_*, CAS_* settings). What is sent goes through the transactional outbox of
app/services/messaging (one channel per system: ``ywtb``, ``tzxm``), written in the transaction of
the step that causes it; what is received goes through the inbox (exactly once). ``signing`` and
``http`` are the pieces every adapter shares."""
