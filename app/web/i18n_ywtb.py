"""English UI text of the docking pages (ywtb); merged into app/web/i18n.EN."""
EN = {
    # the stages of the 办件 push (outbox payload ``stage_label``, shown on /admin/integrations)
    "申请": "Application", "受理": "Acceptance", "不予受理": "Not accepted", "补正": "Correction",
    "特别程序": "Special procedure", "特别程序结束": "Special procedure ended", "办结": "Completion",
    "送达": "Delivery",
}
