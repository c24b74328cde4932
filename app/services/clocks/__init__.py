"""Time as the law counts it: the working-day calendar, seeded from chinesecalendar and imported per
year (``calendar``), the statutory and promised deadlines of a case and of each step, with the loud
refusal when a year is missing (``deadlines``), and 电子监察 — yellow and red warnings on every limit
(``supervision``). Suspending a case's clock moves engine timers, so special procedures live in the
``cases`` wing above. May import ``identity``, ``messaging``, ``common``."""
