"""What the public says and sees after a decision: 好差评 with its rectification work items
(``evaluations``), consultations and complaints with answer deadlines (``consultations``), and 双公示
of decisions (``disclosure``, a status-hook listener). Independent of ``portal`` and ``design``; may
import ``inbox`` and the wings below it."""
