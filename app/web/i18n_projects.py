"""English UI text of the docking pages (projects); merged into app/web/i18n.EN."""
EN = {
}
