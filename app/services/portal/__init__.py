"""The applicant's side of 不见面审批: accounts (``applicants``), the public catalog and service guides
(``catalog``), drafts and submission (``applications``), the materials library (``library``),
paper-mail intake and the receipt (``intake``, ``receipts``), 一次性告知 / 补正 (``corrections``,
``correction_views``), progress (``progress``), results (``results``) and the applicant's SMS at
the key moments (``sms_moments``) — with the staff-side panels that serve them. Independent of
``feedback`` and ``design``; may import ``inbox`` and the wings below it."""
