"""What a decision is called depends on the kind of matter it decides (行政许可法 art. 38; the 备案 of
企业投资项目 is not a licence): a 备案 matter is ``filing`` (予以备案 / 不予备案), a 行政许可 (matter type 01)
``licence`` (准予许可 / 不予许可), anything else ``other`` (准予办理 / 不予办理). The disclosure records, the
sealed documents and the pages all name decisions from here."""
from __future__ import annotations

DECISIONS = {"filing": {"approved": "予以备案", "rejected": "不予备案"},
             "licence": {"approved": "准予许可", "rejected": "不予许可"},
             "other": {"approved": "准予办理", "rejected": "不予办理"}}


def matter_family(process_id: str, matter: dict | None) -> str:
    """filing | licence | other, from the matter's id and metadata (matter.json)."""
    matter = matter or {}
    result_name = (matter.get("result") or {}).get("name") or ""
    if (process_id or "").endswith("beian") or "备案" in result_name:
        return "filing"
    if str(matter.get("matter_type")) == "01":
        return "licence"
    return "other"


def decision_name(process_id: str, matter: dict | None, outcome: str) -> str:
    """予以备案 / 准予许可 / 准予办理 … for ``outcome`` approved or rejected ("" for anything else)."""
    return DECISIONS[matter_family(process_id, matter)].get(outcome, "")
