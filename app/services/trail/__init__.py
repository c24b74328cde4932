"""The tamper-evident trail (issue 17): the per-case hash chain of case_events is
app/domain/trail_chain.py (record_event in app/services/cases/steps.py links each event); merkle.py
(RFC 6962 trees), roots.py (the signed daily roots), verify.py (recompute everything)."""
