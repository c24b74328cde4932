"""English UI text of the docking pages (ywtb); merged into app/web/i18n.EN."""
EN = {
}
