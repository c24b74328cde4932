"""ops: what an operator asks of a running deployment — is it alive and ready (database reachable,
migrations at head, a scheduler beating), how long the outboxes are, and the figures behind the
metrics. Reads every other wing's tables and changes none of them; imported by app/web/ops and the
scheduler. May import every wing below it (it sits beside portal, feedback and design)."""
