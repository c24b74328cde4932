"""Use cases, in wings. Each function checks permission against the actor passed in and owns its
transaction (or, where it says so, writes into the caller's).

A wing may import only the wings below it (import-linter's layers contract in pyproject.toml; the
three at the top are independent of each other):

    portal | feedback | design     the applicant portal · ratings, questions, disclosure · the designer
    inbox                          what staff do to tasks, their lists, case files
    cases                          the engine wing: matters, cases, steps, timers, incidents, hooks
    clocks                         working-day calendar, deadlines, supervision
    identity                       actors, sign-in, organisation, SMS codes, rate limits, permissions
    messaging                      the notification outbox and the SMS sender
    common                         the app clock, transaction helpers, blob storage

docs/architecture.md has the map and the path of one task completion through them."""
