"""What staff do in the 工作台 (DOMAIN.md §8): claim, complete, return and withdraw (``operations``),
transfer, delegate, cc and urge (``handover``), countersign (``signers``), an administrator's
suspend / resume / terminate (``admin_ops``), what they share — locks, refusals, the trail and the
step runner (``task_base``) — and reading a task's form (``form_fields``); the lists 待办 / 已办 /
我经手的 / 抄送 (``lists``), reading and completing tasks over the API (``tasks``) and the files
attached to a case (``case_files``). May import ``cases`` and the wings below it."""
