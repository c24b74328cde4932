"""Who is acting and what they may do: the ``Actor`` passed into every service (``actors``), staff
and applicant passwords with TOTP and lockout (``auth``), departments, users and roles
(``org``), SMS verification codes (``sms_codes``) and database-backed rate limits
(``rate_limit``), and the permission predicates every wing checks on the server — a task offered
to an actor, a task the actor may act on, a case the actor may read (``permissions``). May import
``messaging`` (a code is sent as an SMS) and ``common``."""
