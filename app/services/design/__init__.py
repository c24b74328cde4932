"""The process designer's work: what the designer pages show and open (``designer``), checking and
deploying what a designer posts (``deploy``), path tests of matters (``scenarios``) and moving
waiting cases to a matter's newest version (``migration``). Independent of ``portal`` and
``feedback``; may import ``inbox`` and the wings below it."""
