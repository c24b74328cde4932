"""The engine wing — named ``cases`` so it is not mistaken for ``app.engine`` (SpiffWorkflow itself):
the matter registry and its deploy checks (``registry``, ``bootstrap`` at start-up), cases from draft
to withdrawal (``lifecycle``), saving one engine step with its projections, trail and status
(``steps``), the 待办 index every step writes (``task_index``), timers fired exactly once
(``timers``), incidents (``incidents``), special procedures that suspend the statutory clock
(``special_procedures``), and the status and action hooks through which the wings above react to a
case without being imported here (``hooks``). May import ``clocks`` and the wings below it."""
